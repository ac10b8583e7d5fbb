package accountant

import (
	"errors"
	"math"
	"testing"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func TestBadInputsRejected(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	good := Event{Q: 0.01, Sigma: 1, Steps: 10}
	badEvents := map[string]Event{
		"q<0":       {Q: -0.1, Sigma: 1, Steps: 1},
		"q>1":       {Q: 1.5, Sigma: 1, Steps: 1},
		"q NaN":     {Q: nan, Sigma: 1, Steps: 1},
		"σ=0":       {Q: 0.1, Sigma: 0, Steps: 1},
		"σ<0":       {Q: 0.1, Sigma: -1, Steps: 1},
		"σ NaN":     {Q: 0.1, Sigma: nan, Steps: 1},
		"σ Inf":     {Q: 0.1, Sigma: inf, Steps: 1},
		"steps<0":   {Q: 0.1, Sigma: 1, Steps: -1},
		"steps>max": {Q: 0.1, Sigma: 1, Steps: maxSteps + 1},
	}
	for name, acc := range map[string]Accountant{"RDP": newRDP(t), "PLD": newPLD(t)} {
		for ename, e := range badEvents {
			if v, err := acc.Epsilon([]Event{good, e}, 1e-5); !errorsIs(err, ErrInvalidInput) || v != 0 {
				t.Errorf("%s.Epsilon(%s) = %v, %v; want 0, ErrInvalidInput", name, ename, v, err)
			}
			if v, err := acc.Delta([]Event{e}, 1); !errorsIs(err, ErrInvalidInput) || v != 0 {
				t.Errorf("%s.Delta(%s) = %v, %v; want 0, ErrInvalidInput", name, ename, v, err)
			}
		}
		for _, d := range []float64{0, 1, -1e-5, 2, nan, inf} {
			if v, err := acc.Epsilon([]Event{good}, d); !errorsIs(err, ErrInvalidInput) || v != 0 {
				t.Errorf("%s.Epsilon(δ=%v) = %v, %v; want 0, ErrInvalidInput", name, d, v, err)
			}
		}
		for _, e := range []float64{-1, nan, inf} {
			if v, err := acc.Delta([]Event{good}, e); !errorsIs(err, ErrInvalidInput) || v != 0 {
				t.Errorf("%s.Delta(ε=%v) = %v, %v; want 0, ErrInvalidInput", name, e, v, err)
			}
		}
	}

	r := newRDP(t)
	sigmaCases := []struct {
		name          string
		acc           Accountant
		q             float64
		steps         int
		target, delta float64
	}{
		{"nil acc", nil, 0.1, 10, 1, 1e-5},
		{"q NaN", r, nan, 10, 1, 1e-5},
		{"q>1", r, 1.1, 10, 1, 1e-5},
		{"steps<0", r, 0.1, -1, 1, 1e-5},
		{"target<0", r, 0.1, 10, -1, 1e-5},
		{"target NaN", r, 0.1, 10, nan, 1e-5},
		{"δ=0", r, 0.1, 10, 1, 0},
		{"δ NaN", r, 0.1, 10, 1, nan},
	}
	for _, c := range sigmaCases {
		if v, err := SigmaFor(c.acc, c.q, c.steps, c.target, c.delta); !errorsIs(err, ErrInvalidInput) || v != 0 {
			t.Errorf("SigmaFor(%s) = %v, %v; want 0, ErrInvalidInput", c.name, v, err)
		}
	}

	for _, o := range [][]float64{{1}, {0.5}, {2, nan}, {inf}, {MaxOrder * 2}} {
		if acc, err := NewRDP(o); !errorsIs(err, ErrInvalidInput) || acc != nil {
			t.Errorf("NewRDP(%v) = %v, %v; want nil, ErrInvalidInput", o, acc, err)
		}
	}
	for _, a := range []float64{1, 0.5, nan, inf} {
		if v, err := SampledGaussianRDP(0.1, 1, a); !errorsIs(err, ErrInvalidInput) || v != 0 {
			t.Errorf("SampledGaussianRDP(α=%v) = %v, %v; want 0, ErrInvalidInput", a, v, err)
		}
	}
	mut := []func(*PLDConfig){
		func(c *PLDConfig) { c.Discretization = 0 },
		func(c *PLDConfig) { c.Discretization = nan },
		func(c *PLDConfig) { c.TailMass = 0 },
		func(c *PLDConfig) { c.TailMass = 0.1 },
		func(c *PLDConfig) { c.MaxBins = 1 },
	}
	for i, m := range mut {
		cfg := DefaultPLDConfig()
		m(&cfg)
		if p, err := NewPLD(cfg); !errorsIs(err, ErrInvalidInput) || p != nil {
			t.Errorf("NewPLD(mutation %d: %+v) = %v, %v; want nil, ErrInvalidInput", i, cfg, p, err)
		}
	}
	if _, err := (&LossDistribution{}).Epsilon(nan); !errorsIs(err, ErrInvalidInput) {
		t.Errorf("LossDistribution.Epsilon(NaN): err = %v", err)
	}
}

func TestInputErrorMessage(t *testing.T) {
	_, err := newRDP(t).Epsilon([]Event{{Q: 0.1, Sigma: 1, Steps: 1}, {Q: 0.1, Sigma: math.NaN(), Steps: 1}}, 1e-5)
	want := "accountant: RDP.Epsilon: events[1].Sigma = NaN, want finite and > 0"
	if err == nil || err.Error() != want {
		t.Errorf("error = %q; want %q", err, want)
	}
}
