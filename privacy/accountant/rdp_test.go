package accountant

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
)

// DP-SGD on MNIST (Abadi et al. 2016 setting as used in dp_accounting's and
// TF-Privacy's tutorials): q = 256/60000, σ = 1.1, 14,063 steps (60 epochs),
// δ = 1e-5. dp_accounting's RDP accountant reports ε ≈ 2.60.
func TestRDPMNIST(t *testing.T) {
	const want, tol = 2.60, 0.02
	for _, tc := range []struct {
		name   string
		orders []float64
	}{{"default orders", nil}, {"dp_accounting orders", dpAccountingOrders()}} {
		r, err := NewRDP(tc.orders)
		if err != nil {
			t.Fatal(err)
		}
		eps, order, err := r.EpsilonOrder(mnist, 1e-5)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: ε = %.4f at α = %g", tc.name, eps, order)
		if math.Abs(eps-want) > tol {
			t.Errorf("%s: Epsilon(MNIST) = %.4f; want %.2f ± %.2f", tc.name, eps, want, tol)
		}
	}
}

// At q = 0.1, σ = 1, 10⁴ steps, δ = 1e-5 the exact per-order divergences give
// ε ≈ 134.5 (dp_accounting's fractional-order code, which adds the
// alternating terms' magnitudes, reports ≈ 170).
func TestRDPLongCompositionFractionalOrders(t *testing.T) {
	r, err := NewRDP(dpAccountingOrders())
	if err != nil {
		t.Fatal(err)
	}
	eps, order, err := r.EpsilonOrder([]Event{{Q: 0.1, Sigma: 1, Steps: 10000}}, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(eps-134.5) > 0.1 || order == math.Trunc(order) {
		t.Errorf("Epsilon = %.3f at α = %g; want 134.5 ± 0.1 at a fractional order", eps, order)
	}
}

// quadLogA integrates A_α = ∫ N(z; 0, σ²) (1-q+q e^{(2z-1)/(2σ²)})^α dz with
// gonum's fixed Gauss–Legendre rule on 400 sub-intervals of
// [-20σ, α+20σ], directly (not in log space).
func quadLogA(q, sigma, alpha float64) float64 {
	f := func(z float64) float64 {
		g := math.Exp(-z*z/(2*sigma*sigma)) / (sigma * math.Sqrt(2*math.Pi))
		return g * math.Pow(1-q+q*math.Exp((2*z-1)/(2*sigma*sigma)), alpha)
	}
	lo, hi := -20*sigma, alpha+20*sigma
	const pieces = 400
	h := (hi - lo) / pieces
	var s float64
	for i := range pieces {
		a := lo + float64(i)*h
		s += quad.Fixed(f, a, a+h, 40, quad.Legendre{}, 0)
	}
	return math.Log(s)
}

func TestSampledGaussianRDPMatchesQuadrature(t *testing.T) {
	cases := []struct{ q, sigma, alpha float64 }{
		{0.01, 1.1, 1.5},
		{0.1, 1, 2.5},
		{0.1, 1, 1.1},
		{0.05, 0.8, 10.5},
		{0.3, 2, 1.1},
		{256.0 / 60000, 1.1, 7.3},
		{1e-3, 4, 3.7},
		{0.9, 1.5, 5.5},
		{0.01, 5, 2.5}, // |z0| > 30: evaluated by quadrature in production
		{0.1, 1, 3},    // integer orders: binomial series
		{0.01, 0.7, 20},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("q=%g/σ=%g/α=%g", c.q, c.sigma, c.alpha), func(t *testing.T) {
			got, err := SampledGaussianRDP(c.q, c.sigma, c.alpha)
			if err != nil {
				t.Fatal(err)
			}
			want := quadLogA(c.q, c.sigma, c.alpha) / (c.alpha - 1)
			if d := math.Abs(got - want); d > 1e-9*want+1e-14 {
				t.Errorf("SampledGaussianRDP = %.15g; quadrature %.15g (diff %.2e)", got, want, d)
			}
		})
	}
}

// The two-series formula and the integer binomial series must agree as a
// fractional order approaches an integer.
func TestFractionalSeriesContinuousAtIntegers(t *testing.T) {
	for _, a := range []int{2, 3, 7, 20} {
		exact := logAInt(0.05, 1.2, a)
		near, ok := logAFracSeries(0.05, 1.2, float64(a)+1e-9)
		if !ok {
			t.Fatalf("series did not converge at α=%d+1e-9", a)
		}
		// d log A/dα is O(log A), so a 1e-9 shift moves log A by ~1e-9·log A.
		if d := math.Abs(near - exact); d > 1e-7*math.Max(1, exact) {
			t.Errorf("α=%d: log A int %.12g, fractional %.12g", a, exact, near)
		}
	}
}

