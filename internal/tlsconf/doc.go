// Package tlsconf builds the mutual-TLS configuration of Cohort's coordinator
// and sites, and extracts a caller's identity from a gRPC connection.
//
// The coordinator serves with a certificate carrying serverAuth and requires
// every caller to present a certificate carrying clientAuth, signed by the
// federation's CA (internal/pki). TLS 1.3 is the minimum. A caller's identity
// is the subject common name of its verified certificate, read with
// PeerIdentity; requests never carry an identity field.
//
// ServerConfig and ClientConfig check the bundle before returning, so a
// misconfigured site fails at start-up with a message naming the file and the
// problem, not later with an opaque handshake failure:
//
//	cfg, err := tlsconf.ServerConfig("coordinator.pem", "coordinator-key.pem", "ca.pem")
//	// err: tlsconf: certificate file "coordinator.pem": certificate "coordinator"
//	//      expired at 2025-01-01T00:00:00Z (now 2025-03-04T10:00:00Z)
//	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
//
// The problems are sentinel errors (ErrExpired, ErrNotYetValid,
// ErrUnknownAuthority, ErrKeyMismatch, ErrMissingUsage, ErrNoPEM) wrapped in a
// *FileError that names the file; use errors.Is and errors.As.
//
// Extra per-connection checks, such as a certificate revocation list, plug in
// with WithVerifyConnection or WithRevocationChecker. They run through
// tls.Config.VerifyConnection, which, unlike VerifyPeerCertificate, also runs
// on resumed sessions, so a revoked site cannot come back on an old ticket.
//
// CheckLoopback guards --insecure: plaintext without client authentication is
// allowed only on loopback addresses, for single-machine demos.
package tlsconf
