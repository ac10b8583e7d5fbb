package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cohortfl/cohort/internal/fsutil"
)

// BundleFiles returns the paths WriteBundle writes for name in dir:
// dir/ca.pem, dir/NAME.pem and dir/NAME-key.pem.
func BundleFiles(dir, name string) (caFile, certFile, keyFile string) {
	return filepath.Join(dir, CACertFile), filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
}

// WriteBundle writes what one party needs for mutual TLS into dir (created
// 0700 if missing): the CA certificate as ca.pem, its certificate as NAME.pem
// and its private key as NAME-key.pem with mode 0600.
//
// Several bundles may share a directory: an existing ca.pem is kept if it
// holds the same CA. WriteBundle never overwrites: if NAME.pem or NAME-key.pem
// already exists, or ca.pem holds a different CA, it returns ErrExists and
// leaves every existing file as it was.
func WriteBundle(dir, name string, caPEM, certPEM, keyPEM []byte) error {
	if err := checkBundleName(name); err != nil {
		return fmt.Errorf("pki: write bundle in %s: %w", dir, err)
	}
	if len(caPEM) == 0 || len(certPEM) == 0 || len(keyPEM) == 0 {
		return fmt.Errorf("pki: write bundle %q in %s: %w: CA certificate, certificate and key must all be non-empty", name, dir, ErrInvalid)
	}
	caFile, certFile, keyFile := BundleFiles(dir, name)
	// Check everything before writing anything, so a refused call leaves no
	// half-written bundle behind.
	for _, p := range []string{certFile, keyFile} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("pki: write bundle %q: %w: %s", name, ErrExists, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("pki: write bundle %q: %w", name, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: write bundle %q: %w", name, err)
	}
	if err := writeNew(caFile, caPEM, 0o644); err != nil {
		return fmt.Errorf("pki: write bundle %q: %w", name, err)
	}
	if err := writeNew(keyFile, keyPEM, 0o600); err != nil {
		return fmt.Errorf("pki: write bundle %q: %w", name, err)
	}
	if err := writeNew(certFile, certPEM, 0o644); err != nil {
		_ = os.Remove(keyFile) // we created it a moment ago
		return fmt.Errorf("pki: write bundle %q: %w", name, err)
	}
	return nil
}

func checkBundleName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty bundle name", ErrInvalid)
	case name == "ca" || name == "ca-key":
		return fmt.Errorf("%w: bundle name %q would clash with %s/%s", ErrInvalid, name, CACertFile, CAKeyFile)
	case name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: bundle name %q must be a plain file name", ErrInvalid, name)
	}
	return nil
}

// writeNew is fsutil.WriteNew with this package's ErrExists.
func writeNew(path string, data []byte, perm fs.FileMode) error {
	return fsutil.WriteNew(path, data, perm, ErrExists)
}

// RenewBundle writes NAME.pem and NAME-key.pem into dir like WriteBundle, but
// replaces them if they exist: each file is replaced atomically, key first.
// Only NAME's files are written; an existing ca.pem is kept and must hold the
// same CA (else ErrExists), so bundles sharing dir are left byte for byte as
// they were.
func RenewBundle(dir, name string, caPEM, certPEM, keyPEM []byte) error {
	if err := checkBundleName(name); err != nil {
		return fmt.Errorf("pki: renew bundle in %s: %w", dir, err)
	}
	if len(caPEM) == 0 || len(certPEM) == 0 || len(keyPEM) == 0 {
		return fmt.Errorf("pki: renew bundle %q in %s: %w: CA certificate, certificate and key must all be non-empty", name, dir, ErrInvalid)
	}
	caFile, certFile, keyFile := BundleFiles(dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: renew bundle %q: %w", name, err)
	}
	if err := writeNew(caFile, caPEM, 0o644); err != nil {
		return fmt.Errorf("pki: renew bundle %q: %w (the bundle trusts another CA)", name, err)
	}
	if err := writeAtomic(keyFile, keyPEM, 0o600); err != nil {
		return fmt.Errorf("pki: renew bundle %q: %w", name, err)
	}
	if err := writeAtomic(certFile, certPEM, 0o644); err != nil {
		return fmt.Errorf("pki: renew bundle %q: %w", name, err)
	}
	return nil
}

// writeAtomic is fsutil.WriteAtomic with the path in its errors.
func writeAtomic(path string, data []byte, perm fs.FileMode) error {
	if err := fsutil.WriteAtomic(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// IssueBundle issues a certificate for name (see Issue) and writes its bundle
// into dir (see WriteBundle): what a test harness or a one-machine demo needs
// for each party.
func (ca *CA) IssueBundle(dir, name string, role Role, ips []net.IP, validFor time.Duration) error {
	cert, key, err := ca.Issue(name, role, nil, ips, validFor)
	if err != nil {
		return err
	}
	return WriteBundle(dir, name, ca.CertPEM(), cert, key)
}
