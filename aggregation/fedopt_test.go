package aggregation

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

// refStep is an independent transcription of Reddi et al. 2021, Algorithm 2,
// for one coordinate: it returns the new x, m, v.
func refStep(variant string, x, m, v, delta, eta, b1, b2, tau float64) (float64, float64, float64) {
	m = b1*m + (1-b1)*delta
	switch variant {
	case NameFedAdagrad:
		v = v + delta*delta
	case NameFedYogi:
		if v > delta*delta {
			v = v - (1-b2)*delta*delta
		} else if v < delta*delta {
			v = v + (1-b2)*delta*delta
		}
	case NameFedAdam:
		v = b2*v + (1-b2)*delta*delta
	}
	return x + eta*m/(math.Sqrt(v)+tau), m, v
}

func TestFedOptTwoRoundsMatchReference(t *testing.T) {
	const eta, b1, b2, tau = 0.05, 0.8, 0.95, 0.02
	global := []float64{0.5, -1, 0, 2}
	// Round 1 moves have Δ² > v₀ = τ², round 2 mixes large and tiny Δ so
	// Yogi takes both branches (v − Δ² of either sign).
	rounds := [][][]float64{
		{{0.3, -0.2, 0.1, 0.0}, {0.1, -0.4, 0.3, 0.2}},
		{{0.001, 0.5, -0.002, -0.3}, {-0.001, 0.3, 0.002, -0.1}},
	}
	weights := []int64{1, 3}
	for _, name := range []string{NameFedAdam, NameFedYogi, NameFedAdagrad} {
		s, err := New(name, Options{ServerLR: eta, Beta1: b1, Beta2: b2, Tau: tau})
		if err != nil {
			t.Fatal(err)
		}
		x := append([]float64(nil), global...)
		refX := append([]float64(nil), global...)
		refM := make([]float64, len(global))
		refV := []float64{tau * tau, tau * tau, tau * tau, tau * tau}
		for r, ups := range rounds {
			agg := s.NewAggregator(r+1, x)
			for c, d := range ups {
				if err := agg.Add(Update{Client: fmt.Sprint(c), Delta: d, NumExamples: weights[c]}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := agg.Result()
			if err != nil {
				t.Fatal(err)
			}
			for i := range refX {
				mean := (1*ups[0][i] + 3*ups[1][i]) / 4
				refX[i], refM[i], refV[i] = refStep(name, refX[i], refM[i], refV[i], mean, eta, b1, b2, tau)
				if !closeRel(got[i], refX[i], 1e-12) {
					t.Errorf("%s round %d coordinate %d = %.17g, want %.17g", name, r+1, i, got[i], refX[i])
				}
			}
			x = got
		}
	}
}

// TestFedAdamHandValue: one coordinate, Δ = 1, β1 = 0.9, β2 = 0.99, τ = 1e-3,
// η = 0.1: m = 0.1, v = 0.99·1e-6 + 0.01 = 0.01000099, so the step is
// 0.1·0.1/(√0.01000099 + 0.001) = 0.0990050..., worked out by hand to 6 digits.
func TestFedAdamHandValue(t *testing.T) {
	s, _ := New(NameFedAdam, Options{})
	got, err := s.(MeanStrategy).ApplyMean(1, []float64{0}, []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got[0]-0.0990050) > 1e-6 {
		t.Errorf("step = %v, want 0.0990050", got[0])
	}
}

// A failed step (wrong dimension, non-finite mean, overflow) must return the
// matching sentinel and not touch the optimiser state: the next good round
// equals the same round on a strategy that never saw the failures.
func TestFedOptStateUnchangedOnError(t *testing.T) {
	for _, name := range []string{NameFedAdam, NameFedYogi, NameFedAdagrad} {
		a, _ := New(name, Options{})
		b, _ := New(name, Options{})
		ma, mb := a.(MeanStrategy), b.(MeanStrategy)
		g := []float64{1, 2}
		d := []float64{0.3, -0.1}
		ra, errA := ma.ApplyMean(1, g, d)
		rb, errB := mb.ApplyMean(1, g, d)
		if errA != nil || errB != nil {
			t.Fatalf("%s: ApplyMean: %v, %v", name, errA, errB)
		}
		for _, tc := range []struct {
			what         string
			global, mean []float64
			want         error
		}{
			{"a new dimension", []float64{1, 2, 3}, []float64{1, 1, 1}, ErrWrongLength},
			{"mismatched lengths", ra, []float64{1}, ErrWrongLength},
			{"a NaN mean", ra, []float64{0.1, math.NaN()}, ErrNotFinite},
			{"an infinite mean", ra, []float64{math.Inf(1), 0.1}, ErrNotFinite},
			{"an overflowing Δ²", ra, []float64{0.5, math.MaxFloat64}, ErrNotFinite},
		} {
			got, err := ma.ApplyMean(2, tc.global, tc.mean)
			if got != nil || !errors.Is(err, tc.want) {
				t.Errorf("%s: ApplyMean with %s = %v, %v; want nil and an error wrapping %v", name, tc.what, got, err, tc.want)
			}
		}
		ra, errA = ma.ApplyMean(2, ra, d)
		rb, errB = mb.ApplyMean(2, rb, d)
		if errA != nil || errB != nil {
			t.Fatalf("%s: ApplyMean: %v, %v", name, errA, errB)
		}
		for i := range ra {
			if ra[i] != rb[i] {
				t.Errorf("%s: after rejected steps, coordinate %d = %v, want %v", name, i, ra[i], rb[i])
			}
		}
	}
}
