package accountant

import (
	"testing"
)

func TestSigmaFor(t *testing.T) {
	const q, steps, target, delta = mnistQ, 14063, 2.0, 1e-5
	for name, acc := range map[string]Accountant{"RDP": newRDP(t), "PLD": newPLD(t)} {
		t.Run(name, func(t *testing.T) {
			sigma, err := SigmaFor(acc, q, steps, target, delta)
			if err != nil {
				t.Fatal(err)
			}
			eps, err := acc.Epsilon([]Event{{q, sigma, steps}}, delta)
			if err != nil {
				t.Fatal(err)
			}
			if eps > target {
				t.Errorf("ε(σ=%.6f) = %.6f > target %g", sigma, eps, target)
			}
			below := sigma * (1 - 1e-3)
			epsBelow, err := acc.Epsilon([]Event{{q, below, steps}}, delta)
			if err != nil {
				t.Fatal(err)
			}
			if epsBelow <= target {
				t.Errorf("ε(σ·(1-1e-3) = %.6f) = %.6f ≤ target %g: σ not minimal", below, epsBelow, target)
			}
			t.Logf("σ = %.5f, ε = %.5f, ε(σ(1-1e-3)) = %.5f", sigma, eps, epsBelow)
		})
	}
}

func TestSigmaForErrors(t *testing.T) {
	r := newRDP(t)
	if _, err := SigmaFor(r, 0, 10, 1, 1e-5); !errorsIs(err, ErrNoPrivacyLoss) {
		t.Errorf("q=0: err = %v; want ErrNoPrivacyLoss", err)
	}
	if _, err := SigmaFor(r, 0.5, 10, 0, 1e-12); !errorsIs(err, ErrSigmaOutOfRange) {
		t.Errorf("target ε=0: err = %v; want ErrSigmaOutOfRange", err)
	}
	if _, err := SigmaFor(r, 1, 1, 1e4, 0.5); !errorsIs(err, ErrSigmaOutOfRange) {
		t.Errorf("target ε=1e4: err = %v; want ErrSigmaOutOfRange", err)
	}
}
