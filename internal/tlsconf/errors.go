package tlsconf

import (
	"errors"
	"fmt"
)

// Sentinel errors; use errors.Is. Each is wrapped with the certificate's name
// and the relevant dates or files.
var (
	// ErrNoPEM: the file holds no usable PEM block of the expected type.
	ErrNoPEM = errors.New("no usable PEM data")
	// ErrKeyMismatch: the private key does not belong to the certificate.
	ErrKeyMismatch = errors.New("private key does not match certificate")
	// ErrExpired: the certificate's NotAfter is in the past.
	ErrExpired = errors.New("certificate expired")
	// ErrNotYetValid: the certificate's NotBefore is in the future.
	ErrNotYetValid = errors.New("certificate not yet valid")
	// ErrUnknownAuthority: the certificate is not signed by the given CA.
	ErrUnknownAuthority = errors.New("certificate not signed by the given CA")
	// ErrMissingUsage: the certificate lacks the extended key usage its role
	// needs (serverAuth for the coordinator, clientAuth for sites).
	ErrMissingUsage = errors.New("certificate lacks required extended key usage")
	// ErrWrongRole: the certificate's consortium role (internal/pki.RoleOf)
	// is missing, invalid, or not one this use allows: a site certificate
	// used as the coordinator's, an auditor's used to run a site.
	ErrWrongRole = errors.New("certificate has the wrong role")
	// ErrCRLUnusable: the revocation list cannot be read, does not verify
	// against the CA, or is out of date; every certificate is refused until
	// it is fixed.
	ErrCRLUnusable = errors.New("revocation list unusable")
	// ErrNoClientCert: the gRPC peer presented no verified client certificate.
	ErrNoClientCert = errors.New("tlsconf: no verified client certificate")
	// ErrNotLoopback: --insecure was asked for on a non-loopback address.
	ErrNotLoopback = errors.New("tlsconf: --insecure is only allowed on loopback addresses")
)

// FileError reports a problem with one file of a TLS bundle.
type FileError struct {
	// What names the file's part in the bundle: "certificate", "private key"
	// or "CA certificate".
	What string
	// Path is the file as given by the caller (for example a flag value).
	Path string
	// Err is the cause; it wraps one of the sentinels above or an I/O error.
	Err error
}

func (e *FileError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("tlsconf: %s file: %v", e.What, e.Err)
	}
	return fmt.Sprintf("tlsconf: %s file %q: %v", e.What, e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }
