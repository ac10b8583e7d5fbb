package coordinator

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/tlsconf"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

var (
	siteOnly  = []pki.ConsortiumRole{pki.RoleSite}
	adminOnly = []pki.ConsortiumRole{pki.RoleAdmin}
	readers   = []pki.ConsortiumRole{pki.RoleAdmin, pki.RoleAuditor}
)

// methodRoles says, for every RPC the coordinator serves, which consortium
// roles (the OU of the caller's certificate, see pki.RoleOf) may call it. A
// method missing here is refused to everyone, and a test checks that every
// method of every service in proto/cohort/v1 has an entry, so a new RPC
// cannot be served by accident. A future AdminService/Publish belongs to
// adminOnly.
var methodRoles = map[string][]pki.ConsortiumRole{
	cohortv1.SiteService_Connect_FullMethodName:          siteOnly,
	cohortv1.SiteService_DownloadModel_FullMethodName:    siteOnly,
	cohortv1.SiteService_UploadUpdate_FullMethodName:     siteOnly,
	cohortv1.SiteService_SubmitEvaluation_FullMethodName: siteOnly,
	cohortv1.SiteService_SubmitStatistics_FullMethodName: siteOnly,
	cohortv1.SiteService_SubmitSecAgg_FullMethodName:     siteOnly,

	cohortv1.AdminService_StartRun_FullMethodName:  adminOnly,
	cohortv1.AdminService_StopRun_FullMethodName:   adminOnly,
	cohortv1.AdminService_GetRun_FullMethodName:    readers,
	cohortv1.AdminService_ListRuns_FullMethodName:  readers,
	cohortv1.AdminService_ListSites_FullMethodName: readers,
	cohortv1.AdminService_GetReport_FullMethodName: readers,
}

// MethodRoles returns a copy of the table of which roles may call which
// method (full gRPC method names, "/cohort.v1.AdminService/StartRun").
func MethodRoles() map[string][]pki.ConsortiumRole {
	out := make(map[string][]pki.ConsortiumRole, len(methodRoles))
	for m, rs := range methodRoles {
		out[m] = slices.Clone(rs)
	}
	return out
}

// Caller is the authenticated caller of an RPC, as the authorizer saw it.
type Caller struct {
	Name   string             // the certificate's common name
	Role   pki.ConsortiumRole // its role
	Serial string             // its serial number, hex
}

type callerKey struct{}

// CallerFromContext returns the caller the authorizer admitted, if any.
func CallerFromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// revocationSource is what the authorizer needs of a *tlsconf.CRLChecker.
type revocationSource interface {
	CheckKnown(leaf *x509.Certificate) error
	Changed() <-chan struct{}
}

// Authorizer enforces methodRoles on every call, as gRPC unary and stream
// interceptors. Handshakes have already verified the certificate against the
// CA and the revocation list; the authorizer re-checks the list on every
// call and while a stream is open, so a site revoked while connected is cut
// off without a restart. Its fields must not change once it serves.
type Authorizer struct {
	// Insecure admits every call: there are no certificates (loopback
	// demos with --insecure only).
	Insecure bool
	// Revocation, if set, is re-checked on every call and when the list
	// changes while a stream is open.
	Revocation revocationSource
	// OnDenied, if set, is called for every refused call with the caller's
	// common name and role ("" if unknown) and the full method name
	// ("/cohort.v1.AdminService/StartRun"). It runs on the call's
	// goroutine, before the error is returned, and must not block.
	OnDenied func(ctx context.Context, actor, role, method string)
	Logger   *slog.Logger
}

// Unary returns the unary server interceptor.
func (a *Authorizer) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, _, err := a.authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream returns the stream server interceptor. With a revocation list, a
// stream whose caller is revoked while it is open is cancelled and ends
// with codes.Unauthenticated.
func (a *Authorizer) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, leaf, err := a.authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		if a.Revocation == nil || leaf == nil {
			return handler(srv, &authzStream{ServerStream: ss, ctx: ctx})
		}
		ctx, cancel := context.WithCancel(ctx)
		var (
			wg      sync.WaitGroup
			revoked error
		)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				changed := a.Revocation.Changed()
				if err := a.Revocation.CheckKnown(leaf); err != nil {
					revoked = err
					cancel()
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-changed:
				}
			}
		}()
		err = handler(srv, &authzStream{ServerStream: ss, ctx: ctx})
		cancel()
		wg.Wait()
		if revoked != nil {
			return a.deny(ss.Context(), codes.Unauthenticated, leaf.Subject.CommonName, roleString(leaf), info.FullMethod,
				fmt.Sprintf("%v; the open stream was closed", revoked))
		}
		return err
	}
}

// authorize admits or refuses a call to method. It returns the context
// carrying the Caller and the caller's certificate (nil when Insecure).
func (a *Authorizer) authorize(ctx context.Context, method string) (context.Context, *x509.Certificate, error) {
	if a.Insecure {
		return ctx, nil, nil
	}
	leaf, err := tlsconf.PeerCertificate(ctx)
	if err != nil {
		return nil, nil, a.deny(ctx, codes.Unauthenticated, "", "", method, err.Error())
	}
	actor := leaf.Subject.CommonName
	if a.Revocation != nil {
		if err := a.Revocation.CheckKnown(leaf); err != nil {
			return nil, nil, a.deny(ctx, codes.Unauthenticated, actor, roleString(leaf), method, err.Error())
		}
	}
	role, err := pki.RoleOf(leaf)
	if err != nil {
		return nil, nil, a.deny(ctx, codes.PermissionDenied, actor, "", method,
			fmt.Sprintf("%v; it may not call %s", err, strings.TrimPrefix(method, "/")))
	}
	allowed, known := methodRoles[method]
	if !known {
		return nil, nil, a.deny(ctx, codes.PermissionDenied, actor, string(role), method,
			fmt.Sprintf("no role may call %s", strings.TrimPrefix(method, "/")))
	}
	if !slices.Contains(allowed, role) {
		return nil, nil, a.deny(ctx, codes.PermissionDenied, actor, string(role), method,
			fmt.Sprintf("role %s may not call %s (allowed: %s)", role, strings.TrimPrefix(method, "/"), rolesList(allowed)))
	}
	return context.WithValue(ctx, callerKey{}, Caller{Name: actor, Role: role, Serial: fmt.Sprintf("%x", leaf.SerialNumber)}), leaf, nil
}

// deny logs a refused call, reports it to OnDenied and returns the status
// error for the caller.
func (a *Authorizer) deny(ctx context.Context, code codes.Code, actor, role, method, msg string) error {
	if a.Logger != nil {
		a.Logger.Warn("call refused", "actor", actor, "role", role, "method", method, "code", code.String(), "reason", msg)
	}
	if a.OnDenied != nil {
		a.OnDenied(ctx, actor, role, method)
	}
	return status.Error(code, msg)
}

// roleString is the certificate's role, or "" if it has no valid one.
func roleString(c *x509.Certificate) string {
	r, err := pki.RoleOf(c)
	if err != nil {
		return ""
	}
	return string(r)
}

func rolesList(rs []pki.ConsortiumRole) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// authzStream is a ServerStream with the authorizer's context.
type authzStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *authzStream) Context() context.Context { return s.ctx }
