package accountant

import (
	"fmt"
	"math"
	"testing"
)

// With q = 1, T steps at noise σ compose to one Gaussian mechanism with
// μ = √T/σ, whose exact curve is known in closed form.
func TestFullBatchMatchesExactGaussian(t *testing.T) {
	const delta = 1e-5
	sigmas := []float64{0.5, 0.8, 1, 2, 3.3, 5}
	steps := []int{1, 10, 25, 100, 400, 1000, 2500, 10000}
	rdp := newRDP(t)
	pld := newPLD(t)
	for _, s := range sigmas {
		for _, T := range steps {
			mu := math.Sqrt(float64(T)) / s
			if mu > 10 || (testing.Short() && mu > 4) {
				continue // -short skips the widest (slowest) FFT windows
			}
			t.Run(fmt.Sprintf("sigma=%g/T=%d", s, T), func(t *testing.T) {
				t.Parallel()
				events := []Event{{Q: 1, Sigma: s, Steps: T}}
				exact := gaussianEpsilon(t, mu, delta)

				got, err := pld.Epsilon(events, delta)
				if err != nil {
					t.Fatal(err)
				}
				if rel := (got - exact) / exact; math.Abs(rel) > 1e-3 {
					t.Errorf("PLD ε = %.6f; exact %.6f (rel %.2e > 1e-3)", got, exact, rel)
				}
				// Connect-the-dots is pessimistic: never below the exact
				// curve beyond floating-point noise.
				if got < exact*(1-1e-9) {
					t.Errorf("PLD ε = %.9f below exact %.9f", got, exact)
				}
				d, err := pld.Delta(events, exact)
				if err != nil {
					t.Fatal(err)
				}
				if rel := (d - delta) / delta; rel < -1e-9 || rel > 1e-3 {
					t.Errorf("PLD δ(%.6f) = %.6g; exact %g", exact, d, delta)
				}

				curve, err := rdp.Curve(events)
				if err != nil {
					t.Fatal(err)
				}
				for i, a := range rdp.Orders() {
					if want := a / (2 * s * s) * float64(T); curve[i] != want {
						t.Fatalf("RDP(α=%g) = %v; want α/(2σ²)·T = %v", a, curve[i], want)
					}
				}
				re, err := rdp.Epsilon(events, delta)
				if err != nil {
					t.Fatal(err)
				}
				if re < exact {
					t.Errorf("RDP ε = %.6f below exact %.6f", re, exact)
				}
			})
		}
	}
}

// Heterogeneous full-batch Gaussians compose to one Gaussian with
// μ² = Σ T_i/σ_i², so the heterogeneous composition has an exact answer too.
func TestHeterogeneousGaussiansMatchExact(t *testing.T) {
	const delta = 1e-5
	events := []Event{{Q: 1, Sigma: 2, Steps: 150}, {Q: 1, Sigma: 3.5, Steps: 400}, {Q: 1, Sigma: 1.2, Steps: 7}}
	var mu2 float64
	for _, e := range events {
		mu2 += float64(e.Steps) / (e.Sigma * e.Sigma)
	}
	exact := gaussianEpsilon(t, math.Sqrt(mu2), delta)
	got, err := newPLD(t).Epsilon(events, delta)
	if err != nil {
		t.Fatal(err)
	}
	if rel := (got - exact) / exact; math.Abs(rel) > 1e-3 {
		t.Errorf("PLD ε = %.6f; exact %.6f (rel %.2e)", got, exact, rel)
	}
	rdp := newRDP(t)
	curve, err := rdp.Curve(events)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range rdp.Orders() {
		if want := a * mu2 / 2; math.Abs(curve[i]-want) > 1e-12*want {
			t.Fatalf("RDP(α=%g) = %v; want α·μ²/2 = %v", a, curve[i], want)
		}
	}
}
