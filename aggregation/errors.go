package aggregation

import (
	"errors"
	"fmt"
)

// Sentinel errors beyond the per-update ones declared with the Strategy contract.
var (
	// ErrNoClient is returned by Add for an update without a client id; without
	// one, duplicates cannot be detected.
	ErrNoClient = errors.New("aggregation: update has no client id")
	// ErrClosed is returned by Add after Result has been called.
	ErrClosed = errors.New("aggregation: aggregator already produced its result")
	// ErrTooFewUpdates is returned by Result when a robust rule cannot tolerate
	// the configured number of Byzantine clients with the updates it received
	// (Krum needs n > 2f+2).
	ErrTooFewUpdates = errors.New("aggregation: too few updates for the robust rule")
	// ErrUnknownStrategy is returned by New for a name it does not know.
	ErrUnknownStrategy = errors.New("aggregation: unknown strategy")
	// ErrInvalidOptions is wrapped by every error from Options.Validate.
	ErrInvalidOptions = errors.New("aggregation: invalid options")
	// ErrInvalidState is wrapped by every error from UnmarshalState: the bytes
	// are truncated, corrupted, of an unknown version, or belong to another
	// strategy.
	ErrInvalidState = errors.New("aggregation: invalid strategy state")
)

// UpdateError reports why one client's update was rejected. Err is one of the
// package sentinels (ErrWrongLength, ErrNotFinite, ErrBadWeight, ErrDuplicate,
// ErrNoClient, ErrClosed), so callers test it with errors.Is.
type UpdateError struct {
	Client string
	// Index is the offending coordinate, or -1 when the error is not about one.
	Index int
	// Detail is a short human-readable explanation, possibly empty.
	Detail string
	Err    error
}

func (e *UpdateError) Error() string {
	msg := fmt.Sprintf("%v (client %q", e.Err, e.Client)
	if e.Index >= 0 {
		msg += fmt.Sprintf(", coordinate %d", e.Index)
	}
	if e.Detail != "" {
		msg += ", " + e.Detail
	}
	return msg + ")"
}

// Unwrap returns the sentinel.
func (e *UpdateError) Unwrap() error { return e.Err }

func updateErr(client string, index int, sentinel error, format string, args ...any) error {
	return &UpdateError{Client: client, Index: index, Detail: fmt.Sprintf(format, args...), Err: sentinel}
}
