package e2e

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// caDir is the consortium CA directory newPKI made.
func (p pki) caDir() string { return filepath.Join(p.dir, "ca") }

// crl is the CA's revocation list, which the coordinator reads with --crl.
func (p pki) crl() string { return filepath.Join(p.caDir(), "crl.pem") }

// addSite issues a site bundle into p.dir, with extra provision flags.
func (p pki) addSite(t *testing.T, name string, extra ...string) string {
	t.Helper()
	return mustCLI(t, append([]string{"provision", "site", name, "--ca-dir", p.caDir(), "--out", p.dir}, extra...)...)
}

// addUser issues an operator bundle (role admin or auditor) into p.dir.
func (p pki) addUser(t *testing.T, name, role string) {
	t.Helper()
	mustCLI(t, "provision", "user", name, "--role", role, "--ca-dir", p.caDir(), "--out", p.dir)
}

// revoke revokes every live certificate of name and returns the output.
func (p pki) revoke(t *testing.T, name string) string {
	t.Helper()
	return mustCLI(t, "provision", "revoke", name, "--ca-dir", p.caDir())
}

// adminArgs are the connection flags of `cohort runs|sites` for user.
func (p pki) adminArgs(user, addr string) []string {
	return append([]string{"--coordinator", addr}, p.tlsFlags(user)...)
}

// asUser runs `cohort ARGS... --coordinator addr --cert …` with user's bundle.
func (p pki) asUser(t *testing.T, user, addr string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLI(t, 30*time.Second, append(args, p.adminArgs(user, addr)...)...)
}

// hashFiles returns the SHA-256 of every regular file under dir, by path.
func hashFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[path] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runStatus is one run as printed by `cohort runs get|list --output json`.
type runStatus struct {
	RunID           string `json:"run_id"`
	State           string `json:"state"`
	Error           string `json:"error"`
	RoundsTotal     int    `json:"rounds_total"`
	RoundsCompleted int    `json:"rounds_completed"`
}

// waitRunCLI polls `cohort runs get RUN` as user until the run leaves the
// running state, and returns it. It fails the test after d or if a watched
// process exits.
func waitRunCLI(t *testing.T, p pki, user, addr, run string, d time.Duration, watch ...*proc) runStatus {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out, errOut, code := p.asUser(t, user, addr, "runs", "get", run, "--output", "json")
		var st runStatus
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatalf("runs get %s --output json: %v\n%s", run, err, out)
			}
			if st.State != "running" {
				return st
			}
		}
		for _, w := range watch {
			if w.exited() {
				t.Fatalf("%s exited (code %d) while waiting for run %s", w.name, exitCode(w.err), run)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not finished after %s (last: %+v, exit %d, %s)", run, d, st, code, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSitesCLI polls `cohort sites list` as user until exactly the sites in
// want are connected.
func waitSitesCLI(t *testing.T, p pki, user, addr string, want []string, d time.Duration, watch ...*proc) {
	t.Helper()
	deadline := time.Now().Add(d)
	var got []string
	for {
		out, _, code := p.asUser(t, user, addr, "sites", "list", "--output", "json")
		if code == 0 {
			var sites []struct {
				Name      string `json:"name"`
				Connected bool   `json:"connected"`
			}
			if err := json.Unmarshal([]byte(out), &sites); err != nil {
				t.Fatalf("sites list --output json: %v\n%s", err, out)
			}
			got = got[:0]
			for _, s := range sites {
				if s.Connected {
					got = append(got, s.Name)
				}
			}
			slices.Sort(got)
			if slices.Equal(got, want) {
				return
			}
		}
		for _, w := range watch {
			if w.exited() {
				t.Fatalf("%s exited (code %d) while waiting for sites %v", w.name, exitCode(w.err), want)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("connected sites after %s: %v; want %v", d, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rawTLSRead presents name's certificate to addr without the local bundle
// checks a site makes (so an expired or revoked certificate reaches the
// coordinator), and returns the error of the first read: with TLS 1.3 the
// server's refusal arrives there, as an alert.
func rawTLSRead(t *testing.T, p pki, name, addr string) error {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(p.cert(name), p.key(name))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(p.ca())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"h2"},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp, nil }}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	return err
}

// notAfter returns the expiry of name's certificate as printed in messages.
func notAfter(t *testing.T, p pki, name string) string {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(p.cert(name), p.key(name))
	if err != nil {
		t.Fatal(err)
	}
	return kp.Leaf.NotAfter.UTC().Format(time.RFC3339)
}

// mustContain fails the test unless s contains every one of want.
func mustContain(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not mention %q:\n%s", what, w, tail(s, 3000))
		}
	}
}

// quickRun is a short plaintext run that needs minClients sites.
func quickRun(id string, rounds, minClients int) map[string]any {
	return map[string]any{"run_id": id, "rounds": rounds, "min_clients": minClients, "start_sites": minClients,
		"round_timeout": "20s", "wait_for_clients": "30s", "model": "logreg", "strategy": "fedavg", "on_failure": "stop"}
}

// siteClient dials the coordinator's SiteService with name's certificate,
// whatever its role.
func siteClient(t *testing.T, p pki, name, addr string) cohortv1.SiteServiceClient {
	t.Helper()
	return cohortv1.NewSiteServiceClient(dialAs(t, p, name, addr))
}
