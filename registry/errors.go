package registry

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them, so
// callers can branch with errors.Is.
var (
	// ErrInvalidCard reports a model card that fails Validate, cannot be
	// parsed, or does not match the parameters it is published with.
	ErrInvalidCard = errors.New("registry: invalid model card")
	// ErrInvalidVersion reports a version string that is not MAJOR.MINOR.PATCH.
	ErrInvalidVersion = errors.New("registry: invalid version")
	// ErrInvalidKey reports a malformed, unsupported or mismatched key or key
	// file.
	ErrInvalidKey = errors.New("registry: invalid key")
	// ErrInvalidCoSignature reports a site co-signature that cannot be made
	// or does not verify: bad certificate, chain, name or signature.
	ErrInvalidCoSignature = errors.New("registry: invalid co-signature")
	// ErrMalformedArtifact reports an artifact file that ParseArtifact cannot
	// read. Verify reports the same problem as a failed check instead.
	ErrMalformedArtifact = errors.New("registry: malformed artifact")
	// ErrInvalidTrust reports a Trust that cannot verify anything: no
	// coordinator key or no CA pool.
	ErrInvalidTrust = errors.New("registry: invalid trust configuration")
	// ErrVerification is wrapped by the error Verify returns when a check
	// fails (through *CheckError).
	ErrVerification = errors.New("registry: verification failed")
	// ErrExists reports that a file the call would write already exists.
	// The registry never overwrites keys or artifacts.
	ErrExists = errors.New("registry: file already exists")
)

// CheckError is the first failed check of a verification. It wraps
// ErrVerification.
type CheckError struct {
	Check  string // name of the failed check, one of the Check* constants or "cosignature/SITE"
	Detail string // what was wrong
}

func (e *CheckError) Error() string {
	return "registry: verification failed: " + e.Check + ": " + e.Detail
}

// Unwrap returns ErrVerification.
func (e *CheckError) Unwrap() error { return ErrVerification }
