package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/cohortfl/cohort/dataset"
	"github.com/cohortfl/cohort/explain"
	"github.com/cohortfl/cohort/model"
)

// ShapConfig describes the KernelSHAP measurement: an MLP trained on the
// first Features encoded columns of an embedded dataset, explained (value
// function P(class 1)) against Background rows of the same data, once in
// exact mode (all 2^Features coalitions) and Repeats times in sampled mode
// (Samples coalitions in complementary pairs, Batches batches for the
// standard errors), on the same Rows rows.
type ShapConfig struct {
	Dataset    string // embedded dataset (default "hmda")
	Features   int    // leading encoded columns kept, ≥ 2 (the size is 14)
	Hidden     int    // units of the MLP's one ReLU hidden layer
	Background int    // background rows
	Rows       int    // explained rows
	Repeats    int    // sampled explanations of each row, each with its own seed
	Samples    int    // sampled coalitions per explanation
	Batches    int    // batches of the batch-means standard error
	Seed       uint64 // data split, model initialisation and training, sampling
}

// ShapResult is the outcome of MeasureShap. Rates are explanations per
// second of wall time on one goroutine. Errors are those of the sampled
// values against the exact ones of the same row, over every feature of every
// sampled explanation.
type ShapResult struct {
	Dataset  string   `json:"dataset"`
	Features []string `json:"features"` // the encoded columns kept, in order
	Model    string   `json:"model"`
	// TrainAUC is the in-sample AUC of the trained model: a check that the
	// explained function has learnt something, not a generalisation figure.
	TrainAUC   float64 `json:"train_auc"`
	Background int     `json:"background_rows"`
	Rows       int     `json:"rows"`
	Repeats    int     `json:"repeats"`
	Samples    int     `json:"samples"`
	Batches    int     `json:"batches"`

	ExactCoalitions int     `json:"exact_coalitions"` // 2^Features
	ExactSeconds    float64 `json:"exact_seconds"`
	ExactPerSec     float64 `json:"exact_expl_per_sec"`
	SampledSeconds  float64 `json:"sampled_seconds"`
	SampledPerSec   float64 `json:"sampled_expl_per_sec"`
	// Ratio is SampledPerSec / ExactPerSec.
	Ratio float64 `json:"ratio"`

	// MeanAbsPhi is the mean |φ| of the exact values, the scale of the
	// relative errors.
	MeanAbsPhi   float64 `json:"mean_abs_phi"`
	MeanAbsError float64 `json:"mean_abs_error"`
	MaxAbsError  float64 `json:"max_abs_error"`
	RelMeanError float64 `json:"rel_mean_error"` // MeanAbsError / MeanAbsPhi
	RelMaxError  float64 `json:"rel_max_error"`  // MaxAbsError / MeanAbsPhi
	// MeanStdErr is the mean reported (batch-means) standard error.
	MeanStdErr float64 `json:"mean_std_err"`
	// WithinTwoSE is the fraction of sampled values whose true error is at
	// most twice their reported standard error; ExpectedWithinTwoSE is that
	// fraction for a calibrated estimate, P(|t| ≤ 2) with Batches − 1
	// degrees of freedom.
	WithinTwoSE         float64 `json:"within_2se"`
	ExpectedWithinTwoSE float64 `json:"expected_within_2se"`
	// MaxEfficiencyGap is the largest |Σφ − (f(x) − E[f(background)])| over
	// every explanation of both modes.
	MaxEfficiencyGap float64 `json:"max_efficiency_gap"`
}

func (c ShapConfig) validate() error {
	if c.Features < 2 {
		return fmt.Errorf("bench: shap needs at least 2 features, got %d", c.Features)
	}
	if c.Hidden < 1 || c.Background < 1 || c.Rows < 1 || c.Repeats < 1 {
		return fmt.Errorf("bench: shap needs hidden units, background rows, rows and repeats ≥ 1, got %d, %d, %d and %d",
			c.Hidden, c.Background, c.Rows, c.Repeats)
	}
	exact, sampled := c.kernelConfigs()
	if err := exact.Validate(); err != nil {
		return fmt.Errorf("bench: shap exact mode: %w", err)
	}
	if err := sampled.Validate(); err != nil {
		return fmt.Errorf("bench: shap sampled mode: %w", err)
	}
	return nil
}

