package tlsconf_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/tlsconf"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// files is one party's bundle on disk.
type files struct{ cert, key, ca string }

// federation is a CA with bundles written to a temporary directory.
type federation struct {
	t   *testing.T
	dir string
	ca  *pki.CA
}

func newFederation(t *testing.T, name string) *federation {
	t.Helper()
	ca, err := pki.NewCA(name, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &federation{t: t, dir: t.TempDir(), ca: ca}
}

// issue writes a bundle for a certificate valid for the next hour.
func (f *federation) issue(cn string, role pki.Role) files {
	f.t.Helper()
	now := time.Now()
	return f.issueWindow(cn, role, now.Add(-time.Minute), now.Add(time.Hour))
}

// issueWindow writes a bundle for a certificate valid from notBefore to
// notAfter.
func (f *federation) issueWindow(cn string, role pki.Role, notBefore, notAfter time.Time) files {
	f.t.Helper()
	return f.issueRequest(pki.Request{CommonName: cn, Role: role, NotBefore: notBefore, NotAfter: notAfter})
}

// issueRequest issues req, with the loopback names and addresses if it is a
// server (coordinator) certificate, and writes its bundle.
func (f *federation) issueRequest(req pki.Request) files {
	f.t.Helper()
	if req.Role&pki.Server != 0 || req.ConsortiumRole == pki.RoleCoordinator {
		req.DNSNames = []string{"localhost"}
		req.IPs = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	certPEM, keyPEM, err := f.ca.IssueRequest(req)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := pki.WriteBundle(f.dir, req.CommonName, f.ca.CertPEM(), certPEM, keyPEM); err != nil {
		f.t.Fatal(err)
	}
	ca, cert, key := pki.BundleFiles(f.dir, req.CommonName)
	return files{cert: cert, key: key, ca: ca}
}

// rawClientTLS builds a client configuration by hand, bypassing ClientConfig's
// checks, to present certificates a well-behaved site would refuse to load.
func rawClientTLS(t *testing.T, client *files, caFile string) *tls.Config {
	t.Helper()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("no certificates in %s", caFile)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: "127.0.0.1"}
	if client != nil {
		kp, err := tls.LoadX509KeyPair(client.cert, client.key)
		if err != nil {
			t.Fatal(err)
		}
		// Present the certificate even if its issuer is not among the CAs the
		// server asks for (a Go client otherwise silently sends none).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp, nil }
	}
	return cfg
}

// siteServer is a SiteService whose SubmitEvaluation records the caller's
// identity as seen by PeerIdentity.
type siteServer struct {
	cohortv1.UnimplementedSiteServiceServer
	mu    sync.Mutex
	calls []string
}

func (s *siteServer) SubmitEvaluation(ctx context.Context, _ *cohortv1.EvaluationResult) (*cohortv1.Ack, error) {
	id, err := tlsconf.PeerIdentity(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.calls = append(s.calls, "error: "+err.Error())
		return nil, err
	}
	s.calls = append(s.calls, id)
	return &cohortv1.Ack{}, nil
}

func (s *siteServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// serve starts a gRPC server with creds on 127.0.0.1:0 and returns its
// address. It stops when the test ends.
func serve(t *testing.T, creds credentials.TransportCredentials) (string, *siteServer) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(creds))
	impl := &siteServer{}
	cohortv1.RegisterSiteServiceServer(srv, impl)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String(), impl
}

// call makes one SubmitEvaluation call to addr with creds and returns its error.
func call(t *testing.T, addr string, creds credentials.TransportCredentials, req *cohortv1.EvaluationResult) error {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if req == nil {
		req = &cohortv1.EvaluationResult{RunId: "run-1"}
	}
	_, err = cohortv1.NewSiteServiceClient(conn).SubmitEvaluation(ctx, req)
	return err
}

func serverCreds(t *testing.T, srv files, opts ...tlsconf.Option) credentials.TransportCredentials {
	t.Helper()
	creds, err := tlsconf.ServerCredentials(srv.cert, srv.key, srv.ca, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

func clientCreds(t *testing.T, c files, opts ...tlsconf.Option) credentials.TransportCredentials {
	t.Helper()
	creds, err := tlsconf.ClientCredentials(c.cert, c.key, c.ca, "127.0.0.1", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}
