package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// IssuedDir is the directory, inside a CA directory, holding a copy of every
// certificate the CA issued, named by serial number (SERIAL.pem, lower-case
// hex). It holds no keys. It lets `cohort provision revoke NAME` and `renew
// NAME` find a party's certificates by name.
const IssuedDir = "issued"

// Authority is a CA directory, as made by CreateAuthority:
//
//	ca.pem        the CA certificate, every party's trust anchor
//	ca-key.pem    the CA key (0600; keep the directory offline)
//	crl.pem       the revocation list signed by the CA, with a CRL number
//	              that grows with every list
//	issued/       a copy of every certificate issued, SERIAL.pem
//
// An Authority is not safe for concurrent use, and two processes must not
// change the same directory at once: run one `cohort provision` at a time.
type Authority struct {
	dir string
	ca  *CA
	now func() time.Time
}

// CreateAuthority makes a new CA named name, valid for validFor, in dir,
// with an empty revocation list valid for crlValidFor. It refuses, with
// ErrExists, if dir already holds a CA certificate or key: an existing CA is
// never replaced.
func CreateAuthority(dir, name string, validFor, crlValidFor time.Duration) (*Authority, error) {
	for _, f := range []string{CACertFile, CAKeyFile} {
		p := filepath.Join(dir, f)
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("%w: a CA already exists in %s (%s); refusing to replace it (move the directory away to start a new consortium)", ErrExists, dir, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("pki: create CA in %s: %w", dir, err)
		}
	}
	ca, err := NewCA(name, validFor)
	if err != nil {
		return nil, err
	}
	if err := ca.Save(dir); err != nil {
		return nil, err
	}
	a := &Authority{dir: dir, ca: ca, now: time.Now}
	if err := os.MkdirAll(a.issuedDir(), 0o700); err != nil {
		return nil, fmt.Errorf("pki: create CA in %s: %w", dir, err)
	}
	if _, err := a.writeCRL(big.NewInt(1), nil, crlValidFor); err != nil {
		return nil, err
	}
	return a, nil
}

// OpenAuthority opens the CA directory dir (see LoadCA). A directory made
// before revocation lists existed has no crl.pem or issued/; they are created
// when first needed.
func OpenAuthority(dir string) (*Authority, error) {
	ca, err := LoadCA(dir)
	if err != nil {
		return nil, err
	}
	return &Authority{dir: dir, ca: ca, now: time.Now}, nil
}

// CA returns the authority's CA.
func (a *Authority) CA() *CA { return a.ca }

// CRLPath returns the path of the revocation list, dir/crl.pem.
func (a *Authority) CRLPath() string { return filepath.Join(a.dir, CRLFile) }

func (a *Authority) issuedDir() string { return filepath.Join(a.dir, IssuedDir) }

// Issue issues a certificate (see CA.IssueRequest) and records a copy in
// issued/. It returns the PEM certificate and key and the parsed certificate.
func (a *Authority) Issue(req Request) (certPEM, keyPEM []byte, cert *x509.Certificate, err error) {
	certPEM, keyPEM, err = a.ca.IssueRequest(req)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err = parseCertPEM(certPEM)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pki: issue %q: %w", req.CommonName, err)
	}
	if err := os.MkdirAll(a.issuedDir(), 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("pki: record issued certificate: %w", err)
	}
	if err := writeNew(a.issuedPath(cert.SerialNumber), certPEM, 0o644); err != nil {
		return nil, nil, nil, fmt.Errorf("pki: record issued certificate: %w", err)
	}
	return certPEM, keyPEM, cert, nil
}

// Discard removes the record of a certificate Issue returned moments ago
// whose bundle could not be written; its key is lost, so nobody can use it.
func (a *Authority) Discard(cert *x509.Certificate) error {
	return os.Remove(a.issuedPath(cert.SerialNumber))
}

func (a *Authority) issuedPath(serial *big.Int) string {
	return filepath.Join(a.issuedDir(), fmt.Sprintf("%x.pem", serial))
}

