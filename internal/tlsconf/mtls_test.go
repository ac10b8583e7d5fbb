package tlsconf_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/tlsconf"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// rawAlert completes a TLS handshake with addr and reads once. With TLS 1.3 a
// client learns that the server refused its certificate only on that read,
// from the alert; gRPC reports such failures as a bare "broken pipe", so the
// tests check the reason here.
func rawAlert(t *testing.T, addr string, cfg *tls.Config) error {
	t.Helper()
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Read(make([]byte, 1))
	return err
}

func TestMutualTLSValidClients(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	srv := fed.issue("coordinator", pki.Server)
	addr, impl := serve(t, serverCreds(t, srv))
	for _, name := range []string{"site-a", "site-b"} {
		if err := call(t, addr, clientCreds(t, fed.issue(name, pki.Client)), nil); err != nil {
			t.Fatalf("%s: SubmitEvaluation: %v", name, err)
		}
	}
	if got, want := fmt.Sprint(impl.seen()), "[site-a site-b]"; got != want {
		t.Errorf("PeerIdentity seen by the server = %s; want %s", got, want)
	}
}

func TestMutualTLSRefusesBadClients(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	srv := fed.issue("coordinator", pki.Server)
	other := newFederation(t, "Rogue CA")
	now := time.Now()
	tests := []struct {
		name      string
		client    *files
		wantAlert string
	}{
		{"no certificate", nil, "certificate required"},
		{"certificate from another CA", ptr(other.issue("mallory", pki.Client)), "unknown certificate authority"},
		{"expired certificate", ptr(fed.issueWindow("stale", pki.Client, now.Add(-2*time.Hour), now.Add(-time.Hour))), "expired certificate"},
		{"not yet valid", ptr(fed.issueWindow("early", pki.Client, now.Add(time.Hour), now.Add(2*time.Hour))), "expired certificate"},
		{"server-only certificate", ptr(fed.issue("impostor", pki.Server)), "bad certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, impl := serve(t, serverCreds(t, srv))
			err := call(t, addr, credentials.NewTLS(rawClientTLS(t, tt.client, srv.ca)), nil)
			if status.Code(err) != codes.Unavailable {
				t.Errorf("gRPC call error = %v; want code Unavailable", err)
			}
			if seen := impl.seen(); len(seen) != 0 {
				t.Errorf("handler ran for a refused client: %v", seen)
			}
			err = rawAlert(t, addr, rawClientTLS(t, tt.client, srv.ca))
			if err == nil || !strings.Contains(err.Error(), tt.wantAlert) {
				t.Errorf("raw TLS read error = %v; want server alert %q", err, tt.wantAlert)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestClientRefusesWrongServer(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	srv := fed.issue("coordinator", pki.Server)
	site := fed.issue("site-a", pki.Client)
	addr, impl := serve(t, serverCreds(t, srv))

	// The coordinator's certificate names localhost/127.0.0.1/::1 only.
	creds, err := tlsconf.ClientCredentials(site.cert, site.key, site.ca, "coordinator.example")
	if err != nil {
		t.Fatal(err)
	}
	err = call(t, addr, creds, nil)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "coordinator.example") {
		t.Errorf("call with mismatched server name = %v; want Unavailable naming coordinator.example", err)
	}

	// A coordinator with a certificate from another CA is refused by the site.
	rogue := newFederation(t, "Rogue CA").issue("coordinator", pki.Server)
	rogueAddr, rogueImpl := serve(t, serverCreds(t, rogue))
	err = call(t, rogueAddr, clientCreds(t, site), nil)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("call to a rogue coordinator = %v; want Unavailable 'unknown authority'", err)
	}
	if n := len(impl.seen()) + len(rogueImpl.seen()); n != 0 {
		t.Errorf("%d handler calls on refused connections", n)
	}
}

func TestTLS12Refused(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	srv := fed.issue("coordinator", pki.Server)
	site := fed.issue("site-a", pki.Client)
	addr, _ := serve(t, serverCreds(t, srv))
	cfg := rawClientTLS(t, &site, srv.ca)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if err := rawAlert(t, addr, cfg); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.2 client: error = %v; want a protocol version alert", err)
	}
}

// revocationList is a RevocationChecker over a mutable set of serials.
type revocationList struct {
	mu      sync.Mutex
	revoked map[string]bool
	refused int
}

func (r *revocationList) refusals() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

func (r *revocationList) revoke(serial string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoked[serial] = true
}

func (r *revocationList) CheckRevocation(leaf *x509.Certificate, _ []*x509.Certificate) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revoked[leaf.SerialNumber.String()] {
		r.refused++
		return fmt.Errorf("%w: serial %s", tlsconf.ErrRevoked, leaf.SerialNumber)
	}
	return nil
}

func serial(t *testing.T, f files) string {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		t.Fatal(err)
	}
	return kp.Leaf.SerialNumber.String()
}

