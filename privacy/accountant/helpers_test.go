package accountant

import (
	"math"
	"testing"
)

// gaussianDelta is the exact privacy curve of the Gaussian mechanism with
// μ = sensitivity/σ_eff (Balle & Wang 2018, Thm. 8):
// δ(ε) = Φ(-ε/μ + μ/2) - e^ε Φ(-ε/μ - μ/2).
func gaussianDelta(mu, eps float64) float64 {
	return normCDF(-eps/mu+mu/2) - math.Exp(eps)*normCDF(-eps/mu-mu/2)
}

// gaussianEpsilon inverts gaussianDelta by bisection (δ(ε) is decreasing).
func gaussianEpsilon(t *testing.T, mu, delta float64) float64 {
	t.Helper()
	lo, hi := 0.0, 1.0
	for gaussianDelta(mu, hi) > delta {
		hi *= 2
		if hi > 1e6 {
			t.Fatalf("gaussianEpsilon(%g, %g): no bracket", mu, delta)
		}
	}
	for range 200 {
		m := (lo + hi) / 2
		if gaussianDelta(mu, m) > delta {
			lo = m
		} else {
			hi = m
		}
	}
	return hi
}

func newRDP(t testing.TB) *RDP {
	t.Helper()
	r, err := NewRDP(nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newPLD(t testing.TB) *PLD {
	t.Helper()
	p, err := NewPLD(DefaultPLDConfig())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// dpAccountingOrders is dp_accounting's DEFAULT_RDP_ORDERS.
func dpAccountingOrders() []float64 {
	var o []float64
	for x := 1; x < 100; x++ {
		o = append(o, 1+float64(x)/10)
	}
	for a := 11; a < 64; a++ {
		o = append(o, float64(a))
	}
	return append(o, 128, 256, 512, 1024)
}

const mnistQ = 256.0 / 60000

var mnist = []Event{{Q: mnistQ, Sigma: 1.1, Steps: 14063}}
