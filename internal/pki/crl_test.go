package pki_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cohortfl/cohort/internal/pki"
)

func TestRevocationListRoundTrip(t *testing.T) {
	ca, err := pki.NewCA("CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	revokedAt := now.Add(-time.Hour)
	l, err := ca.SignRevocationList(big.NewInt(7), []pki.Revocation{
		{Serial: big.NewInt(0x1234), RevokedAt: revokedAt, Reason: 1},
		{Serial: big.NewInt(0x99), RevokedAt: revokedAt},
	}, now, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(l.PEM(), []byte("-----BEGIN X509 CRL-----")) {
		t.Errorf("PEM() = %.40q; want an X509 CRL block", l.PEM())
	}
	back, err := pki.ParseRevocationList(l.PEM(), ca.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	if back.Number().Int64() != 7 || !back.NextUpdate().Equal(now.Add(24*time.Hour)) || len(back.Entries()) != 2 {
		t.Errorf("parsed list: number %v, next update %v, %d entries; want 7, %v, 2", back.Number(), back.NextUpdate(), len(back.Entries()), now.Add(24*time.Hour))
	}
	r, ok := back.Lookup(big.NewInt(0x1234))
	if !ok || !r.RevokedAt.Equal(revokedAt) || r.Reason != 1 {
		t.Errorf("Lookup(0x1234) = %+v, %v; want revoked at %v, reason 1", r, ok, revokedAt)
	}
	if _, ok := back.Lookup(big.NewInt(0x1235)); ok {
		t.Error("Lookup(0x1235) = revoked; want not revoked")
	}
	if err := back.CheckFresh(now.Add(time.Hour)); err != nil {
		t.Errorf("CheckFresh within the window = %v", err)
	}
	err = back.CheckFresh(now.Add(25 * time.Hour))
	if !errors.Is(err, pki.ErrStaleCRL) || !strings.Contains(err.Error(), "expired at 2026-03-02T12:00:00Z") {
		t.Errorf("CheckFresh after NextUpdate = %v; want ErrStaleCRL naming the date", err)
	}
	if err := back.CheckFresh(now.Add(-time.Hour)); !errors.Is(err, pki.ErrStaleCRL) || !strings.Contains(err.Error(), "future") {
		t.Errorf("CheckFresh before ThisUpdate = %v; want ErrStaleCRL 'in the future'", err)
	}
}

func TestRevocationListFromOtherCARefused(t *testing.T) {
	ours, err := pki.NewCA("Our CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := pki.NewCA("Rogue CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	l, err := rogue.SignRevocationList(big.NewInt(1), nil, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, err = pki.ParseRevocationList(l.PEM(), ours.Certificate())
	if !errors.Is(err, pki.ErrBadCRL) || !strings.Contains(err.Error(), "signed by a different CA") || !strings.Contains(err.Error(), `"Rogue CA"`) {
		t.Errorf("ParseRevocationList(rogue list) = %v; want ErrBadCRL 'signed by a different CA' naming Rogue CA", err)
	}
	if _, err := pki.ParseRevocationList([]byte("garbage"), ours.Certificate()); !errors.Is(err, pki.ErrBadCRL) {
		t.Errorf("ParseRevocationList(garbage) = %v; want ErrBadCRL", err)
	}
	cert, _, err := ours.Issue("x", pki.Client, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.ParseRevocationList(cert, ours.Certificate()); !errors.Is(err, pki.ErrBadCRL) || !strings.Contains(err.Error(), `"CERTIFICATE"`) {
		t.Errorf("ParseRevocationList(certificate) = %v; want ErrBadCRL naming the block type", err)
	}
}

// TestAuthorityLifecycle issues, renews and revokes through a CA directory
// and checks the index, the CRL numbers and the files written.
func TestAuthorityLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	if _, err := pki.CreateAuthority(dir, "Consortium CA", 24*time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{pki.CACertFile, pki.CAKeyFile, pki.CRLFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("CreateAuthority did not write %s: %v", f, err)
		}
	}
	if _, err := pki.CreateAuthority(dir, "Second CA", 24*time.Hour, time.Hour); !errors.Is(err, pki.ErrExists) || !strings.Contains(err.Error(), "a CA already exists") {
		t.Errorf("CreateAuthority over an existing CA = %v; want ErrExists 'a CA already exists'", err)
	}
	a, err := pki.OpenAuthority(dir)
	if err != nil {
		t.Fatal(err)
	}
	l0, err := a.RevocationList()
	if err != nil {
		t.Fatal(err)
	}
	if l0.Number().Int64() != 1 || len(l0.Entries()) != 0 {
		t.Errorf("initial list: number %v with %d entries; want 1 and none", l0.Number(), len(l0.Entries()))
	}

	issue := func(name string, role pki.ConsortiumRole) *x509.Certificate {
		t.Helper()
		req, err := pki.NewRequest(name, role, nil, nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		_, _, c, err := a.Issue(req)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	siteA1 := issue("site-a", pki.RoleSite)
	siteA2 := issue("site-a", pki.RoleSite) // a renewal
	alice := issue("alice", pki.RoleAdmin)
	issued, err := a.Issued()
	if err != nil {
		t.Fatal(err)
	}
	if len(issued) != 3 {
		t.Fatalf("Issued() has %d certificates; want 3", len(issued))
	}
	if got, err := a.Lookup(alice.SerialNumber); err != nil || !got.Equal(alice) {
		t.Errorf("Lookup(alice) = %v, %v; want alice's certificate", got, err)
	}

	l1, err := a.Revoke([]pki.Revocation{{Serial: siteA1.SerialNumber}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := a.Revoke([]pki.Revocation{{Serial: siteA1.SerialNumber}, {Serial: siteA2.SerialNumber, Reason: 1}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l3, err := a.RefreshCRL(2 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range []*pki.RevocationList{l1, l2, l3} {
		if want := int64(i + 2); l.Number().Int64() != want {
			t.Errorf("list %d has number %v; want %d (numbers must increase)", i+1, l.Number(), want)
		}
	}
	if n := len(l3.Entries()); n != 2 {
		t.Errorf("after revoking site-a twice over and refreshing: %d entries; want 2 (no duplicates)", n)
	}
	r1, _ := l1.Lookup(siteA1.SerialNumber)
	r3, _ := l3.Lookup(siteA1.SerialNumber)
	if !r1.RevokedAt.Equal(r3.RevokedAt) {
		t.Errorf("revocation date of site-a #1 changed from %v to %v on re-signing", r1.RevokedAt, r3.RevokedAt)
	}
	onDisk, err := pki.LoadRevocationList(a.CRLPath(), a.CA().Certificate())
	if err != nil {
		t.Fatal(err)
	}
	if onDisk.Number().Int64() != 4 {
		t.Errorf("crl.pem on disk has number %v; want 4", onDisk.Number())
	}
	now := time.Now()
	for _, tt := range []struct {
		c    *x509.Certificate
		want pki.CertStatus
	}{{siteA1, pki.StatusRevoked}, {siteA2, pki.StatusRevoked}, {alice, pki.StatusValid}} {
		if got := pki.CertStatusAt(tt.c, onDisk, now); got != tt.want {
			t.Errorf("status of %s = %s; want %s", pki.Describe(tt.c), got, tt.want)
		}
	}
	if got := pki.CertStatusAt(alice, onDisk, now.Add(2*time.Hour)); got != pki.StatusExpired {
		t.Errorf("status of alice in 2h = %s; want expired", got)
	}
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left in the CA directory", e.Name())
		}
	}
}

func TestRenewBundleTouchesOnlyItsFiles(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"site-a", "site-b"} {
		if err := ca.IssueBundle(dir, n, pki.Client, nil, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := func() map[string][]byte {
		m := map[string][]byte{}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			m[e.Name()] = b
		}
		return m
	}
	before := snapshot()
	cert, key, err := ca.Issue("site-a", pki.Client, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.RenewBundle(dir, "site-a", ca.CertPEM(), cert, key); err != nil {
		t.Fatal(err)
	}
	after := snapshot()
	if len(after) != len(before) {
		t.Errorf("files before %d, after %d; want the same set", len(before), len(after))
	}
	for name, b := range before {
		changed := !bytes.Equal(after[name], b)
		want := name == "site-a.pem" || name == "site-a-key.pem"
		if changed != want {
			t.Errorf("%s changed = %v; want %v", name, changed, want)
		}
	}
	if !bytes.Equal(after["site-a.pem"], cert) || !bytes.Equal(after["site-a-key.pem"], key) {
		t.Error("renewed files do not hold the new certificate and key")
	}
	fi, err := os.Stat(filepath.Join(dir, "site-a-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("renewed key mode = %v; want 0600", fi.Mode().Perm())
	}
	other, err := pki.NewCA("Other", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c2, k2, err := other.Issue("site-a", pki.Client, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.RenewBundle(dir, "site-a", other.CertPEM(), c2, k2); !errors.Is(err, pki.ErrExists) {
		t.Errorf("RenewBundle with another CA = %v; want ErrExists", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "site-a.pem")); !bytes.Equal(b, cert) {
		t.Error("a refused RenewBundle changed site-a.pem")
	}
}

func TestParseSerialAndReason(t *testing.T) {
	for _, s := range []string{"1f2e", "0x1F2E", "1f:2e", " 1F2E "} {
		if n, err := pki.ParseSerial(s); err != nil || n.Int64() != 0x1f2e {
			t.Errorf("ParseSerial(%q) = %v, %v; want 0x1f2e", s, n, err)
		}
	}
	for _, s := range []string{"", "0", "xyz", "-5"} {
		if _, err := pki.ParseSerial(s); !errors.Is(err, pki.ErrInvalid) {
			t.Errorf("ParseSerial(%q) = %v; want ErrInvalid", s, err)
		}
	}
	if c, err := pki.ParseReason("KeyCompromise"); err != nil || c != 1 || pki.ReasonName(c) != "keyCompromise" {
		t.Errorf("ParseReason(KeyCompromise) = %d, %v", c, err)
	}
	if _, err := pki.ParseReason("bored"); !errors.Is(err, pki.ErrInvalid) {
		t.Errorf("ParseReason(bored) = %v; want ErrInvalid", err)
	}
}