// Issued returns every certificate recorded in issued/, oldest first.
// Certificates issued before the directory existed are not listed.
func (a *Authority) Issued() ([]*x509.Certificate, error) {
	ents, err := os.ReadDir(a.issuedDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pki: list issued certificates: %w", err)
	}
	type rec struct {
		c       *x509.Certificate
		written time.Time
	}
	var recs []rec
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".pem") {
			continue
		}
		p := filepath.Join(a.issuedDir(), e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("pki: list issued certificates: %w", err)
		}
		c, err := parseCertPEM(data)
		if err != nil {
			return nil, fmt.Errorf("pki: list issued certificates: %s: %w", p, err)
		}
		var written time.Time
		if fi, err := e.Info(); err == nil {
			written = fi.ModTime()
		}
		recs = append(recs, rec{c, written})
	}
	// Certificates carry whole seconds; the record's write time orders two
	// issued within the same second.
	slices.SortStableFunc(recs, func(x, y rec) int {
		if c := x.c.NotBefore.Compare(y.c.NotBefore); c != 0 {
			return c
		}
		if c := x.written.Compare(y.written); c != 0 {
			return c
		}
		return x.c.SerialNumber.Cmp(y.c.SerialNumber)
	})
	out := make([]*x509.Certificate, len(recs))
	for i, r := range recs {
		out[i] = r.c
	}
	return out, nil
}

// Lookup returns the recorded certificate with serial.
func (a *Authority) Lookup(serial *big.Int) (*x509.Certificate, error) {
	data, err := os.ReadFile(a.issuedPath(serial))
	if err != nil {
		return nil, fmt.Errorf("pki: certificate with serial %x: %w", serial, err)
	}
	return parseCertPEM(data)
}

// RevocationList returns the CA's current revocation list, verified. A CA
// directory made before revocation lists existed has none: the result is then
// an empty, unsigned list with number 0.
func (a *Authority) RevocationList() (*RevocationList, error) {
	l, err := LoadRevocationList(a.CRLPath(), a.ca.cert)
	if errors.Is(err, fs.ErrNotExist) {
		return &RevocationList{number: new(big.Int), bySerial: map[string]int{}}, nil
	}
	return l, err
}

// Revoke adds the given certificates to the revocation list and writes a new
// list, signed, with the next CRL number and valid for crlValidFor. Entries
// already on the list keep their original date. The file is replaced
// atomically, so a coordinator reloading it never reads half a list.
func (a *Authority) Revoke(add []Revocation, crlValidFor time.Duration) (*RevocationList, error) {
	cur, err := a.RevocationList()
	if err != nil {
		return nil, err
	}
	entries := cur.Entries()
	for _, e := range add {
		if _, done := cur.Lookup(e.Serial); done {
			continue
		}
		if e.RevokedAt.IsZero() {
			e.RevokedAt = a.now()
		}
		entries = append(entries, e)
	}
	return a.writeCRL(new(big.Int).Add(cur.number, big.NewInt(1)), entries, crlValidFor)
}

// RefreshCRL re-signs the current revocation list with the next CRL number
// and a new validity window, without changing its entries.
func (a *Authority) RefreshCRL(crlValidFor time.Duration) (*RevocationList, error) {
	return a.Revoke(nil, crlValidFor)
}

func (a *Authority) writeCRL(number *big.Int, entries []Revocation, validFor time.Duration) (*RevocationList, error) {
	if validFor <= 0 {
		return nil, fmt.Errorf("pki: revocation list: %w: validity %v must be positive", ErrInvalid, validFor)
	}
	now := a.now()
	l, err := a.ca.SignRevocationList(number, entries, now.Add(-clockSkew), now.Add(validFor))
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(a.CRLPath(), l.pem, 0o644); err != nil {
		return nil, fmt.Errorf("pki: write revocation list: %w", err)
	}
	return l, nil
}

// CertStatus is the state of an issued certificate at some time.
type CertStatus string

// Certificate states, in the order CertStatusAt checks them.
const (
	StatusRevoked     CertStatus = "revoked"
	StatusExpired     CertStatus = "expired"
	StatusNotYetValid CertStatus = "not-yet-valid"
	StatusValid       CertStatus = "valid"
)

// CertStatusAt returns the state of cert at now, given the revocation list
// crl (which may be nil).
func CertStatusAt(cert *x509.Certificate, crl *RevocationList, now time.Time) CertStatus {
	if crl != nil {
		if _, ok := crl.Lookup(cert.SerialNumber); ok {
			return StatusRevoked
		}
	}
	switch {
	case now.After(cert.NotAfter):
		return StatusExpired
	case now.Before(cert.NotBefore):
		return StatusNotYetValid
	}
	return StatusValid
}

// ParseSerial parses a serial number as printed by Cohort: hexadecimal,
// optionally with a 0x prefix or colons between bytes.
func ParseSerial(s string) (*big.Int, error) {
	h := strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "0x"), ":", "")
	n, ok := new(big.Int).SetString(h, 16)
	if !ok || n.Sign() <= 0 {
		return nil, fmt.Errorf("%w: serial %q is not a positive hexadecimal number", ErrInvalid, s)
	}
	return n, nil
}
