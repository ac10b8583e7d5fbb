package fairness

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers can branch with errors.Is.
var (
	// ErrInvalidInput reports an argument outside its documented domain: a
	// label other than 0 or 1, a score outside [0, 1], a NaN, a negative
	// count, an unknown or duplicate group, a bad threshold.
	ErrInvalidInput = errors.New("fairness: invalid input")

	// ErrDimension reports a summed vector whose length does not match the
	// layout that is decoding it. Sites and coordinator disagree on the
	// layout (group list, deciles, feature list).
	ErrDimension = errors.New("fairness: vector dimension mismatch")
)

// InputError describes one rejected argument. It wraps ErrInvalidInput.
type InputError struct {
	Op    string // operation, e.g. "Layout.Decode"
	Param string // offending parameter, e.g. `sum[12] (group "sex=F", FN)`
	Value any    // offending value
	Want  string // the documented domain, e.g. "finite and >= 0"
}

func (e *InputError) Error() string {
	return fmt.Sprintf("fairness: %s: %s = %v, want %s", e.Op, e.Param, e.Value, e.Want)
}

// Unwrap returns ErrInvalidInput.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

// DimensionError reports a vector of the wrong length. It wraps ErrDimension.
type DimensionError struct {
	Op   string
	Got  int
	Want int
}

func (e *DimensionError) Error() string {
	return fmt.Sprintf("fairness: %s: vector has %d entries, layout wants %d", e.Op, e.Got, e.Want)
}

// Unwrap returns ErrDimension.
func (e *DimensionError) Unwrap() error { return ErrDimension }
