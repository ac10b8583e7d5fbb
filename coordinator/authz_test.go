package coordinator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/tlsconf"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// TestMethodRolesCoverEveryRPC: every method of every service in the
// generated descriptors has an entry, and every entry is a real method, so a
// new RPC cannot be served without a decision about who may call it.
func TestMethodRolesCoverEveryRPC(t *testing.T) {
	seen := map[string]bool{}
	services := cohortv1.File_cohort_v1_cohort_proto.Services()
	if services.Len() < 2 {
		t.Fatalf("descriptor has %d services; want SiteService and AdminService at least", services.Len())
	}
	for i := range services.Len() {
		sd := services.Get(i)
		for j := range sd.Methods().Len() {
			full := fmt.Sprintf("/%s/%s", sd.FullName(), sd.Methods().Get(j).Name())
			seen[full] = true
			roles, ok := methodRoles[full]
			if !ok {
				t.Errorf("%s has no entry in methodRoles: decide which roles may call it", full)
				continue
			}
			if len(roles) == 0 {
				t.Errorf("%s: empty role list", full)
			}
			for _, r := range roles {
				if !r.Valid() || r == pki.RoleCoordinator {
					t.Errorf("%s allows role %q; want site, admin or auditor", full, r)
				}
			}
		}
	}
	for m := range methodRoles {
		if !seen[m] {
			t.Errorf("methodRoles has %s, which no service defines", m)
		}
	}
	// The gRPC service descriptors agree with the proto descriptors.
	for _, sd := range []grpc.ServiceDesc{cohortv1.SiteService_ServiceDesc, cohortv1.AdminService_ServiceDesc} {
		for _, m := range sd.Methods {
			if !seen["/"+sd.ServiceName+"/"+m.MethodName] {
				t.Errorf("%s/%s is not in the proto descriptor", sd.ServiceName, m.MethodName)
			}
		}
		for _, s := range sd.Streams {
			if !seen["/"+sd.ServiceName+"/"+s.StreamName] {
				t.Errorf("%s/%s is not in the proto descriptor", sd.ServiceName, s.StreamName)
			}
		}
	}
}

// peerCtx is the context of a call from a TLS peer holding cert.
func peerCtx(cert *x509.Certificate) context.Context {
	p := &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}}
	if cert != nil {
		p.AuthInfo = credentials.TLSInfo{State: tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}}
	}
	return peer.NewContext(context.Background(), p)
}

