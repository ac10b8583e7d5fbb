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
// ErrUnknownAuthority, ErrKeyMismatch, ErrMissingUsage, ErrWrongRole,
// ErrRevoked, ErrNoPEM) wrapped in a *FileError that names the file; use
// errors.Is and errors.As. CheckBundle runs the same checks and reports all of
// them (`cohort provision check`).
//
// Each bundle is loaded for a Use, which names the consortium roles
// (internal/pki.RoleOf) allowed: UseCoordinator for ServerConfig,
// UseClient (site, admin or auditor) for ClientConfig by default, UseSite
// for `cohort client run` and UseOperator for the admin CLI. A client also
// requires the coordinator role of the server it dials.
//
// Revocation: NewCRLChecker loads a revocation list signed by the CA and
// re-reads it when the file changes; give it to WithRevocationChecker. Its
// check, like any extra per-connection check (WithVerifyConnection), runs
// through tls.Config.VerifyConnection, which, unlike VerifyPeerCertificate,
// also runs on resumed sessions, so a revoked site cannot come back on an old
// ticket. The bundle's own certificate is checked against it too.
//
// CheckLoopback guards --insecure: plaintext without client authentication is
// allowed only on loopback addresses, for single-machine demos.
package tlsconf