// kernelConfigs returns the exact-mode (MaxExact = Features) and the
// sampled-mode (MaxExact = Features − 1) KernelSHAP configurations.
func (c ShapConfig) kernelConfigs() (exact, sampled explain.KernelConfig) {
	exact = explain.KernelConfig{MaxExact: c.Features, Samples: c.Samples, Batches: c.Batches}
	sampled = exact
	sampled.MaxExact = c.Features - 1
	return exact, sampled
}

func (c ShapConfig) dataset() string {
	if c.Dataset == "" {
		return "hmda"
	}
	return c.Dataset
}

// shapData loads the dataset, keeps its first c.Features encoded columns and
// standardises them (missing values become the mean).
func (c ShapConfig) shapData() (model.Examples, []string, string, error) {
	name := c.dataset()
	emb, err := dataset.Builtin(name)
	if err != nil {
		return model.Examples{}, nil, "", fmt.Errorf("bench: shap: %w", err)
	}
	t, err := emb.Load()
	if err != nil {
		return model.Examples{}, nil, "", fmt.Errorf("bench: shap: %w", err)
	}
	enc, err := dataset.NewEncoder(t)
	if err != nil {
		return model.Examples{}, nil, "", fmt.Errorf("bench: shap: %w", err)
	}
	all, err := enc.Encode(t)
	if err != nil {
		return model.Examples{}, nil, "", fmt.Errorf("bench: shap: %w", err)
	}
	d := c.Features
	if d > all.D {
		return model.Examples{}, nil, "", fmt.Errorf("bench: shap: %s has %d encoded features, fewer than %d", name, all.D, d)
	}
	if need := c.Background + c.Rows; need > all.N {
		return model.Examples{}, nil, "", fmt.Errorf("bench: shap: %s has %d rows, fewer than %d background + %d explained", name, all.N, c.Background, c.Rows)
	}
	x := model.Examples{X: make([]float64, all.N*d), Y: all.Y, N: all.N, D: d}
	for i := 0; i < all.N; i++ {
		copy(x.X[i*d:(i+1)*d], all.Row(i)[:d])
	}
	st, err := dataset.NewStandardizer(dataset.LocalMoments(x), d)
	if err == nil {
		err = st.Apply(&x)
	}
	if err != nil {
		return model.Examples{}, nil, "", fmt.Errorf("bench: shap: %w", err)
	}
	return x, enc.FeatureNames()[:d], name, nil
}

// MeasureShap trains the model, then times exact and sampled KernelSHAP on
// the same rows and compares their values. Explanations run one at a time.
func MeasureShap(ctx context.Context, c ShapConfig) (ShapResult, error) {
	if err := c.validate(); err != nil {
		return ShapResult{}, err
	}
	data, names, name, err := c.shapData()
	if err != nil {
		return ShapResult{}, err
	}
	d := c.Features
	spec := model.Spec{Name: model.MLP, Features: d, Classes: 2, Hidden: []int{c.Hidden}}
	m, err := model.New(spec)
	if err != nil {
		return ShapResult{}, err
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x5ba9))
	params := m.Init(rng)
	cfg := model.TrainConfig{Epochs: 10, BatchSize: 32, LearningRate: 0.01, Optimizer: model.Adam}
	if _, err := model.Train(m, params, data, cfg, rng); err != nil {
		return ShapResult{}, fmt.Errorf("bench: shap: training: %w", err)
	}
	met, err := model.Evaluate(m, params, data)
	if err != nil {
		return ShapResult{}, fmt.Errorf("bench: shap: %w", err)
	}
	f, err := explain.ProbaFunc(m, params, 1)
	if err != nil {
		return ShapResult{}, err
	}

	// Disjoint random rows: the background first, then the explained rows.
	perm := rng.Perm(data.N)
	bg := make([]float64, 0, c.Background*d)
	for _, i := range perm[:c.Background] {
		bg = append(bg, data.Row(i)...)
	}
	rows := make([][]float64, c.Rows)
	for r, i := range perm[c.Background : c.Background+c.Rows] {
		rows[r] = data.Row(i)
	}

	exactCfg, sampledCfg := c.kernelConfigs()
	kx, err := explain.NewKernel(f, bg, d, exactCfg)
	if err != nil {
		return ShapResult{}, fmt.Errorf("bench: shap: %w", err)
	}
	ks, err := explain.NewKernel(f, bg, d, sampledCfg)
	if err != nil {
		return ShapResult{}, fmt.Errorf("bench: shap: %w", err)
	}

	exact := make([]explain.Explanation, c.Rows)
	began := time.Now()
	for r, x := range rows {
		if err := ctx.Err(); err != nil {
			return ShapResult{}, err
		}
		if exact[r], err = kx.Explain(x, nil); err != nil {
			return ShapResult{}, fmt.Errorf("bench: shap: exact, row %d: %w", r, err)
		}
	}
	exactTime := time.Since(began)

	sampled := make([][]explain.Explanation, c.Rows)
	began = time.Now()
	for r, x := range rows {
		sampled[r] = make([]explain.Explanation, c.Repeats)
		for s := range sampled[r] {
			if err := ctx.Err(); err != nil {
				return ShapResult{}, err
			}
			seed := rand.New(rand.NewPCG(c.Seed, uint64(r*c.Repeats+s)))
			if sampled[r][s], err = ks.Explain(x, seed); err != nil {
				return ShapResult{}, fmt.Errorf("bench: shap: sampled, row %d: %w", r, err)
			}
		}
	}
	sampledTime := time.Since(began)

	out := ShapResult{Dataset: name, Features: names, Model: spec.String(), TrainAUC: met.AUC,
		Background: c.Background, Rows: c.Rows, Repeats: c.Repeats, Samples: c.Samples, Batches: c.Batches,
		ExactSeconds: exactTime.Seconds(), ExactPerSec: rate(c.Rows, exactTime),
		SampledSeconds: sampledTime.Seconds(), SampledPerSec: rate(c.Rows*c.Repeats, sampledTime),
		ExpectedWithinTwoSE: 2*distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(c.Batches - 1)}.CDF(2) - 1}
	if out.ExactPerSec > 0 {
		out.Ratio = out.SampledPerSec / out.ExactPerSec
	}
	if out.ExactCoalitions, err = shapCompare(&out, exact, sampled); err != nil {
		return ShapResult{}, err
	}
	return out, nil
}