func issueRole(t *testing.T, ca *pki.CA, name string, role pki.ConsortiumRole) *x509.Certificate {
	t.Helper()
	var ips []net.IP
	if role == pki.RoleCoordinator {
		ips = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	certPEM, _, err := ca.IssueAs(name, role, nil, ips, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type denial struct{ actor, role, method string }

// TestAuthorizeTable runs every role against every method.
func TestAuthorizeTable(t *testing.T) {
	ca, err := pki.NewCA("CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certs := map[pki.ConsortiumRole]*x509.Certificate{}
	for _, r := range pki.ConsortiumRoles() {
		certs[r] = issueRole(t, ca, "the-"+string(r), r)
	}
	allowed := map[string][]pki.ConsortiumRole{
		cohortv1.AdminService_StartRun_FullMethodName:        {pki.RoleAdmin},
		cohortv1.AdminService_StopRun_FullMethodName:         {pki.RoleAdmin},
		cohortv1.AdminService_GetRun_FullMethodName:          {pki.RoleAdmin, pki.RoleAuditor},
		cohortv1.AdminService_ListRuns_FullMethodName:        {pki.RoleAdmin, pki.RoleAuditor},
		cohortv1.AdminService_ListSites_FullMethodName:       {pki.RoleAdmin, pki.RoleAuditor},
		cohortv1.AdminService_GetReport_FullMethodName:       {pki.RoleAdmin, pki.RoleAuditor},
		cohortv1.SiteService_Connect_FullMethodName:          {pki.RoleSite},
		cohortv1.SiteService_DownloadModel_FullMethodName:    {pki.RoleSite},
		cohortv1.SiteService_UploadUpdate_FullMethodName:     {pki.RoleSite},
		cohortv1.SiteService_SubmitEvaluation_FullMethodName: {pki.RoleSite},
		cohortv1.SiteService_SubmitStatistics_FullMethodName: {pki.RoleSite},
		cohortv1.SiteService_SubmitSecAgg_FullMethodName:     {pki.RoleSite},
	}
	if len(allowed) != len(methodRoles) {
		t.Fatalf("test table has %d methods, methodRoles %d", len(allowed), len(methodRoles))
	}
	var mu sync.Mutex
	var denied []denial
	a := &Authorizer{OnDenied: func(_ context.Context, actor, role, method string) {
		mu.Lock()
		defer mu.Unlock()
		denied = append(denied, denial{actor, role, method})
	}}
	for method, roles := range allowed {
		for _, role := range pki.ConsortiumRoles() {
			want := false
			for _, r := range roles {
				want = want || r == role
			}
			mu.Lock()
			denied = nil
			mu.Unlock()
			ctx, _, err := a.authorize(peerCtx(certs[role]), method)
			if want {
				if err != nil {
					t.Errorf("role %s calling %s: %v; want allowed", role, method, err)
					continue
				}
				if c, ok := CallerFromContext(ctx); !ok || c.Name != "the-"+string(role) || c.Role != role {
					t.Errorf("role %s calling %s: caller in context = %+v, %v", role, method, c, ok)
				}
				continue
			}
			if status.Code(err) != codes.PermissionDenied {
				t.Errorf("role %s calling %s: %v; want PermissionDenied", role, method, err)
				continue
			}
			wantMsg := fmt.Sprintf("role %s may not call %s (allowed: ", role, strings.TrimPrefix(method, "/"))
			if msg := status.Convert(err).Message(); !strings.HasPrefix(msg, wantMsg) {
				t.Errorf("role %s calling %s: message %q; want it to start %q", role, method, msg, wantMsg)
			}
			mu.Lock()
			if len(denied) != 1 || denied[0] != (denial{"the-" + string(role), string(role), method}) {
				t.Errorf("role %s calling %s: OnDenied calls %+v; want one with actor, role and method", role, method, denied)
			}
			mu.Unlock()
		}
	}
	// The exact message of the common case.
	_, _, err = a.authorize(peerCtx(certs[pki.RoleAuditor]), cohortv1.AdminService_StartRun_FullMethodName)
	if got, want := status.Convert(err).Message(), "role auditor may not call cohort.v1.AdminService/StartRun (allowed: admin)"; got != want {
		t.Errorf("auditor StartRun: %q; want %q", got, want)
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	ca, err := pki.NewCA("CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	site := issueRole(t, ca, "site-a", pki.RoleSite)
	admin := issueRole(t, ca, "alice", pki.RoleAdmin)
	a := &Authorizer{}
	if _, _, err := a.authorize(peerCtx(nil), cohortv1.AdminService_ListRuns_FullMethodName); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no certificate: %v; want Unauthenticated", err)
	}
	_, _, err = a.authorize(peerCtx(admin), "/cohort.v1.AdminService/Publish")
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "no role may call cohort.v1.AdminService/Publish") {
		t.Errorf("method without an entry: %v; want PermissionDenied 'no role may call'", err)
	}
	coord := issueRole(t, ca, "coordinator", pki.RoleCoordinator)
	if _, _, err := a.authorize(peerCtx(coord), cohortv1.SiteService_Connect_FullMethodName); status.Code(err) != codes.PermissionDenied {
		t.Errorf("coordinator certificate as a client: %v; want PermissionDenied", err)
	}
	// Insecure mode (loopback demos) has no certificates and no roles.
	if _, _, err := (&Authorizer{Insecure: true}).authorize(context.Background(), cohortv1.AdminService_StartRun_FullMethodName); err != nil {
		t.Errorf("insecure: %v; want allowed", err)
	}

	rev := newFakeRevocation()
	a = &Authorizer{Revocation: rev}
	if _, _, err := a.authorize(peerCtx(site), cohortv1.SiteService_Connect_FullMethodName); err != nil {
		t.Fatalf("site before revocation: %v", err)
	}
	rev.revoke(site)
	_, _, err = a.authorize(peerCtx(site), cohortv1.SiteService_Connect_FullMethodName)
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("site after revocation: %v; want Unauthenticated 'revoked'", err)
	}
}

// fakeRevocation is a revocationSource over a set of serials.
type fakeRevocation struct {
	mu      sync.Mutex
	revoked map[string]bool
	changed chan struct{}
}

func newFakeRevocation() *fakeRevocation {
	return &fakeRevocation{revoked: map[string]bool{}, changed: make(chan struct{})}
}

func (f *fakeRevocation) revoke(c *x509.Certificate) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked[c.SerialNumber.String()] = true
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeRevocation) CheckKnown(c *x509.Certificate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.revoked[c.SerialNumber.String()] {
		return fmt.Errorf("%w: %s", tlsconf.ErrRevoked, pki.Describe(c))
	}
	return nil
}

func (f *fakeRevocation) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *fakeStream) Context() context.Context { return s.ctx }

// TestStreamCutOnRevocation: an open stream of a site revoked meanwhile is
// cancelled and ends with Unauthenticated; another site's stream goes on.
func TestStreamCutOnRevocation(t *testing.T) {
	ca, err := pki.NewCA("CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	siteA, siteB := issueRole(t, ca, "site-a", pki.RoleSite), issueRole(t, ca, "site-b", pki.RoleSite)
	rev := newFakeRevocation()
	var denied []denial
	var mu sync.Mutex
	a := &Authorizer{Revocation: rev, OnDenied: func(_ context.Context, actor, role, method string) {
		mu.Lock()
		defer mu.Unlock()
		denied = append(denied, denial{actor, role, method})
	}}
	intercept := a.Stream()
	info := &grpc.StreamServerInfo{FullMethod: cohortv1.SiteService_Connect_FullMethodName, IsServerStream: true}
	started := make(chan string, 2)
	// The handler holds the stream open like Connect does, until its context ends.
	handler := func(_ any, ss grpc.ServerStream) error {
		c, _ := CallerFromContext(ss.Context())
		started <- c.Name
		<-ss.Context().Done()
		return nil
	}
	bCtx, stopB := context.WithCancel(peerCtx(siteB))
	results := make(chan error, 2)
	go func() { results <- intercept(nil, &fakeStream{ctx: peerCtx(siteA)}, info, handler) }()
	go func() { results <- intercept(nil, &fakeStream{ctx: bCtx}, info, handler) }()
	<-started
	<-started
	rev.revoke(siteA)
	select {
	case err := <-results:
		if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), `"site-a"`) || !strings.Contains(err.Error(), "stream was closed") {
			t.Errorf("revoked site's stream ended with %v; want Unauthenticated naming site-a", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked site's stream was not closed")
	}
	select {
	case err := <-results:
		t.Fatalf("site-b's stream ended too: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	stopB()
	if err := <-results; err != nil {
		t.Errorf("site-b's stream ended with %v; want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(denied) != 1 || denied[0].actor != "site-a" || denied[0].method != cohortv1.SiteService_Connect_FullMethodName {
		t.Errorf("OnDenied calls %+v; want one for site-a's Connect", denied)
	}
	if !errors.Is(rev.CheckKnown(siteA), tlsconf.ErrRevoked) {
		t.Error("fake revocation lost its state")
	}
}
