package explain_test

import (
	"errors"
	"math"
	"testing"

	"github.com/cohortfl/cohort/explain"
	"github.com/cohortfl/cohort/model"
)

// synth draws y ~ Bernoulli(σ(3·x0 − 1.5·x1)) with x2 pure noise.
func synth(seed uint64, n int) model.Examples {
	rng := newRNG(seed)
	d := 3
	ex := model.Examples{X: randRows(rng, n, d), Y: make([]int, n), N: n, D: d}
	for i := 0; i < n; i++ {
		z := 3*ex.X[i*d] - 1.5*ex.X[i*d+1]
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			ex.Y[i] = 1
		}
	}
	return ex
}

func TestPermutationImportanceTrueModel(t *testing.T) {
	data := synth(1, 2000)
	m, _ := model.New(model.Spec{Name: model.LogReg, Features: 3, Classes: 2})
	params := []float64{3, -1.5, 0, 0} // w2 = 0: permuting x2 cannot change any prediction
	for _, metric := range []explain.Metric{explain.Accuracy, explain.LogLoss} {
		cfg := explain.PermutationConfig{Repeats: 4, Metric: metric}
		imp, err := explain.PermutationImportance(m, params, data, cfg, newRNG(2))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: baseline %.4f, importance %.4f ± %.4f", metric, imp.Baseline, imp.Mean, imp.Std)
		if imp.Mean[2] != 0 || imp.Std[2] != 0 {
			t.Errorf("%s: irrelevant feature importance %g ± %g, want exactly 0", metric, imp.Mean[2], imp.Std[2])
		}
		if !(imp.Mean[0] > imp.Mean[1] && imp.Mean[1] > 0.02) {
			t.Errorf("%s: importance %v, want x0 > x1 > 0.02", metric, imp.Mean)
		}
		met, err := model.Evaluate(m, params, data)
		if err != nil {
			t.Fatal(err)
		}
		want := met.Loss
		if metric == explain.Accuracy {
			want = met.Accuracy
		}
		if math.Abs(imp.Baseline-want) > 1e-12 {
			t.Errorf("%s: baseline %g, model.Evaluate gives %g", metric, imp.Baseline, want)
		}
	}
}

// A trained model gives the noise feature a small weight; its importance must
// be negligible next to the real features. Permuting a feature with weight w
// and unit variance raises the mean log-loss by about w²·E[p(1−p)] ≤ w²/4
// (second order in the shift w·(x' − x) of the logit, whose variance is 2w²),
// so a fitted |w2| ≲ 0.1 costs at most ≈ 0.005, against ≈ 0.9 for x0.
func TestPermutationImportanceTrainedModel(t *testing.T) {
	data := synth(5, 4000)
	m, _ := model.New(model.Spec{Name: model.LogReg, Features: 3, Classes: 2})
	params := m.Init(newRNG(0))
	cfg := model.DefaultTrainConfig()
	cfg.Epochs = 20
	if _, err := model.Train(m, params, data, cfg, newRNG(6)); err != nil {
		t.Fatal(err)
	}
	imp, err := explain.PermutationImportance(m, params, data, explain.DefaultPermutationConfig(), newRNG(7))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained w = %.3f, log-loss importance %.4f ± %.4f", params[:3], imp.Mean, imp.Std)
	if math.Abs(imp.Mean[2]) > 0.005 {
		t.Errorf("noise feature importance %g, want |·| ≤ 0.005", imp.Mean[2])
	}
	if imp.Mean[0] < 0.1 || imp.Mean[1] < 0.02 {
		t.Errorf("importance %v: real features should matter", imp.Mean)
	}
	// Data must be left untouched.
	again := synth(5, 4000)
	for i := range again.X {
		if again.X[i] != data.X[i] {
			t.Fatalf("data.X[%d] modified", i)
		}
	}
}

func TestPermutationImportanceErrors(t *testing.T) {
	m, _ := model.New(model.Spec{Name: model.LogReg, Features: 3, Classes: 2})
	p := make([]float64, 4)
	data := synth(1, 10)
	good := explain.DefaultPermutationConfig()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"nil model", func() error {
			_, err := explain.PermutationImportance(nil, p, data, good, newRNG(1))
			return err
		}(), explain.ErrInvalidInput},
		{"nil rng", func() error { _, err := explain.PermutationImportance(m, p, data, good, nil); return err }(), explain.ErrInvalidInput},
		{"zero repeats", func() error {
			_, err := explain.PermutationImportance(m, p, data, explain.PermutationConfig{Metric: explain.LogLoss}, newRNG(1))
			return err
		}(), explain.ErrInvalidConfig},
		{"bad metric", func() error {
			_, err := explain.PermutationImportance(m, p, data, explain.PermutationConfig{Repeats: 1, Metric: "auc"}, newRNG(1))
			return err
		}(), explain.ErrInvalidConfig},
		{"short params", func() error {
			_, err := explain.PermutationImportance(m, p[:3], data, good, newRNG(1))
			return err
		}(), model.ErrInvalidParams},
		{"bad label", func() error {
			bad := synth(1, 10)
			bad.Y[3] = 7
			_, err := explain.PermutationImportance(m, p, bad, good, newRNG(1))
			return err
		}(), model.ErrInvalidData},
		{"no rows", func() error {
			_, err := explain.PermutationImportance(m, p, model.Examples{D: 3}, good, newRNG(1))
			return err
		}(), explain.ErrInvalidInput},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) || !errors.Is(c.err, explain.ErrInvalidInput) && !errors.Is(c.err, explain.ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want %v and an explain sentinel", c.name, c.err, c.want)
		}
	}
}
