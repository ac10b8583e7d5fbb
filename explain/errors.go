package explain

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them (and,
// where a model call failed validation, the model package's error too), so
// callers can branch with errors.Is.
var (
	ErrInvalidInput  = errors.New("explain: invalid input")
	ErrInvalidConfig = errors.New("explain: invalid config")
	ErrNotLinear     = errors.New("explain: model is not linear")
	ErrNumerical     = errors.New("explain: numerical failure")
)
