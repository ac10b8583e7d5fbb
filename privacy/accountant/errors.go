package accountant

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers can branch with errors.Is.
var (
	// ErrInvalidInput reports an argument outside its documented domain
	// (for example q > 1, σ ≤ 0, δ ∉ (0,1) or a NaN).
	ErrInvalidInput = errors.New("accountant: invalid input")

	// ErrTooLarge reports that a privacy-loss distribution would need more
	// grid points than PLDConfig.MaxBins allows. Use a coarser
	// PLDConfig.Discretization or the RDP accountant.
	ErrTooLarge = errors.New("accountant: privacy-loss distribution too large")

	// ErrSigmaOutOfRange reports that SigmaFor could not bracket the smallest
	// σ meeting the target inside [MinSearchSigma, MaxSearchSigma].
	ErrSigmaOutOfRange = errors.New("accountant: noise multiplier out of search range")

	// ErrNoPrivacyLoss reports that SigmaFor was asked about events that
	// leak nothing (q = 0 or steps = 0): every σ meets the target, so there
	// is no smallest one.
	ErrNoPrivacyLoss = errors.New("accountant: events have no privacy loss")
)

// InputError describes one rejected argument. It wraps ErrInvalidInput.
type InputError struct {
	Op    string  // accountant operation, e.g. "RDP.Epsilon"
	Param string  // offending parameter, e.g. "events[3].Sigma"
	Value float64 // offending value (integers are converted)
	Want  string  // the documented domain, e.g. "finite and > 0"
}

func (e *InputError) Error() string {
	return fmt.Sprintf("accountant: %s: %s = %v, want %s", e.Op, e.Param, e.Value, e.Want)
}

// Unwrap returns ErrInvalidInput.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

func checkDelta(op string, delta float64) error {
	if math.IsNaN(delta) || delta <= 0 || delta >= 1 {
		return &InputError{Op: op, Param: "delta", Value: delta, Want: "in (0, 1)"}
	}
	return nil
}

func checkEpsilon(op, name string, eps float64) error {
	if math.IsNaN(eps) || math.IsInf(eps, 0) || eps < 0 {
		return &InputError{Op: op, Param: name, Value: eps, Want: "finite and >= 0"}
	}
	return nil
}

func checkQ(op, name string, q float64) error {
	if math.IsNaN(q) || q < 0 || q > 1 {
		return &InputError{Op: op, Param: name, Value: q, Want: "in [0, 1]"}
	}
	return nil
}

func checkSigma(op, name string, sigma float64) error {
	if math.IsNaN(sigma) || math.IsInf(sigma, 0) || sigma <= 0 {
		return &InputError{Op: op, Param: name, Value: sigma, Want: "finite and > 0"}
	}
	return nil
}

func checkSteps(op, name string, steps int) error {
	if steps < 0 || steps > maxSteps {
		return &InputError{Op: op, Param: name, Value: float64(steps), Want: "in [0, 2^40]"}
	}
	return nil
}
