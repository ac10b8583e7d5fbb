package accountant

import (
	"math"
	"testing"
)

// dp_accounting's PLD accountant (connect-the-dots, Δ = 1e-4) reports
// ε ≈ 2.38 for the MNIST DP-SGD setting.
func TestPLDMNIST(t *testing.T) {
	const want, tol = 2.38, 0.02
	eps, err := newPLD(t).Epsilon(mnist, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ε = %.4f", eps)
	if math.Abs(eps-want) > tol {
		t.Errorf("Epsilon(MNIST) = %.4f; want %.2f ± %.2f", eps, want, tol)
	}
	rdp, err := newRDP(t).Epsilon(mnist, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if eps >= rdp {
		t.Errorf("PLD ε = %.4f not tighter than RDP ε = %.4f", eps, rdp)
	}
}

func TestPLDDeltaInvertsEpsilon(t *testing.T) {
	l, err := newPLD(t).Compose([]Event{{Q: 0.02, Sigma: 0.9, Steps: 500}, {Q: 0.1, Sigma: 2, Steps: 40}})
	if err != nil {
		t.Fatal(err)
	}
	for _, delta := range []float64{1e-2, 1e-5, 1e-8} {
		eps, err := l.Epsilon(delta)
		if err != nil {
			t.Fatal(err)
		}
		d, err := l.Delta(eps)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(d-delta) > 1e-9*delta {
			t.Errorf("Delta(Epsilon(%g) = %.6f) = %.12g", delta, eps, d)
		}
	}
}

// Composing a group split in two (T1, T2) must equal one group of T1+T2, up
// to FFT rounding. The public API merges equal (q, σ), so this drives the
// composition directly.
func TestPLDSplitGroupEqualsMerged(t *testing.T) {
	p := newPLD(t)
	m := mechanism{q: 0.01, sigma: 1.0}
	for _, model := range []lossModel{removeModel(m), addModel(m)} {
		d, err := discretise(model, p.cfg.Discretization, p.cfg.TailMass, p.cfg.MaxBins)
		if err != nil {
			t.Fatal(err)
		}
		split, err := p.composeGroups([]group{{m, 700}, {m, 1300}}, []*pmf{d, d})
		if err != nil {
			t.Fatal(err)
		}
		merged, err := p.composeGroups([]group{{m, 2000}}, []*pmf{d})
		if err != nil {
			t.Fatal(err)
		}
		for _, delta := range []float64{1e-3, 1e-5, 1e-7} {
			a := epsilonFor(split, p.cfg.Discretization, delta)
			b := epsilonFor(merged, p.cfg.Discretization, delta)
			if math.Abs(a-b) > 1e-6*b {
				t.Errorf("%T δ=%g: split ε = %.9f, merged ε = %.9f", model, delta, a, b)
			}
		}
	}
}

// Heterogeneous subsampled events: the result is independent of event order,
// tighter than RDP, and monotone (adding events never lowers ε).
func TestPLDHeterogeneous(t *testing.T) {
	p, r := newPLD(t), newRDP(t)
	a := Event{Q: 0.01, Sigma: 1.0, Steps: 1000}
	b := Event{Q: 0.04, Sigma: 2.0, Steps: 500}
	ab, err := p.Epsilon([]Event{a, b}, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	ba, err := p.Epsilon([]Event{b, a}, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(ab-ba) > 1e-9*ab {
		t.Errorf("order dependence: ε(a,b) = %.12f, ε(b,a) = %.12f", ab, ba)
	}
	onlyA, err := p.Epsilon([]Event{a}, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	rdp, err := r.Epsilon([]Event{a, b}, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if !(onlyA < ab && ab < rdp) {
		t.Errorf("want ε(a) < ε(a,b) < RDP ε(a,b); got %.4f, %.4f, %.4f", onlyA, ab, rdp)
	}
}

// One step of the subsampled Gaussian: compare the discretised δ(ε) with the
// closed-form hockey-stick divergence of the remove direction.
func TestPLDSingleStepMatchesClosedForm(t *testing.T) {
	const q, s = 0.2, 0.8
	l, err := newPLD(t).Compose([]Event{{Q: q, Sigma: s, Steps: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, eps := range []float64{0.1, 0.5, 1, 1.5} {
		// L > ε ⇔ x > x_ε; δ = P(X > x_ε) - e^ε Q(X > x_ε).
		x := s*s*math.Log((math.Exp(eps)-(1-q))/q) + 0.5
		remove := (1-q)*normSurv(x/s) + q*normSurv((x-1)/s) - math.Exp(eps)*normSurv(x/s)
		got, err := l.Delta(eps)
		if err != nil {
			t.Fatal(err)
		}
		// Exact at grid points of ε (these are multiples of Δ); the add
		// direction is smaller here, and δ has a 1e-15 tail allowance.
		if math.Abs(got-remove) > 1e-12 {
			t.Errorf("δ(%g) = %.15g; closed form %.15g", eps, got, remove)
		}
	}
}

func TestPLDTooLarge(t *testing.T) {
	cfg := DefaultPLDConfig()
	cfg.MaxBins = 1000
	p, err := NewPLD(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Epsilon(mnist, 1e-5); err == nil {
		t.Fatal("Epsilon with MaxBins=1000: want ErrTooLarge, got nil")
	} else if !errorsIs(err, ErrTooLarge) {
		t.Fatalf("Epsilon with MaxBins=1000: %v; want ErrTooLarge", err)
	}
}
