package tlsconf_test

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/tlsconf"
)

func TestConfigSettings(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	srv := fed.issue("coordinator", pki.Server)
	site := fed.issue("site-a", pki.Client)
	s, err := tlsconf.ServerConfig(srv.cert, srv.key, srv.ca)
	if err != nil {
		t.Fatal(err)
	}
	if s.MinVersion != tls.VersionTLS13 || s.ClientAuth != tls.RequireAndVerifyClientCert || s.ClientCAs == nil || len(s.Certificates) != 1 {
		t.Errorf("server config: MinVersion=%x ClientAuth=%v ClientCAs=%v certs=%d; want TLS 1.3, RequireAndVerifyClientCert, a pool, 1",
			s.MinVersion, s.ClientAuth, s.ClientCAs != nil, len(s.Certificates))
	}
	c, err := tlsconf.ClientConfig(site.cert, site.key, site.ca, "coord.example")
	if err != nil {
		t.Fatal(err)
	}
	if c.MinVersion != tls.VersionTLS13 || c.RootCAs == nil || c.ServerName != "coord.example" || c.InsecureSkipVerify || len(c.Certificates) != 1 {
		t.Errorf("client config: MinVersion=%x RootCAs=%v ServerName=%q InsecureSkipVerify=%v certs=%d",
			c.MinVersion, c.RootCAs != nil, c.ServerName, c.InsecureSkipVerify, len(c.Certificates))
	}
}

// TestBundleErrors checks that each misconfiguration is reported with the
// right sentinel, the right file and a message an operator can act on.
func TestBundleErrors(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	now := time.Now()
	srv := fed.issue("coordinator", pki.Server)
	site := fed.issue("site-a", pki.Client)
	other := newFederation(t, "Rogue CA").issue("mallory", pki.Client)
	expired := fed.issueWindow("stale", pki.Client, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	early := fed.issueWindow("early", pki.Client, now.Add(time.Hour), now.Add(2*time.Hour))
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")

	type load func(f files) error
	server := func(f files) error { _, err := tlsconf.ServerConfig(f.cert, f.key, f.ca); return err }
	client := func(f files) error { _, err := tlsconf.ClientConfig(f.cert, f.key, f.ca, "localhost"); return err }
	future := func(f files) error {
		_, err := tlsconf.ClientConfig(f.cert, f.key, f.ca, "localhost",
			tlsconf.WithClock(func() time.Time { return now.Add(48 * time.Hour) }))
		return err
	}
	tests := []struct {
		name     string
		load     load
		in       files
		want     error
		wantWhat string
		wantPath string
		wantMsg  []string
	}{
		{"missing certificate", client, files{missing, site.key, site.ca}, fs.ErrNotExist, "certificate", missing, []string{missing}},
		{"missing key", client, files{site.cert, missing, site.ca}, fs.ErrNotExist, "private key", missing, []string{"private key file", missing}},
		{"missing CA", server, files{srv.cert, srv.key, missing}, fs.ErrNotExist, "CA certificate", missing, []string{"CA certificate file"}},
		{"empty path", client, files{"", site.key, site.ca}, nil, "certificate", "", []string{"no path given"}},
		{"garbage certificate", client, files{garbage, site.key, site.ca}, tlsconf.ErrNoPEM, "certificate", garbage, []string{"no PEM CERTIFICATE block"}},
		{"garbage key", client, files{site.cert, garbage, site.ca}, tlsconf.ErrNoPEM, "private key", garbage, []string{"no PEM PRIVATE KEY block"}},
		{"swapped cert and key", client, files{site.key, site.cert, site.ca}, tlsconf.ErrNoPEM, "certificate", site.key, []string{"swapped"}},
		{"key of another certificate", client, files{site.cert, srv.key, site.ca}, tlsconf.ErrKeyMismatch, "private key", srv.key, []string{"does not match", `"site-a"`}},
		{"expired", client, expired, tlsconf.ErrExpired, "certificate", expired.cert, []string{`"stale"`, "expired at 2021-01-01T00:00:00Z"}},
		{"expired (server)", server, expired, tlsconf.ErrExpired, "certificate", expired.cert, []string{"expired at 2021-01-01T00:00:00Z"}},
		{"not yet valid", client, early, tlsconf.ErrNotYetValid, "certificate", early.cert, []string{"not valid until"}},
		{"other CA", client, files{other.cert, other.key, site.ca}, tlsconf.ErrUnknownAuthority, "certificate", other.cert, []string{`"mallory"`, `issuer "Rogue CA"`, site.ca}},
		{"leaf given as CA", client, files{site.cert, site.key, srv.cert}, tlsconf.ErrUnknownAuthority, "CA certificate", srv.cert, []string{"not a CA certificate"}},
		{"client cert on the coordinator", server, site, tlsconf.ErrMissingUsage, "certificate", site.cert, []string{"needs serverAuth", "[clientAuth]"}},
		{"server cert on a site", client, srv, tlsconf.ErrMissingUsage, "certificate", srv.cert, []string{"needs clientAuth", "[serverAuth]"}},
		{"expired CA", future, site, tlsconf.ErrExpired, "CA certificate", site.ca, []string{`"Federation CA"`, "expired at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.load(tt.in)
			if err == nil {
				t.Fatal("loaded without error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error = %v; want errors.Is %v", err, tt.want)
			}
			var fe *tlsconf.FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FileError", err)
			}
			if fe.What != tt.wantWhat || fe.Path != tt.wantPath {
				t.Errorf("FileError{What: %q, Path: %q}; want {%q, %q}", fe.What, fe.Path, tt.wantWhat, tt.wantPath)
			}
			for _, s := range tt.wantMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// TestDualRoleCertificate: a certificate with both key usages is the
// coordinator's (its role is coordinator), so it serves but cannot connect as
// a client: every client role is site, admin or auditor.
func TestDualRoleCertificate(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	both := fed.issue("demo", pki.Server|pki.Client)
	if _, err := tlsconf.ServerConfig(both.cert, both.key, both.ca); err != nil {
		t.Errorf("ServerConfig(server+client cert) = %v", err)
	}
	_, err := tlsconf.ClientConfig(both.cert, both.key, both.ca, "")
	if !errors.Is(err, tlsconf.ErrWrongRole) || !strings.Contains(err.Error(), "has role coordinator") {
		t.Errorf("ClientConfig(server+client cert) = %v; want ErrWrongRole 'has role coordinator'", err)
	}
}