// shapCompare fills the error figures of out from the exact explanations of
// each row and the sampled ones of the same rows, and returns the number of
// coalitions of an exact explanation. It fails if the explanations do not
// describe the same games (one row's Base or Value differ between the modes)
// or break the structure KernelSHAP guarantees.
func shapCompare(out *ShapResult, exact []explain.Explanation, sampled [][]explain.Explanation) (int, error) {
	var absPhi, absErr, se float64
	var n, within, phis int
	coalitions := 0
	for r, ex := range exact {
		if !ex.Exact || ex.StdErr != nil {
			return 0, fmt.Errorf("bench: shap: row %d: the exact-mode explanation is not exact", r)
		}
		if r == 0 {
			coalitions = ex.Coalitions
		}
		out.MaxEfficiencyGap = math.Max(out.MaxEfficiencyGap, math.Abs(ex.EfficiencyGap()))
		for _, p := range ex.Phi {
			absPhi += math.Abs(p)
			phis++
		}
		for s, e := range sampled[r] {
			if len(e.Phi) != len(ex.Phi) || len(e.StdErr) != len(ex.Phi) {
				return 0, fmt.Errorf("bench: shap: row %d, repeat %d: %d values and %d standard errors for %d features",
					r, s, len(e.Phi), len(e.StdErr), len(ex.Phi))
			}
			if e.Base != ex.Base || e.Value != ex.Value {
				return 0, fmt.Errorf("bench: shap: row %d, repeat %d: base/value %g/%g sampled, %g/%g exact: not the same game",
					r, s, e.Base, e.Value, ex.Base, ex.Value)
			}
			out.MaxEfficiencyGap = math.Max(out.MaxEfficiencyGap, math.Abs(e.EfficiencyGap()))
			for i, p := range e.Phi {
				err := math.Abs(p - ex.Phi[i])
				absErr += err
				out.MaxAbsError = math.Max(out.MaxAbsError, err)
				se += e.StdErr[i]
				if err <= 2*e.StdErr[i] {
					within++
				}
				n++
			}
		}
	}
	if phis == 0 || n == 0 {
		return 0, fmt.Errorf("bench: shap: nothing to compare (%d exact values, %d sampled)", phis, n)
	}
	out.MeanAbsPhi = absPhi / float64(phis)
	out.MeanAbsError = absErr / float64(n)
	out.MeanStdErr = se / float64(n)
	out.WithinTwoSE = float64(within) / float64(n)
	if out.MeanAbsPhi > 0 {
		out.RelMeanError = out.MeanAbsError / out.MeanAbsPhi
		out.RelMaxError = out.MaxAbsError / out.MeanAbsPhi
	}
	return coalitions, nil
}
