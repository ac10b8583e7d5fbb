package secagg

import (
	"errors"
	"fmt"
)

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	// ErrBadParams reports an invalid or insecure parameter literal.
	ErrBadParams = errors.New("secagg: bad parameters")
	// ErrBadEpoch reports an invalid key-epoch description.
	ErrBadEpoch = errors.New("secagg: bad epoch")
	// ErrBadInput reports a value a site refuses to seal (NaN, Inf, or
	// outside the clip bound) or a vector of the wrong length.
	ErrBadInput = errors.New("secagg: bad input")
	// ErrBadSignature reports a signature that does not verify.
	ErrBadSignature = errors.New("secagg: bad signature")
	// ErrMalformed reports a ciphertext, key or share that does not parse
	// or does not match the parameters.
	ErrMalformed = errors.New("secagg: malformed message")
	// ErrReplay reports a contribution whose nonce or sender was already
	// accepted this round.
	ErrReplay = errors.New("secagg: replayed contribution")
	// ErrBinding reports a message bound to another run, epoch, round,
	// sender or aggregate.
	ErrBinding = errors.New("secagg: wrong binding")
	// ErrState reports a call made out of protocol order.
	ErrState = errors.New("secagg: wrong protocol state")
	// ErrRefused reports a site refusing to produce a decryption share.
	ErrRefused = errors.New("secagg: decryption refused")
	// ErrNotEnoughShares reports a combine with fewer than t shares.
	ErrNotEnoughShares = errors.New("secagg: not enough decryption shares")
)

// RefusalError is returned by a site that will not help decrypt. It
// satisfies errors.Is(err, ErrRefused).
type RefusalError struct {
	Round  uint64
	Reason string
	Err    error // optional cause
}

func (e *RefusalError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("secagg: decryption refused for round %d: %s: %v", e.Round, e.Reason, e.Err)
	}
	return fmt.Sprintf("secagg: decryption refused for round %d: %s", e.Round, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusalError) Is(target error) bool { return target == ErrRefused }

// Unwrap returns the cause.
func (e *RefusalError) Unwrap() error { return e.Err }