func TestRDPCompositionSumsPerOrder(t *testing.T) {
	r := newRDP(t)
	e1 := Event{Q: 0.01, Sigma: 1.0, Steps: 300}
	e2 := Event{Q: 0.05, Sigma: 2.5, Steps: 1700}
	both, err := r.Curve([]Event{e1, e2, {Q: 0.01, Sigma: 1.0, Steps: 0}, {Q: 0, Sigma: 0.1, Steps: 9}})
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range r.Orders() {
		r1, _ := SampledGaussianRDP(e1.Q, e1.Sigma, a)
		r2, _ := SampledGaussianRDP(e2.Q, e2.Sigma, a)
		want := 300*r1 + 1700*r2
		if math.Abs(both[i]-want) > 1e-12*want {
			t.Fatalf("α=%g: composed %v; want 300·%v + 1700·%v = %v", a, both[i], r1, r2, want)
		}
	}
	// Splitting an event's steps does not change anything.
	split, err := r.Curve([]Event{{Q: 0.01, Sigma: 1.0, Steps: 100}, e2, {Q: 0.01, Sigma: 1.0, Steps: 200}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range split {
		if split[i] != both[i] {
			t.Fatalf("order %g: split %v != merged %v", r.Orders()[i], split[i], both[i])
		}
	}
}

func TestRDPDeltaInvertsEpsilon(t *testing.T) {
	r := newRDP(t)
	for _, delta := range []float64{1e-3, 1e-5, 1e-9} {
		eps, err := r.Epsilon(mnist, delta)
		if err != nil {
			t.Fatal(err)
		}
		d, err := r.Delta(mnist, eps)
		if err != nil {
			t.Fatal(err)
		}
		// Same family of bounds, so δ(ε(δ)) ≤ δ, and equal at the optimal
		// order.
		if d > delta*(1+1e-9) || d < delta*(1-1e-6) {
			t.Errorf("Delta(Epsilon(%g) = %.6f) = %g", delta, eps, d)
		}
	}
}

func TestNoLeakIsZero(t *testing.T) {
	events := []Event{{Q: 0, Sigma: 1, Steps: 100}, {Q: 0.5, Sigma: 1, Steps: 0}}
	for name, acc := range map[string]Accountant{"RDP": newRDP(t), "PLD": newPLD(t)} {
		eps, err := acc.Epsilon(events, 1e-6)
		if err != nil || eps != 0 {
			t.Errorf("%s.Epsilon(no-leak) = %v, %v; want 0, nil", name, eps, err)
		}
		d, err := acc.Delta(nil, 0)
		if err != nil || d != 0 {
			t.Errorf("%s.Delta(nil, 0) = %v, %v; want 0, nil", name, d, err)
		}
	}
}

func TestDefaultOrders(t *testing.T) {
	o := DefaultOrders()
	have := make(map[float64]bool)
	for i, a := range o {
		if i > 0 && a <= o[i-1] {
			t.Fatalf("orders not strictly increasing at %d: %v, %v", i, o[i-1], a)
		}
		have[a] = true
	}
	for _, a := range dpAccountingOrders() {
		if !have[a] {
			t.Errorf("default orders miss dp_accounting order %g", a)
		}
	}
	if o[len(o)-1] < 4096 {
		t.Errorf("largest default order %g; want ≥ 4096", o[len(o)-1])
	}
}

// Large σ, one step: the optimal order is in the thousands, where Opacus'
// orders (≤ 63) are loose.
func TestRDPHighOrdersHelp(t *testing.T) {
	ev := []Event{{Q: 0.01, Sigma: 5, Steps: 1}}
	full, _, err := newRDP(t).EpsilonOrder(ev, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	low, err := NewRDP(dpAccountingOrders()[:152]) // up to 63
	if err != nil {
		t.Fatal(err)
	}
	lowEps, err := low.Epsilon(ev, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if !(full < 0.8*lowEps) {
		t.Errorf("ε with orders up to 8192 = %.4f, up to 63 = %.4f; want a clear improvement", full, lowEps)
	}
}