func TestRevocationCheckerOverGRPC(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	srv := fed.issue("coordinator", pki.Server)
	siteA, siteB := fed.issue("site-a", pki.Client), fed.issue("site-b", pki.Client)
	crl := &revocationList{revoked: map[string]bool{serial(t, siteB): true}}
	var mu sync.Mutex
	var hookCNs []string
	addr, impl := serve(t, serverCreds(t, srv,
		tlsconf.WithRevocationChecker(crl),
		tlsconf.WithVerifyConnection(func(cs tls.ConnectionState) error {
			mu.Lock()
			defer mu.Unlock()
			hookCNs = append(hookCNs, cs.VerifiedChains[0][0].Subject.CommonName)
			return nil
		})))

	if err := call(t, addr, clientCreds(t, siteA), nil); err != nil {
		t.Fatalf("site-a (not revoked): %v", err)
	}
	if err := call(t, addr, clientCreds(t, siteB), nil); status.Code(err) != codes.Unavailable {
		t.Errorf("site-b (revoked): error = %v; want Unavailable", err)
	}
	if got := fmt.Sprint(impl.seen()); got != "[site-a]" {
		t.Errorf("handler saw %s; want [site-a]", got)
	}
	if got := crl.refusals(); got == 0 {
		t.Error("revocation checker refused nothing")
	}
	mu.Lock()
	defer mu.Unlock()
	// The extra hook runs after the revocation check, so it never sees site-b.
	if got := fmt.Sprint(hookCNs); got != "[site-a]" {
		t.Errorf("WithVerifyConnection hook saw %s; want [site-a]", got)
	}
}

// TestRevocationAppliesToResumedSessions shows the checker runs on every
// connection: a site revoked after it got a session ticket cannot resume.
func TestRevocationAppliesToResumedSessions(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	srv := fed.issue("coordinator", pki.Server)
	site := fed.issue("site-a", pki.Client)
	crl := &revocationList{revoked: map[string]bool{}}
	serverCfg, err := tlsconf.ServerConfig(srv.cert, srv.key, srv.ca, tlsconf.WithRevocationChecker(crl))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() { // echo one byte per connection
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				b := make([]byte, 1)
				if _, err := c.Read(b); err == nil {
					_, _ = c.Write(b)
				}
			}()
		}
	}()

	clientCfg, err := tlsconf.ClientConfig(site.cert, site.key, site.ca, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	clientCfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	roundTrip := func() (resumed bool, err error) {
		c, err := tls.Dial("tcp", lis.Addr().String(), clientCfg)
		if err != nil {
			return false, err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte{1}); err != nil {
			return false, err
		}
		if _, err := c.Read(make([]byte, 1)); err != nil {
			return false, err
		}
		return c.ConnectionState().DidResume, nil
	}
	if _, err := roundTrip(); err != nil {
		t.Fatalf("first connection: %v", err)
	}
	resumed, err := roundTrip()
	if err != nil {
		t.Fatalf("second connection: %v", err)
	}
	if !resumed {
		t.Fatal("second connection did not resume; the test would prove nothing")
	}
	crl.revoke(serial(t, site))
	// The client may see the alert or a broken pipe depending on timing; the
	// checker's refusal count says who closed the connection.
	if _, err := roundTrip(); err == nil {
		t.Error("connection after revocation succeeded")
	}
	if got := crl.refusals(); got != 1 {
		t.Errorf("revocation checker refused %d connections; want 1", got)
	}
}

func TestPeerIdentityWithoutTLS(t *testing.T) {
	if _, err := tlsconf.PeerIdentity(context.Background()); !errors.Is(err, tlsconf.ErrNoClientCert) {
		t.Errorf("PeerIdentity(no peer) = %v; want ErrNoClientCert", err)
	}
	addr, impl := serve(t, insecure.NewCredentials())
	if err := call(t, addr, insecure.NewCredentials(), nil); err == nil {
		t.Error("plaintext call succeeded; the handler should refuse without an identity")
	}
	seen := impl.seen()
	if len(seen) != 1 || !strings.Contains(seen[0], "no verified client certificate") {
		t.Errorf("handler saw %q; want one 'no verified client certificate' error", seen)
	}
}

// TestLargeUnaryMessageRefused documents why models travel in chunks: a
// single message above gRPC's default 4 MiB receive limit is refused.
func TestLargeUnaryMessageRefused(t *testing.T) {
	fed := newFederation(t, "Federation CA")
	srv := fed.issue("coordinator", pki.Server)
	addr, impl := serve(t, serverCreds(t, srv))
	site := clientCreds(t, fed.issue("site-a", pki.Client))
	const n = 600_000 // 600k float64 = 4.8 MB > 4 MiB
	err := call(t, addr, site, &cohortv1.EvaluationResult{PosHist: make([]float64, n)})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("%d-value message: error = %v; want ResourceExhausted", n, err)
	}
	if err := call(t, addr, site, &cohortv1.EvaluationResult{PosHist: make([]float64, n/2)}); err != nil {
		t.Errorf("%d-value message (under the limit): %v", n/2, err)
	}
	if got := len(impl.seen()); got != 1 {
		t.Errorf("handler ran %d times; want 1 (only the small message)", got)
	}
}
