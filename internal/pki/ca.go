package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Sentinel errors; use errors.Is.
var (
	// ErrExists reports that a file the call would write already exists with
	// different contents. pki never overwrites keys or certificates.
	ErrExists = errors.New("pki: file already exists")
	// ErrInvalid reports a bad argument: empty name, bad validity window,
	// server certificate without a subject alternative name, and so on.
	ErrInvalid = errors.New("pki: invalid request")
)

// File names inside a CA directory and a bundle directory.
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca-key.pem"
)

// clockSkew back-dates NotBefore so that a certificate issued on one machine is
// immediately valid on a peer whose clock runs slightly behind.
const clockSkew = 5 * time.Minute

// maxCommonName is the X.509 upper bound for a subject common name (RFC 5280).
const maxCommonName = 64

// CA is a certificate authority: a self-signed CA certificate and its private
// key. A CA is safe for concurrent use by multiple goroutines.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// NewCA creates a CA with a fresh ECDSA P-256 key and a self-signed certificate
// whose subject common name is name, valid from now (less a few minutes for
// clock skew) for validFor.
func NewCA(name string, validFor time.Duration) (*CA, error) {
	if err := checkCommonName(name); err != nil {
		return nil, fmt.Errorf("pki: new CA: %w", err)
	}
	if validFor <= 0 {
		return nil, fmt.Errorf("pki: new CA %q: %w: validity %v must be positive", name, ErrInvalid, validFor)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: new CA %q: generate key: %w", name, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("pki: new CA %q: %w", name, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: new CA %q: self-sign: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: new CA %q: parse own certificate: %w", name, err)
	}
	return &CA{cert: cert, certPEM: encodePEM("CERTIFICATE", der), key: key}, nil
}

// LoadCA reads dir/ca.pem and dir/ca-key.pem, as written by Save, so more
// certificates can be issued. It checks that the certificate is a CA
// certificate and that the key belongs to it.
func LoadCA(dir string) (*CA, error) {
	certPath := filepath.Join(dir, CACertFile)
	keyPath := filepath.Join(dir, CAKeyFile)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("pki: load CA certificate: %w", err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: load CA certificate %s: %w", certPath, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("pki: load CA certificate %s: %w: %q is not a CA certificate", certPath, ErrInvalid, cert.Subject.CommonName)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: load CA key: %w", err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: load CA key %s: %w", keyPath, err)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("pki: load CA: %w: key %s does not belong to certificate %s", ErrInvalid, keyPath, certPath)
	}
	return &CA{cert: cert, certPEM: encodePEM("CERTIFICATE", cert.Raw), key: key}, nil
}

// Save writes the CA certificate to dir/ca.pem (0644) and its key to
// dir/ca-key.pem (0600), creating dir (0700) if needed. It refuses, with
// ErrExists, to replace an existing file whose contents differ.
func (ca *CA) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: save CA: %w", err)
	}
	keyPEM, err := marshalKeyPEM(ca.key)
	if err != nil {
		return fmt.Errorf("pki: save CA: %w", err)
	}
	if err := writeNew(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
		return fmt.Errorf("pki: save CA: %w", err)
	}
	if err := writeNew(filepath.Join(dir, CACertFile), ca.certPEM, 0o644); err != nil {
		return fmt.Errorf("pki: save CA: %w", err)
	}
	return nil
}

// Certificate returns the CA certificate. The caller must not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns a copy of the PEM-encoded CA certificate, the trust anchor
// every party is given as ca.pem.
func (ca *CA) CertPEM() []byte { return bytes.Clone(ca.certPEM) }

// String describes the CA by subject and expiry; it never includes the key.
func (ca *CA) String() string {
	return fmt.Sprintf("pki.CA(CN=%q, expires %s)", ca.cert.Subject.CommonName, stamp(ca.cert.NotAfter))
}

// GoString is String, so that %#v cannot print the key either.
func (ca *CA) GoString() string { return ca.String() }

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil // never zero
}

func checkCommonName(cn string) error {
	switch {
	case strings.TrimSpace(cn) == "":
		return fmt.Errorf("%w: empty common name", ErrInvalid)
	case len(cn) > maxCommonName:
		return fmt.Errorf("%w: common name %q is %d bytes, longer than the X.509 limit of %d", ErrInvalid, cn, len(cn), maxCommonName)
	case strings.ContainsFunc(cn, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%w: common name %q contains control characters", ErrInvalid, cn)
	case strings.HasPrefix(cn, "*"):
		// Reserved: wildcard-looking names, and the privacy ledger's
		// non-site parties ("*clients", "*records").
		return fmt.Errorf("%w: common name %q starts with \"*\", which is reserved", ErrInvalid, cn)
	}
	return nil
}

// ipsString formats a list of IPs for error messages.
func ipsString(ips []net.IP) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}
