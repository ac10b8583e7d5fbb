package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"time"
)

// CRLFile is the revocation list's file name in a CA directory.
const CRLFile = "crl.pem"

// DefaultCRLValidity is how long a revocation list is valid (its NextUpdate)
// unless told otherwise. A coordinator refuses every connection once its list
// is past NextUpdate, so re-sign it (`cohort provision crl`) well before.
const DefaultCRLValidity = 90 * 24 * time.Hour

var (
	// ErrBadCRL reports a revocation list that cannot be used: unreadable,
	// not signed by the expected CA, or without a CRL number.
	ErrBadCRL = errors.New("pki: invalid revocation list")
	// ErrStaleCRL reports a revocation list past its NextUpdate (or whose
	// ThisUpdate is in the future).
	ErrStaleCRL = errors.New("pki: revocation list out of date")
)

// Revocation is one entry of a revocation list.
type Revocation struct {
	Serial    *big.Int
	RevokedAt time.Time
	// Reason is the RFC 5280 reason code (0, unspecified, is not encoded).
	Reason int
}

// RevocationList is a certificate revocation list whose signature has been
// verified against a CA certificate. It is immutable and safe for concurrent
// use.
type RevocationList struct {
	number     *big.Int
	thisUpdate time.Time
	nextUpdate time.Time
	entries    []Revocation
	bySerial   map[string]int
	pem        []byte
}

// Number returns the CRL number; each list a CA signs has a higher one.
func (l *RevocationList) Number() *big.Int { return new(big.Int).Set(l.number) }

// NextUpdate returns when the list stops being valid.
func (l *RevocationList) NextUpdate() time.Time { return l.nextUpdate }

// Entries returns a copy of the revoked certificates, in the list's order.
func (l *RevocationList) Entries() []Revocation {
	out := make([]Revocation, len(l.entries))
	for i, e := range l.entries {
		out[i] = Revocation{Serial: new(big.Int).Set(e.Serial), RevokedAt: e.RevokedAt, Reason: e.Reason}
	}
	return out
}

// PEM returns a copy of the PEM-encoded list ("X509 CRL").
func (l *RevocationList) PEM() []byte { return bytes.Clone(l.pem) }

// Lookup reports whether serial is revoked, and when.
func (l *RevocationList) Lookup(serial *big.Int) (Revocation, bool) {
	i, ok := l.bySerial[serial.String()]
	if !ok {
		return Revocation{}, false
	}
	return l.entries[i], true
}

// CheckFresh returns an error wrapping ErrStaleCRL if now is past the list's
// NextUpdate or before its ThisUpdate (less a few minutes of clock skew).
func (l *RevocationList) CheckFresh(now time.Time) error {
	switch {
	case now.After(l.nextUpdate):
		return fmt.Errorf("%w: revocation list number %d expired at %s (its NextUpdate; now %s): re-sign it with `cohort provision crl` and copy it over",
			ErrStaleCRL, l.number, stamp(l.nextUpdate), stamp(now))
	case now.Add(clockSkew).Before(l.thisUpdate):
		return fmt.Errorf("%w: revocation list number %d is dated %s, in the future (now %s; check the clocks)",
			ErrStaleCRL, l.number, stamp(l.thisUpdate), stamp(now))
	}
	return nil
}

