package pki_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cohortfl/cohort/internal/pki"
)

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", certPEM)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func verify(ca *pki.CA, c *x509.Certificate, usage x509.ExtKeyUsage) error {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	_, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

func TestIssueRoles(t *testing.T) {
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Certificate().IsCA {
		t.Fatal("CA certificate has IsCA = false")
	}
	tests := []struct {
		role       pki.Role
		dns        []string
		ips        []net.IP
		wantServer bool
		wantClient bool
	}{
		{pki.Server, []string{"coord.example"}, []net.IP{net.IPv4(127, 0, 0, 1)}, true, false},
		{pki.Client, nil, nil, false, true},
		{pki.Server | pki.Client, []string{"localhost"}, nil, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.role.String(), func(t *testing.T) {
			certPEM, keyPEM, err := ca.Issue("party", tt.role, tt.dns, tt.ips, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			c := parse(t, certPEM)
			if c.Subject.CommonName != "party" {
				t.Errorf("CN = %q; want party", c.Subject.CommonName)
			}
			if c.IsCA {
				t.Error("leaf has IsCA = true")
			}
			if got := verify(ca, c, x509.ExtKeyUsageServerAuth) == nil; got != tt.wantServer {
				t.Errorf("verifies for serverAuth = %v; want %v", got, tt.wantServer)
			}
			if got := verify(ca, c, x509.ExtKeyUsageClientAuth) == nil; got != tt.wantClient {
				t.Errorf("verifies for clientAuth = %v; want %v", got, tt.wantClient)
			}
			if tt.wantServer {
				host := "localhost"
				if len(tt.ips) > 0 {
					host = "127.0.0.1"
				}
				if err := c.VerifyHostname(host); err != nil {
					t.Errorf("VerifyHostname(%q) = %v", host, err)
				}
			}
			if !bytes.Contains(keyPEM, []byte("-----BEGIN PRIVATE KEY-----")) {
				t.Errorf("key is not PKCS #8 PEM")
			}
		})
	}
}

func TestIssueFromOtherCAFailsVerification(t *testing.T) {
	a, err := pki.NewCA("A", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pki.NewCA("B", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := b.Issue("site", pki.Client, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(a, parse(t, certPEM), x509.ExtKeyUsageClientAuth); err == nil {
		t.Fatal("certificate from CA B verified against CA A")
	}
}

func TestIssueRequestWindow(t *testing.T) {
	ca, err := pki.NewCA("CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nb := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(time.Hour)
	certPEM, _, err := ca.IssueRequest(pki.Request{CommonName: "old", Role: pki.Client, NotBefore: nb, NotAfter: na})
	if err != nil {
		t.Fatal(err)
	}
	c := parse(t, certPEM)
	if !c.NotBefore.Equal(nb) || !c.NotAfter.Equal(na) {
		t.Errorf("window = [%v, %v]; want [%v, %v]", c.NotBefore, c.NotAfter, nb, na)
	}
}

func TestIssueRejectsBadRequests(t *testing.T) {
	ca, err := pki.NewCA("CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name string
		req  pki.Request
	}{
		{"empty CN", pki.Request{CommonName: "", Role: pki.Client, NotBefore: now, NotAfter: now.Add(time.Hour)}},
		{"long CN", pki.Request{CommonName: strings.Repeat("x", 65), Role: pki.Client, NotBefore: now, NotAfter: now.Add(time.Hour)}},
		{"reserved CN", pki.Request{CommonName: "*records", Role: pki.Client, NotBefore: now, NotAfter: now.Add(time.Hour)}},
		{"no role", pki.Request{CommonName: "a", NotBefore: now, NotAfter: now.Add(time.Hour)}},
		{"server without SAN", pki.Request{CommonName: "a", Role: pki.Server, NotBefore: now, NotAfter: now.Add(time.Hour)}},
		{"bad DNS name", pki.Request{CommonName: "a", Role: pki.Server, DNSNames: []string{"a b"}, NotBefore: now, NotAfter: now.Add(time.Hour)}},
		{"bad IP", pki.Request{CommonName: "a", Role: pki.Server, IPs: []net.IP{{1, 2, 3}}, NotBefore: now, NotAfter: now.Add(time.Hour)}},
		{"inverted window", pki.Request{CommonName: "a", Role: pki.Client, NotBefore: now, NotAfter: now.Add(-time.Hour)}},
		{"zero window", pki.Request{CommonName: "a", Role: pki.Client}},
	}
	for _, tt := range tests {
		certPEM, keyPEM, err := ca.IssueRequest(tt.req)
		if !errors.Is(err, pki.ErrInvalid) {
			t.Errorf("%s: IssueRequest error = %v; want ErrInvalid", tt.name, err)
		}
		if certPEM != nil || keyPEM != nil {
			t.Errorf("%s: returned PEM together with an error", tt.name)
		}
	}
	if _, _, err := ca.Issue("a", pki.Client, nil, nil, 0); !errors.Is(err, pki.ErrInvalid) {
		t.Errorf("Issue(validFor=0) error = %v; want ErrInvalid", err)
	}
	if _, err := pki.NewCA("", time.Hour); !errors.Is(err, pki.ErrInvalid) {
		t.Errorf("NewCA(\"\") error = %v; want ErrInvalid", err)
	}
	if _, err := pki.NewCA("x", -time.Hour); !errors.Is(err, pki.ErrInvalid) {
		t.Errorf("NewCA(validFor<0) error = %v; want ErrInvalid", err)
	}
}

func TestSaveLoadCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := pki.NewCA("Federation CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, pki.CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("ca-key.pem mode = %v; want 0600", perm)
	}
	// Saving the same CA again is a no-op; saving a different one is refused.
	if err := ca.Save(dir); err != nil {
		t.Errorf("second Save of the same CA = %v; want nil", err)
	}
	other, err := pki.NewCA("Other CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Save(dir); !errors.Is(err, pki.ErrExists) {
		t.Errorf("Save of a different CA over an existing one = %v; want ErrExists", err)
	}

	loaded, err := pki.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loaded.CertPEM(), ca.CertPEM()) {
		t.Fatal("loaded CA certificate differs from the saved one")
	}
	certPEM, _, err := loaded.Issue("late-site", pki.Client, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(ca, parse(t, certPEM), x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("certificate issued by the reloaded CA does not verify against the original: %v", err)
	}
}

func TestLoadCARejectsMismatchedKey(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		ca, err := pki.NewCA("CA "+d, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := ca.Save(d); err != nil {
			t.Fatal(err)
		}
	}
	key, err := os.ReadFile(filepath.Join(b, pki.CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, pki.CAKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.LoadCA(a); !errors.Is(err, pki.ErrInvalid) || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("LoadCA with another CA's key = %v; want ErrInvalid 'does not belong'", err)
	}
	if _, err := pki.LoadCA(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadCA(empty dir) = %v; want ErrNotExist", err)
	}
}

func TestWriteBundle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundles")
	ca, err := pki.NewCA("CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certA, keyA, err := ca.Issue("site-a", pki.Client, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteBundle(dir, "site-a", ca.CertPEM(), certA, keyA); err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile := pki.BundleFiles(dir, "site-a")
	for path, want := range map[string][]byte{caFile: ca.CertPEM(), certFile: certA, keyFile: keyA} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: contents differ from what was written", path)
		}
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s mode = %v; want 0600", keyFile, perm)
	}

	// A second site in the same directory shares ca.pem.
	certB, keyB, err := ca.Issue("site-b", pki.Client, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteBundle(dir, "site-b", ca.CertPEM(), certB, keyB); err != nil {
		t.Errorf("second bundle sharing ca.pem: %v", err)
	}

	// Re-provisioning site-a must not clobber the bundle partners already use.
	certA2, keyA2, err := ca.Issue("site-a", pki.Client, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteBundle(dir, "site-a", ca.CertPEM(), certA2, keyA2); !errors.Is(err, pki.ErrExists) {
		t.Errorf("overwriting site-a = %v; want ErrExists", err)
	}
	if got, _ := os.ReadFile(keyFile); !bytes.Equal(got, keyA) {
		t.Error("refused WriteBundle still changed site-a-key.pem")
	}

	// A bundle from another CA cannot replace ca.pem, and leaves nothing behind.
	other, err := pki.NewCA("Other", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certC, keyC, err := other.Issue("site-c", pki.Client, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteBundle(dir, "site-c", other.CertPEM(), certC, keyC); !errors.Is(err, pki.ErrExists) {
		t.Errorf("bundle with a different ca.pem = %v; want ErrExists", err)
	}
	_, certFileC, keyFileC := pki.BundleFiles(dir, "site-c")
	for _, p := range []string{certFileC, keyFileC} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("refused WriteBundle left %s behind (stat err %v)", p, err)
		}
	}

	for _, name := range []string{"", "ca", "../x", "a/b"} {
		if err := pki.WriteBundle(dir, name, ca.CertPEM(), certA, keyA); !errors.Is(err, pki.ErrInvalid) {
			t.Errorf("WriteBundle(name=%q) = %v; want ErrInvalid", name, err)
		}
	}
}

func TestCADoesNotPrintKey(t *testing.T) {
	ca, err := pki.NewCA("Printable CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(verb, ca)
		if !strings.Contains(s, "Printable CA") || strings.Contains(s, "PRIVATE") || len(s) > 200 {
			t.Errorf("Sprintf(%q, ca) = %q; want only the subject and expiry", verb, s)
		}
	}
}

func TestRoleString(t *testing.T) {
	tests := []struct {
		r    pki.Role
		want string
	}{
		{0, "none"}, {pki.Server, "server"}, {pki.Client, "client"}, {pki.Server | pki.Client, "server+client"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("Role(%d).String() = %q; want %q", tt.r, got, tt.want)
		}
	}
}
