package accountant

import (
	"fmt"
	"math"
)

// Search range and tolerance of SigmaFor.
const (
	MinSearchSigma = 1e-2 // smallest σ SigmaFor considers
	MaxSearchSigma = 1e6  // largest σ SigmaFor considers
	// SigmaRelTol is SigmaFor's relative tolerance: the returned σ is at
	// most (1+SigmaRelTol) times the smallest σ meeting the target (for an
	// accountant whose ε is non-increasing in σ).
	SigmaRelTol = 1e-4
)

// SigmaFor returns the smallest noise multiplier σ (to within relative
// SigmaRelTol) such that acc certifies ε ≤ targetEps at delta for steps
// applications of the subsampled Gaussian with sampling probability q.
// The returned σ always satisfies the target as evaluated by acc.
//
// It brackets the answer by doubling/halving from σ = 1, then bisects in
// log σ. It fails with ErrNoPrivacyLoss when q = 0 or steps = 0 (every σ
// works), with ErrSigmaOutOfRange when the answer is outside
// [MinSearchSigma, MaxSearchSigma], and with the accountant's error if an
// evaluation fails.
func SigmaFor(acc Accountant, q float64, steps int, targetEps, delta float64) (float64, error) {
	const op = "SigmaFor"
	if acc == nil {
		return 0, fmt.Errorf("accountant: %s: nil accountant: %w", op, ErrInvalidInput)
	}
	if err := checkQ(op, "q", q); err != nil {
		return 0, err
	}
	if err := checkSteps(op, "steps", steps); err != nil {
		return 0, err
	}
	if err := checkEpsilon(op, "targetEps", targetEps); err != nil {
		return 0, err
	}
	if err := checkDelta(op, delta); err != nil {
		return 0, err
	}
	if q == 0 || steps == 0 {
		return 0, fmt.Errorf("accountant: %s: q=%g, steps=%d: %w", op, q, steps, ErrNoPrivacyLoss)
	}
	meets := func(sigma float64) (bool, error) {
		eps, err := acc.Epsilon([]Event{{Q: q, Sigma: sigma, Steps: steps}}, delta)
		if err != nil {
			return false, fmt.Errorf("accountant: %s: at σ=%g: %w", op, sigma, err)
		}
		return eps <= targetEps, nil
	}

	// Bracket: lo fails the target, hi meets it.
	lo, hi := 1.0, 1.0
	ok, err := meets(hi)
	if err != nil {
		return 0, err
	}
	if ok {
		for {
			lo = hi / 2
			if lo < MinSearchSigma {
				return 0, fmt.Errorf("accountant: %s: target ε=%g is met even at σ=%g: %w",
					op, targetEps, hi, ErrSigmaOutOfRange)
			}
			if ok, err = meets(lo); err != nil {
				return 0, err
			}
			if !ok {
				break
			}
			hi = lo
		}
	} else {
		for {
			hi = lo * 2
			if hi > MaxSearchSigma {
				return 0, fmt.Errorf("accountant: %s: target ε=%g is not met even at σ=%g: %w",
					op, targetEps, lo, ErrSigmaOutOfRange)
			}
			if ok, err = meets(hi); err != nil {
				return 0, err
			}
			if ok {
				break
			}
			lo = hi
		}
	}
	for hi/lo-1 > SigmaRelTol {
		mid := math.Sqrt(lo * hi)
		if ok, err = meets(mid); err != nil {
			return 0, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}