// ParseRevocationList parses a PEM ("X509 CRL") or DER revocation list and
// verifies its signature against the first of issuers that signed it. It
// fails with ErrBadCRL, saying which CA the list names, if none did.
func ParseRevocationList(data []byte, issuers ...*x509.Certificate) (*RevocationList, error) {
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("%w: PEM block is %q, want \"X509 CRL\"", ErrBadCRL, block.Type)
		}
		der = block.Bytes
	} else if bytes.Contains(data, []byte("-----BEGIN")) {
		return nil, fmt.Errorf("%w: malformed PEM", ErrBadCRL)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCRL, err)
	}
	var issuer *x509.Certificate
	var names []string
	for _, c := range issuers {
		if c == nil {
			continue
		}
		names = append(names, fmt.Sprintf("%q (key %s)", c.Subject.CommonName, KeyID(c.SubjectKeyId)))
		if rl.CheckSignatureFrom(c) == nil {
			issuer = c
			break
		}
	}
	if issuer == nil {
		return nil, fmt.Errorf("%w: signed by a different CA: the list was signed by %q (key %s) and does not verify against %s",
			ErrBadCRL, rl.Issuer.CommonName, KeyID(rl.AuthorityKeyId), orNone(names))
	}
	if rl.Number == nil {
		return nil, fmt.Errorf("%w: no CRL number", ErrBadCRL)
	}
	l := &RevocationList{
		number:     rl.Number,
		thisUpdate: rl.ThisUpdate,
		nextUpdate: rl.NextUpdate,
		bySerial:   map[string]int{},
		pem:        encodePEM("X509 CRL", rl.Raw),
	}
	if l.nextUpdate.IsZero() {
		return nil, fmt.Errorf("%w: number %d has no NextUpdate", ErrBadCRL, rl.Number)
	}
	for _, e := range rl.RevokedCertificateEntries {
		if _, dup := l.bySerial[e.SerialNumber.String()]; dup {
			continue
		}
		l.bySerial[e.SerialNumber.String()] = len(l.entries)
		l.entries = append(l.entries, Revocation{Serial: e.SerialNumber, RevokedAt: e.RevocationTime, Reason: e.ReasonCode})
	}
	return l, nil
}

// LoadRevocationList reads and verifies the revocation list in path (see
// ParseRevocationList). Errors name the file.
func LoadRevocationList(path string, issuers ...*x509.Certificate) (*RevocationList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: revocation list: %w", err)
	}
	l, err := ParseRevocationList(data, issuers...)
	if err != nil {
		return nil, fmt.Errorf("revocation list %s: %w", path, err)
	}
	return l, nil
}

// SignRevocationList signs a revocation list with the given number, entries
// and validity window (x509.CreateRevocationList).
func (ca *CA) SignRevocationList(number *big.Int, entries []Revocation, thisUpdate, nextUpdate time.Time) (*RevocationList, error) {
	if number == nil || number.Sign() <= 0 {
		return nil, fmt.Errorf("pki: sign revocation list: %w: CRL number %v must be positive", ErrInvalid, number)
	}
	if !nextUpdate.After(thisUpdate) {
		return nil, fmt.Errorf("pki: sign revocation list: %w: NextUpdate %s is not after ThisUpdate %s", ErrInvalid, stamp(nextUpdate), stamp(thisUpdate))
	}
	tmpl := &x509.RevocationList{Number: number, ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	for _, e := range entries {
		if e.Serial == nil {
			return nil, fmt.Errorf("pki: sign revocation list: %w: entry without a serial number", ErrInvalid)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: e.Serial, RevocationTime: e.RevokedAt.UTC(), ReasonCode: e.Reason})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign revocation list: %w", err)
	}
	return ParseRevocationList(der, ca.cert)
}

type reasonName struct {
	name string
	code int
}

// Revocation reasons (RFC 5280 section 5.3.1) accepted by ParseReason.
var reasons = []reasonName{
	{"unspecified", 0}, {"keyCompromise", 1}, {"affiliationChanged", 3},
	{"superseded", 4}, {"cessationOfOperation", 5},
}

// ParseReason parses a revocation reason name (case-insensitive):
// unspecified, keyCompromise, affiliationChanged, superseded or
// cessationOfOperation.
func ParseReason(s string) (int, error) {
	var names []string
	for _, r := range reasons {
		if strings.EqualFold(r.name, s) {
			return r.code, nil
		}
		names = append(names, r.name)
	}
	return 0, fmt.Errorf("%w: unknown revocation reason %q (want %s)", ErrInvalid, s, strings.Join(names, ", "))
}

// ReasonName names an RFC 5280 reason code.
func ReasonName(code int) string {
	i := slices.IndexFunc(reasons, func(r reasonName) bool { return r.code == code })
	if i < 0 {
		return fmt.Sprintf("reason(%d)", code)
	}
	return reasons[i].name
}

// KeyID formats a subject or authority key identifier for messages: its
// first 8 bytes in hex, enough to tell two CAs of the same name apart.
func KeyID(id []byte) string {
	if len(id) == 0 {
		return "unknown"
	}
	if len(id) > 8 {
		id = id[:8]
	}
	return fmt.Sprintf("%x", id)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func orNone(names []string) string {
	if len(names) == 0 {
		return "no CA certificate"
	}
	return strings.Join(names, ", ")
}
