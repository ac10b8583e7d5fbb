package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/credentials"
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
// checks.
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
// the certificate in certFile (which must carry serverAuth) with the key in
// keyFile, and a client certificate with clientAuth, signed by the CA in
// caFile, required and verified on every connection.
//
// It checks the bundle first and returns a *FileError naming the file and the
// problem (see the package documentation). It never returns a usable
// configuration together with an error.
func ServerConfig(certFile, keyFile, caFile string, opts ...Option) (*tls.Config, error) {
	o := buildOptions(opts)
	b, err := loadBundle(certFile, keyFile, caFile, x509.ExtKeyUsageServerAuth, o.now())
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
// minimum, the certificate in certFile (which must carry clientAuth) with the
// key in keyFile, and the coordinator verified against the CA in caFile.
//
// serverName is the name checked against the coordinator certificate's DNS
// names or IP addresses. If empty, gRPC uses the host of the dial target.
func ClientConfig(certFile, keyFile, caFile, serverName string, opts ...Option) (*tls.Config, error) {
	o := buildOptions(opts)
	b, err := loadBundle(certFile, keyFile, caFile, x509.ExtKeyUsageClientAuth, o.now())
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		Certificates:     []tls.Certificate{b.cert},
		RootCAs:          b.pool,
		ServerName:       serverName,
		Time:             o.now,
		VerifyConnection: o.verifyConnection(),
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

// verifyConnection returns the tls.Config.VerifyConnection hook, or nil when
// there is nothing to add to the standard verification.
func (o *options) verifyConnection() func(tls.ConnectionState) error {
	if o.revoker == nil && len(o.verify) == 0 {
		return nil
	}
	revoker, checks := o.revoker, append([]func(tls.ConnectionState) error(nil), o.verify...)
	return func(cs tls.ConnectionState) error {
		if revoker != nil {
			if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
				return errors.New("tlsconf: revocation check: peer has no verified certificate chain")
			}
			chain := cs.VerifiedChains[0]
			if err := revoker.CheckRevocation(chain[0], chain); err != nil {
				return fmt.Errorf("tlsconf: peer %s refused: %w", describe(chain[0]), err)
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
