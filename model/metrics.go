package model

import (
	"fmt"
	"math"
	"slices"
)

// maxBins bounds EvalCounts histograms so a bad request cannot exhaust memory.
const maxBins = 1 << 20

// Metrics are the centralised evaluation results of a model on a data set.
// Sample weights are ignored: every row counts once.
type Metrics struct {
	N        int     // rows evaluated
	Loss     float64 // mean negative log-likelihood (log-loss) per row; NaN if N = 0
	Accuracy float64 // fraction of rows whose arg-max class (lowest index on ties) is the label; NaN if N = 0
	AUC      float64 // binary models: ROC AUC of P(class 1), exact with ties averaged; NaN for K > 2 or when a class is absent
}

// Evaluate computes Metrics for params on data after validating both (Check).
// The loss is computed from logits with the same stable formulas as training,
// so it is finite even for confident wrong predictions.
func Evaluate(m Model, params []float64, data Examples) (Metrics, error) {
	if m == nil {
		return Metrics{}, fmt.Errorf("%w: nil model", ErrInvalidSpec)
	}
	if err := Check(m, params, data); err != nil {
		return Metrics{}, fmt.Errorf("evaluate %s: %w", m.Name(), err)
	}
	nan := math.NaN()
	if data.N == 0 {
		return Metrics{Loss: nan, Accuracy: nan, AUC: nan}, nil
	}
	unweighted := data
	unweighted.W = nil
	idx := make([]int, data.N)
	for i := range idx {
		idx[i] = i
	}
	lossSum, _ := m.LossGrad(params, unweighted, idx, nil)

	k := m.NumClasses()
	out := make([]float64, k)
	var scores []float64
	if k == 2 {
		scores = make([]float64, data.N)
	}
	correct := 0
	for i := 0; i < data.N; i++ {
		m.PredictProba(params, data.Row(i), out)
		if argmax(out) == data.Y[i] {
			correct++
		}
		if scores != nil {
			scores[i] = out[1]
		}
	}
	auc := nan
	if scores != nil {
		auc = ExactAUC(scores, data.Y)
	}
	return Metrics{
		N:        data.N,
		Loss:     lossSum / float64(data.N),
		Accuracy: float64(correct) / float64(data.N),
		AUC:      auc,
	}, nil
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Counts are additive evaluation statistics for federated evaluation: each
// site computes its Counts with EvalCounts, the Counts are summed (securely or
// with Add), and the summed Counts yield global loss, accuracy and histogram AUC.
// Every field is a sum over rows, so sums of Counts equal the Counts of the
// union of the data sets. Sample weights are ignored.
type Counts struct {
	N       int64
	LossSum float64 // Σ negative log-likelihood
	Correct int64   // rows whose arg-max class equals the label
	// PosHist[b] and NegHist[b] count rows with label 1 and 0 whose P(class 1)
	// falls in bin b of `bins` equal bins over [0,1] (bin b = [b/bins, (b+1)/bins),
	// with 1 in the last bin). Nil for models with more than two classes.
	PosHist, NegHist []float64
}

// Add adds other into c. Histograms must have equal lengths unless one side
// has none (the zero Counts is the identity).
func (c *Counts) Add(other Counts) error {
	if len(other.PosHist) != len(other.NegHist) || len(c.PosHist) != len(c.NegHist) {
		return fmt.Errorf("%w: counts with mismatched positive/negative histograms", ErrInvalidData)
	}
	if c.PosHist != nil && other.PosHist != nil && len(c.PosHist) != len(other.PosHist) {
		return fmt.Errorf("%w: cannot add counts with %d bins to counts with %d bins", ErrInvalidData, len(other.PosHist), len(c.PosHist))
	}
	c.N += other.N
	c.LossSum += other.LossSum
	c.Correct += other.Correct
	if other.PosHist == nil {
		return nil
	}
	if c.PosHist == nil {
		c.PosHist = make([]float64, len(other.PosHist))
		c.NegHist = make([]float64, len(other.NegHist))
	}
	for b := range other.PosHist {
		c.PosHist[b] += other.PosHist[b]
		c.NegHist[b] += other.NegHist[b]
	}
	return nil
}

// Loss returns the mean log-loss (NaN when N = 0).
func (c Counts) Loss() float64 {
	if c.N == 0 {
		return math.NaN()
	}
	return c.LossSum / float64(c.N)
}

// Accuracy returns Correct/N (NaN when N = 0).
func (c Counts) Accuracy() float64 {
	if c.N == 0 {
		return math.NaN()
	}
	return float64(c.Correct) / float64(c.N)
}

// AUC returns HistAUC(c.PosHist, c.NegHist).
func (c Counts) AUC() float64 { return HistAUC(c.PosHist, c.NegHist) }

// EvalCounts computes the additive evaluation Counts of params on data, with
// bins histogram bins (1 ≤ bins ≤ 2^20) for binary models.
func EvalCounts(m Model, params []float64, data Examples, bins int) (Counts, error) {
	if m == nil {
		return Counts{}, fmt.Errorf("%w: nil model", ErrInvalidSpec)
	}
	if bins < 1 || bins > maxBins {
		return Counts{}, fmt.Errorf("eval counts %s: %w: bins must be in [1,%d], got %d", m.Name(), ErrInvalidConfig, maxBins, bins)
	}
	if err := Check(m, params, data); err != nil {
		return Counts{}, fmt.Errorf("eval counts %s: %w", m.Name(), err)
	}
	k := m.NumClasses()
	c := Counts{N: int64(data.N)}
	if k == 2 {
		c.PosHist = make([]float64, bins)
		c.NegHist = make([]float64, bins)
	}
	unweighted := data
	unweighted.W = nil
	out := make([]float64, k)
	idx := make([]int, data.N)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < data.N; i++ {
		loss, _ := m.LossGrad(params, unweighted, idx[i:i+1], nil)
		c.LossSum += loss
		m.PredictProba(params, data.Row(i), out)
		if argmax(out) == data.Y[i] {
			c.Correct++
		}
		if k == 2 {
			b := min(max(int(out[1]*float64(bins)), 0), bins-1)
			if data.Y[i] == 1 {
				c.PosHist[b]++
			} else {
				c.NegHist[b]++
			}
		}
	}
	return c, nil
}

// HistAUC returns the ROC AUC implied by histograms of scores for positive and
// negative examples over the same ordered bins: the probability that a random
// positive lands in a higher bin than a random negative, counting a shared bin
// as 1/2. It is NaN if the lengths differ, any count is negative or non-finite,
// or either histogram is empty. As bins get finer it converges to ExactAUC.
func HistAUC(pos, neg []float64) float64 {
	if len(pos) != len(neg) {
		return math.NaN()
	}
	var np, nn float64
	for b := range pos {
		if !(pos[b] >= 0) || !(neg[b] >= 0) || math.IsInf(pos[b], 0) || math.IsInf(neg[b], 0) {
			return math.NaN()
		}
		np += pos[b]
		nn += neg[b]
	}
	if np == 0 || nn == 0 {
		return math.NaN()
	}
	below, u := 0.0, 0.0
	for b := range pos {
		u += pos[b] * (below + neg[b]/2)
		below += neg[b]
	}
	return u / (np * nn)
}

// ExactAUC returns the ROC AUC of scores for binary labels (1 positive, 0
// negative) by the Mann–Whitney statistic with average ranks for ties, i.e.
// P(s+ > s−) + P(s+ = s−)/2 over all positive–negative pairs, in O(n log n).
// It is NaN if the lengths differ, a label is not 0 or 1, a score is NaN, or
// either class is absent. scores and labels are not modified.
func ExactAUC(scores []float64, labels []int) float64 {
	if len(scores) != len(labels) {
		return math.NaN()
	}
	var np, nn float64
	for i, y := range labels {
		if (y != 0 && y != 1) || math.IsNaN(scores[i]) {
			return math.NaN()
		}
		if y == 1 {
			np++
		} else {
			nn++
		}
	}
	if np == 0 || nn == 0 {
		return math.NaN()
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case scores[a] < scores[b]:
			return -1
		case scores[a] > scores[b]:
			return 1
		}
		return 0
	})
	rankSum := 0.0 // Σ 1-based ranks of positives, ties given their average rank
	for start := 0; start < len(order); {
		end := start + 1
		for end < len(order) && scores[order[end]] == scores[order[start]] {
			end++
		}
		avg := float64(start+1+end) / 2 // mean of ranks start+1 .. end
		for _, i := range order[start:end] {
			if labels[i] == 1 {
				rankSum += avg
			}
		}
		start = end
	}
	return (rankSum - np*(np+1)/2) / (np * nn)
}
