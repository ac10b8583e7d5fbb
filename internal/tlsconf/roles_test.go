package tlsconf_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/tlsconf"
)

// issueAs writes a bundle for role, valid for the next hour.
func (f *federation) issueAs(cn string, role pki.ConsortiumRole) files {
	f.t.Helper()
	now := time.Now()
	return f.issueRequest(pki.Request{CommonName: cn, ConsortiumRole: role, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour)})
}

// writeCRL signs a revocation list revoking serials and writes it to path.
func (f *federation) writeCRL(path string, number int64, nextUpdate time.Time, serials ...*big.Int) {
	f.t.Helper()
	var entries []pki.Revocation
	for _, s := range serials {
		entries = append(entries, pki.Revocation{Serial: s, RevokedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	}
	l, err := f.ca.SignRevocationList(big.NewInt(number), entries, time.Now().Add(-time.Minute), nextUpdate)
	if err != nil {
		f.t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, l.PEM(), 0o644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		f.t.Fatal(err)
	}
}

func leafOf(t *testing.T, f files) *x509.Certificate {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		t.Fatal(err)
	}
	return kp.Leaf
}

// legacyBundle writes a CA and a client certificate without a role (no
// Subject OU), as issued before roles existed.
func legacyBundle(t *testing.T) files {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Old CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "old-site"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := files{cert: filepath.Join(dir, "old-site.pem"), key: filepath.Join(dir, "old-site-key.pem"), ca: filepath.Join(dir, "ca.pem")}
	for path, b := range map[string]*pem.Block{f.ca: {Type: "CERTIFICATE", Bytes: caDER}, f.cert: {Type: "CERTIFICATE", Bytes: der}, f.key: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// TestBundleRoleErrors checks that a bundle used for the wrong purpose is
// refused at load time with a message naming its role and the one needed.
func TestBundleRoleErrors(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	site := fed.issueAs("site-a", pki.RoleSite)
	auditor := fed.issueAs("carol", pki.RoleAuditor)
	admin := fed.issueAs("alice", pki.RoleAdmin)
	coord := fed.issueAs("coordinator", pki.RoleCoordinator)
	legacy := legacyBundle(t)
	asSite := func(f files) error {
		_, err := tlsconf.ClientConfig(f.cert, f.key, f.ca, "", tlsconf.WithUse(tlsconf.UseSite))
		return err
	}
	asOperator := func(f files) error {
		_, err := tlsconf.ClientConfig(f.cert, f.key, f.ca, "", tlsconf.WithUse(tlsconf.UseOperator))
		return err
	}
	asServer := func(f files) error { _, err := tlsconf.ServerConfig(f.cert, f.key, f.ca); return err }
	tests := []struct {
		name string
		load func(files) error
		in   files
		want error
		msg  []string
	}{
		{"auditor runs a site", asSite, auditor, tlsconf.ErrWrongRole, []string{`"carol"`, "has role auditor, but running a site needs role site"}},
		{"admin runs a site", asSite, admin, tlsconf.ErrWrongRole, []string{"has role admin"}},
		{"site uses the admin API", asOperator, site, tlsconf.ErrWrongRole, []string{"has role site, but using the admin API needs role admin or auditor"}},
		{"site certificate serves as coordinator", asServer, site, tlsconf.ErrMissingUsage, []string{"needs serverAuth"}},
		{"certificate without a role", asSite, legacy, pki.ErrNoRole, []string{`"old-site"`, "no role", "renew"}},
		{"site runs a site", asSite, site, nil, nil},
		{"auditor uses the admin API", asOperator, auditor, nil, nil},
		{"admin uses the admin API", asOperator, admin, nil, nil},
		{"coordinator serves", asServer, coord, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.load(tt.in)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("load = %v; want success", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("load = %v; want %v", err, tt.want)
			}
			var fe *tlsconf.FileError
			if !errors.As(err, &fe) || fe.Path != tt.in.cert {
				t.Errorf("error %v does not name the certificate file %s", err, tt.in.cert)
			}
			for _, m := range tt.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

// TestCheckBundleReportsEveryProblem: CheckBundle reports all failures, not
// only the first, and skips checks that depend on a failed one.
func TestCheckBundleReportsEveryProblem(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	stale := fed.issueWindow("stale", pki.Client, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	other := fed.issueAs("other", pki.RoleSite)
	rep := tlsconf.CheckBundle(stale.cert, other.key, stale.ca, tlsconf.UseOperator)
	got := map[string]string{}
	for _, c := range rep.Checks {
		got[c.Name] = c.Status
	}
	want := map[string]string{
		tlsconf.CheckCA: tlsconf.StatusOK, tlsconf.CheckCertificate: tlsconf.StatusOK, tlsconf.CheckKey: tlsconf.StatusFail,
		tlsconf.CheckValidity: tlsconf.StatusFail, tlsconf.CheckIssuer: tlsconf.StatusOK, tlsconf.CheckUsage: tlsconf.StatusOK,
		tlsconf.CheckRole: tlsconf.StatusFail, tlsconf.CheckRevocation: tlsconf.StatusSkipped,
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("check %s = %q; want %q", name, got[name], w)
		}
	}
	if err := rep.Err(); !errors.Is(err, tlsconf.ErrKeyMismatch) {
		t.Errorf("Err() = %v; want the first failure, ErrKeyMismatch", err)
	}
	for _, c := range rep.Checks {
		if c.Name == tlsconf.CheckValidity && !strings.Contains(c.Detail, "expired at 2021-01-01T00:00:00Z") {
			t.Errorf("validity detail %q does not say when it expired", c.Detail)
		}
	}

	rep = tlsconf.CheckBundle(filepath.Join(t.TempDir(), "missing.pem"), other.key, other.ca, tlsconf.UseSite)
	for _, c := range rep.Checks {
		switch c.Name {
		case tlsconf.CheckCertificate:
			if c.Status != tlsconf.StatusFail {
				t.Errorf("missing certificate: check %s = %s; want fail", c.Name, c.Status)
			}
		case tlsconf.CheckCA:
		default:
			if c.Status != tlsconf.StatusSkipped {
				t.Errorf("missing certificate: dependent check %s = %s; want skipped", c.Name, c.Status)
			}
		}
	}
}

func TestCRLChecker(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	siteA, siteB := fed.issueAs("site-a", pki.RoleSite), fed.issueAs("site-b", pki.RoleSite)
	a, b := leafOf(t, siteA), leafOf(t, siteB)
	crlFile := filepath.Join(t.TempDir(), "crl.pem")
	later := time.Now().Add(time.Hour)
	fed.writeCRL(crlFile, 1, later)

	c, err := tlsconf.NewCRLChecker(crlFile, siteA.ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckRevocation(b, nil); err != nil {
		t.Fatalf("site-b before revocation: %v", err)
	}
	changed := c.Changed()

	// Revoking needs no restart: the next check reads the new file.
	fed.writeCRL(crlFile, 2, later, b.SerialNumber)
	err = c.CheckRevocation(b, nil)
	if !errors.Is(err, tlsconf.ErrRevoked) || !strings.Contains(err.Error(), "revoked at 2026-01-02T03:04:05Z") || !strings.Contains(err.Error(), "number 2") {
		t.Errorf("site-b after revocation = %v; want ErrRevoked with the date and the list number", err)
	}
	select {
	case <-changed:
	default:
		t.Error("Changed() channel not closed after a new list was loaded")
	}
	if err := c.CheckRevocation(a, nil); err != nil {
		t.Errorf("site-a (not revoked) = %v", err)
	}

	// An older list copied over the newer one is refused, and refuses everyone.
	fed.writeCRL(crlFile, 1, later)
	if err := c.CheckRevocation(a, nil); !errors.Is(err, tlsconf.ErrCRLUnusable) || !strings.Contains(err.Error(), "lower than number 2") {
		t.Errorf("after a rollback to list 1: %v; want ErrCRLUnusable 'lower than number 2'", err)
	}
	// Connections already open are judged by the last good list.
	if err := c.CheckKnown(a); err != nil {
		t.Errorf("CheckKnown(site-a) with a bad file = %v; want nil (last good list)", err)
	}
	if err := c.CheckKnown(b); !errors.Is(err, tlsconf.ErrRevoked) {
		t.Errorf("CheckKnown(site-b) with a bad file = %v; want ErrRevoked (last good list)", err)
	}

	// A list from another CA, or garbage, is refused too.
	rogue := newFederation(t, "Rogue CA")
	rogue.writeCRL(crlFile, 9, later)
	if err := c.CheckRevocation(a, nil); !errors.Is(err, tlsconf.ErrCRLUnusable) || !strings.Contains(err.Error(), "signed by a different CA") {
		t.Errorf("with a list signed by another CA: %v; want ErrCRLUnusable 'signed by a different CA'", err)
	}
	if err := os.WriteFile(crlFile, []byte("-----BEGIN X509 CRL-----\ntruncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckRevocation(a, nil); !errors.Is(err, tlsconf.ErrCRLUnusable) {
		t.Errorf("with a truncated list: %v; want ErrCRLUnusable", err)
	}
	// A good list again: back to normal without a restart.
	fed.writeCRL(crlFile, 3, later, b.SerialNumber)
	if err := c.CheckRevocation(a, nil); err != nil {
		t.Errorf("site-a after the list was fixed = %v", err)
	}

	// Past its NextUpdate the list refuses everyone, saying when it expired.
	clock := func() time.Time { return later.Add(time.Minute) }
	stale, err := tlsconf.NewCRLChecker(crlFile, siteA.ca, tlsconf.WithClock(clock))
	if err == nil || !errors.Is(err, pki.ErrStaleCRL) || !strings.Contains(err.Error(), "expired at") {
		t.Errorf("NewCRLChecker with a stale list = %v, %v; want ErrStaleCRL 'expired at'", stale, err)
	}
	if _, err := tlsconf.NewCRLChecker(filepath.Join(t.TempDir(), "none.pem"), siteA.ca); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewCRLChecker(missing file) = %v; want ErrNotExist", err)
	}
}

// TestRevokedBundleRefusedAtLoad: a bundle whose own certificate is revoked
// does not load.
func TestRevokedBundleRefusedAtLoad(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	site := fed.issueAs("site-a", pki.RoleSite)
	crlFile := filepath.Join(t.TempDir(), "crl.pem")
	fed.writeCRL(crlFile, 1, time.Now().Add(time.Hour), leafOf(t, site).SerialNumber)
	c, err := tlsconf.NewCRLChecker(crlFile, site.ca)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tlsconf.ClientConfig(site.cert, site.key, site.ca, "", tlsconf.WithRevocationChecker(c), tlsconf.WithUse(tlsconf.UseSite))
	if !errors.Is(err, tlsconf.ErrRevoked) || !strings.Contains(err.Error(), `"site-a"`) || !strings.Contains(err.Error(), site.cert) {
		t.Errorf("ClientConfig(revoked) = %v; want ErrRevoked naming site-a and its file", err)
	}
}

// TestCRLOverGRPC revokes a site while the server runs: its next connection
// is refused, the other site's is not, and no handler runs for it.
func TestCRLOverGRPC(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	srv := fed.issueAs("coordinator", pki.RoleCoordinator)
	siteA, siteB := fed.issueAs("site-a", pki.RoleSite), fed.issueAs("site-b", pki.RoleSite)
	crlFile := filepath.Join(t.TempDir(), "crl.pem")
	later := time.Now().Add(time.Hour)
	fed.writeCRL(crlFile, 1, later)
	c, err := tlsconf.NewCRLChecker(crlFile, srv.ca)
	if err != nil {
		t.Fatal(err)
	}
	addr, impl := serve(t, serverCreds(t, srv, tlsconf.WithRevocationChecker(c)))
	if err := call(t, addr, clientCreds(t, siteB), nil); err != nil {
		t.Fatalf("site-b before revocation: %v", err)
	}
	fed.writeCRL(crlFile, 2, later, leafOf(t, siteB).SerialNumber)
	if err := call(t, addr, clientCreds(t, siteB), nil); status.Code(err) != codes.Unavailable {
		t.Errorf("site-b after revocation: %v; want Unavailable", err)
	}
	if err := rawAlert(t, addr, rawClientTLS(t, &siteB, srv.ca)); err == nil || !strings.Contains(err.Error(), "bad certificate") {
		t.Errorf("site-b raw TLS read = %v; want a bad certificate alert", err)
	}
	if err := call(t, addr, clientCreds(t, siteA), nil); err != nil {
		t.Errorf("site-a after site-b's revocation: %v", err)
	}
	if got := strings.Join(impl.seen(), ","); got != "site-b,site-a" {
		t.Errorf("handler saw %s; want site-b,site-a", got)
	}
}

// TestClientRefusesServerWithoutCoordinatorRole: a site only talks to a
// server whose certificate has the coordinator role.
func TestClientRefusesServerWithoutCoordinatorRole(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	site := fed.issueAs("site-a", pki.RoleSite)
	cfg, err := tlsconf.ClientConfig(site.cert, site.key, site.ca, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	leaf := leafOf(t, site) // clientAuth only, role site
	err = cfg.VerifyConnection(tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}})
	if !errors.Is(err, tlsconf.ErrWrongRole) || !strings.Contains(err.Error(), "want coordinator") {
		t.Errorf("VerifyConnection(server with a site certificate) = %v; want ErrWrongRole 'want coordinator'", err)
	}
	coord := leafOf(t, fed.issueAs("coordinator", pki.RoleCoordinator))
	if err := cfg.VerifyConnection(tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{coord}}}); err != nil {
		t.Errorf("VerifyConnection(coordinator) = %v", err)
	}
}
