package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/cohortfl/cohort/internal/pki"
)

// RevocationChecker decides whether a verified peer certificate is still
// acceptable. CheckRevocation is called on every handshake, including resumed
// sessions, possibly from many goroutines at once; it must not retain chain.
// A non-nil error refuses the connection; return one that wraps ErrRevoked.
type RevocationChecker interface {
	CheckRevocation(leaf *x509.Certificate, chain []*x509.Certificate) error
}

// ErrRevoked is the error RevocationChecker implementations should wrap.
var ErrRevoked = errors.New("certificate revoked")

// Option adjusts ServerConfig and ClientConfig.
type Option func(*options)

type options struct {
	now     func() time.Time
	verify  []func(tls.ConnectionState) error
	revoker RevocationChecker
	use     *Use
	// peerRoles, if set, are the roles the peer's certificate must have.
	peerRoles []pki.ConsortiumRole
}

// WithUse sets what the bundle is for; its certificate must carry use.Usage
// and one of use.Roles. The defaults are UseCoordinator for ServerConfig and
// UseClient for ClientConfig. `cohort client run` passes UseSite, so that an
// operator's certificate cannot run a site.
func WithUse(use Use) Option {
	return func(o *options) { o.use = &use }
}

// WithVerifyConnection adds a check run after the standard chain verification
// on every handshake (tls.Config.VerifyConnection). It may be given several
// times; checks run in order and the first error refuses the connection.
func WithVerifyConnection(f func(tls.ConnectionState) error) Option {
	return func(o *options) {
		if f != nil {
			o.verify = append(o.verify, f)
		}
	}
}

// WithRevocationChecker refuses peers whose verified leaf certificate the
// checker rejects. It runs on every handshake, before WithVerifyConnection
// checks. The bundle's own certificate is checked too, when it is loaded.
func WithRevocationChecker(c RevocationChecker) Option {
	return func(o *options) { o.revoker = c }
}

// WithClock sets the time source for the bundle checks and for certificate
// verification during handshakes (tls.Config.Time). Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

func buildOptions(opts []Option) *options {
	o := &options{now: time.Now}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}

// ServerConfig returns the coordinator's TLS configuration: TLS 1.3 minimum,
// the certificate in certFile (which must carry serverAuth and the
// coordinator role) with the key in keyFile, and a client certificate with
// clientAuth, signed by the CA in caFile, required and verified on every
// connection. Which client roles may call what is the server's business
// (coordinator/authz.go), not the handshake's.
//
// It checks the bundle first (see CheckBundle) and returns a *FileError naming
// the file and the problem (see the package documentation). It never returns
// a usable configuration together with an error.
func ServerConfig(certFile, keyFile, caFile string, opts ...Option) (*tls.Config, error) {
	o := buildOptions(opts)
	use := UseCoordinator
	if o.use != nil {
		use = *o.use
	}
	b, err := loadBundle(certFile, keyFile, caFile, use, o.now(), o.revoker)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{b.cert},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        b.pool,
		Time:             o.now,
		VerifyConnection: o.verifyConnection(),
	}, nil
}

// ClientConfig returns a site's (or the CLI's) TLS configuration: TLS 1.3
// minimum, the certificate in certFile (which must carry clientAuth and a
// site, admin or auditor role; see WithUse) with the key in keyFile, and the
// coordinator verified against the CA in caFile. The coordinator's
// certificate must also carry the coordinator role.
//
// serverName is the name checked against the coordinator certificate's DNS
// names or IP addresses. If empty, gRPC uses the host of the dial target.
func ClientConfig(certFile, keyFile, caFile, serverName string, opts ...Option) (*tls.Config, error) {
	o := buildOptions(opts)
	use := UseClient
	if o.use != nil {
		use = *o.use
	}
	b, err := loadBundle(certFile, keyFile, caFile, use, o.now(), o.revoker)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{b.cert},
		RootCAs:          b.pool,
		ServerName:       serverName,
		Time:             o.now,
		VerifyConnection: o.withPeerRoles(pki.RoleCoordinator).verifyConnection(),
	}, nil
}

// ServerCredentials is ServerConfig wrapped as gRPC transport credentials,
// for grpc.Creds.
func ServerCredentials(certFile, keyFile, caFile string, opts ...Option) (credentials.TransportCredentials, error) {
	cfg, err := ServerConfig(certFile, keyFile, caFile, opts...)
	if err != nil {
		return nil, err
	}
	return credentials.NewTLS(cfg), nil
}

// ClientCredentials is ClientConfig wrapped as gRPC transport credentials,
// for grpc.WithTransportCredentials.
func ClientCredentials(certFile, keyFile, caFile, serverName string, opts ...Option) (credentials.TransportCredentials, error) {
	cfg, err := ClientConfig(certFile, keyFile, caFile, serverName, opts...)
	if err != nil {
		return nil, err
	}
	return credentials.NewTLS(cfg), nil
}

func (o *options) withPeerRoles(roles ...pki.ConsortiumRole) *options {
	c := *o
	c.peerRoles = roles
	return &c
}

// verifyConnection returns the tls.Config.VerifyConnection hook, or nil when
// there is nothing to add to the standard verification.
func (o *options) verifyConnection() func(tls.ConnectionState) error {
	if o.revoker == nil && len(o.verify) == 0 && len(o.peerRoles) == 0 {
		return nil
	}
	revoker, checks := o.revoker, append([]func(tls.ConnectionState) error(nil), o.verify...)
	peerRoles := o.peerRoles
	return func(cs tls.ConnectionState) error {
		if revoker != nil || len(peerRoles) > 0 {
			if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
				return errors.New("tlsconf: peer has no verified certificate chain")
			}
		}
		if revoker != nil {
			chain := cs.VerifiedChains[0]
			if err := revoker.CheckRevocation(chain[0], chain); err != nil {
				return fmt.Errorf("tlsconf: peer %s refused: %w", describe(chain[0]), err)
			}
		}
		if len(peerRoles) > 0 {
			leaf := cs.VerifiedChains[0][0]
			role, err := pki.RoleOf(leaf)
			if err != nil {
				return fmt.Errorf("tlsconf: peer refused: %w: %w", ErrWrongRole, err)
			}
			if !slices.Contains(peerRoles, role) {
				return fmt.Errorf("tlsconf: peer refused: %w: %s has role %s, want %s", ErrWrongRole, describe(leaf), role, pki.RolesString(peerRoles))
			}
		}
		for _, check := range checks {
			if err := check(cs); err != nil {
				return err
			}
		}
		return nil
	}
}
