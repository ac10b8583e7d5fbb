package explain

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/cohortfl/cohort/model"
)

// Metric selects the score permutation importance degrades.
type Metric string

// Metrics accepted by PermutationConfig.Metric.
const (
	Accuracy Metric = "accuracy" // importance = baseline accuracy − permuted accuracy
	LogLoss  Metric = "logloss"  // importance = permuted mean log-loss − baseline mean log-loss
)

const maxRepeats = 1 << 16

// PermutationConfig controls PermutationImportance.
type PermutationConfig struct {
	Repeats int    // independent permutations per feature, 1..65536
	Metric  Metric // Accuracy or LogLoss
}

// DefaultPermutationConfig uses 5 repeats of the log-loss, which, unlike
// accuracy, also registers changes that do not flip the arg-max class.
func DefaultPermutationConfig() PermutationConfig {
	return PermutationConfig{Repeats: 5, Metric: LogLoss}
}

// Validate reports whether the configuration is usable.
func (c PermutationConfig) Validate() error {
	if c.Repeats < 1 || c.Repeats > maxRepeats {
		return fmt.Errorf("%w: Repeats = %d, want 1..%d", ErrInvalidConfig, c.Repeats, maxRepeats)
	}
	if c.Metric != Accuracy && c.Metric != LogLoss {
		return fmt.Errorf("%w: unknown metric %q (want %q or %q)", ErrInvalidConfig, c.Metric, Accuracy, LogLoss)
	}
	return nil
}

// PermImportance is the result of PermutationImportance. Larger means more
// important for both metrics; values near zero (or negative, by chance) mean
// the model does not rely on the feature.
type PermImportance struct {
	Metric   Metric
	Baseline float64   // score on the unpermuted data
	Mean     []float64 // mean degradation per feature over the repeats
	Std      []float64 // sample standard deviation over the repeats (0 when Repeats = 1)
	Repeats  int
}

// PermutationImportance measures, for each feature j, how much the score of
// m with params on data degrades when column j is shuffled across rows
// (breaking its link to the label and the other features while keeping its
// marginal), averaged over cfg.Repeats shuffles. Sample weights are ignored,
// as in model.Evaluate; accuracy uses the arg-max class with ties to the
// lowest index. The rng drives the shuffles (feature by feature, repeat by
// repeat), so a seeded rng gives reproducible results; data is not modified.
func PermutationImportance(m model.Model, params []float64, data model.Examples, cfg PermutationConfig, rng *rand.Rand) (PermImportance, error) {
	if m == nil {
		return PermImportance{}, fmt.Errorf("permutation importance: %w: nil model", ErrInvalidInput)
	}
	if err := cfg.Validate(); err != nil {
		return PermImportance{}, fmt.Errorf("permutation importance: %w", err)
	}
	if rng == nil {
		return PermImportance{}, fmt.Errorf("permutation importance: %w: nil rng", ErrInvalidInput)
	}
	if err := model.Check(m, params, data); err != nil {
		return PermImportance{}, fmt.Errorf("permutation importance: %w: %w", ErrInvalidInput, err)
	}
	if data.N == 0 {
		return PermImportance{}, fmt.Errorf("permutation importance: %w: no rows", ErrInvalidInput)
	}
	work := model.Examples{X: append([]float64(nil), data.X...), Y: data.Y, N: data.N, D: data.D}
	sc := newScorer(m, params, work, cfg.Metric)
	base := sc.score()
	res := PermImportance{Metric: cfg.Metric, Baseline: base, Mean: make([]float64, data.D), Std: make([]float64, data.D), Repeats: cfg.Repeats}
	col := make([]float64, data.N)
	drops := make([]float64, cfg.Repeats)
	for j := 0; j < data.D; j++ {
		for i := range col {
			col[i] = data.X[i*data.D+j]
		}
		for r := range drops {
			rng.Shuffle(len(col), func(a, b int) { col[a], col[b] = col[b], col[a] })
			for i, v := range col {
				work.X[i*data.D+j] = v
			}
			s := sc.score()
			if cfg.Metric == Accuracy {
				drops[r] = base - s
			} else {
				drops[r] = s - base
			}
		}
		for i := 0; i < data.N; i++ { // restore the column
			work.X[i*data.D+j] = data.X[i*data.D+j]
		}
		res.Mean[j], res.Std[j] = meanStd(drops)
	}
	return res, nil
}

// scorer evaluates accuracy or mean log-loss of a fixed model on work, whose
// X is mutated between calls.
type scorer struct {
	m      model.Model
	params []float64
	data   model.Examples
	metric Metric
	idx    []int
	out    []float64
}

func newScorer(m model.Model, params []float64, data model.Examples, metric Metric) *scorer {
	idx := make([]int, data.N)
	for i := range idx {
		idx[i] = i
	}
	return &scorer{m: m, params: params, data: data, metric: metric, idx: idx, out: make([]float64, m.NumClasses())}
}

func (s *scorer) score() float64 {
	if s.metric == LogLoss {
		loss, _ := s.m.LossGrad(s.params, s.data, s.idx, nil)
		return loss / float64(s.data.N)
	}
	correct := 0
	for i := 0; i < s.data.N; i++ {
		s.m.PredictProba(s.params, s.data.Row(i), s.out)
		best := 0
		for c, p := range s.out {
			if p > s.out[best] {
				best = c
			}
		}
		if best == s.data.Y[i] {
			correct++
		}
	}
	return float64(correct) / float64(s.data.N)
}

func meanStd(v []float64) (mean, std float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}
