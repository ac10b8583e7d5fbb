package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"
)

// errRefusedTLS marks a TLS refusal that retrying cannot fix.
var errRefusedTLS = errors.New("client: the TLS handshake with the coordinator was refused")

// probeTLS performs one TLS handshake with the coordinator and reads the
// server's first bytes, so that a refused certificate surfaces as a clear,
// permanent error instead of an endless reconnect loop (gRPC reports every
// handshake failure as Unavailable). With TLS 1.3 the server verifies the
// client certificate after the client's handshake completes, so the refusal
// arrives as an alert on the first read. Network errors (the coordinator is
// down) are returned unwrapped: the caller keeps retrying those.
func probeTLS(addr string, cfg *tls.Config) error {
	c := cfg.Clone()
	c.NextProtos = []string{"h2"}
	if c.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("client: coordinator address %q: %w", addr, err)
		}
		c.ServerName = host
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, c)
	if err != nil {
		return classifyTLS(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1)
	if _, err := conn.Read(buf); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return classifyTLS(err)
	}
	return nil
}

func classifyTLS(err error) error {
	var alert tls.AlertError
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var op *net.OpError
	// Over TCP a TLS alert from the peer arrives as a *net.OpError with Op
	// "remote error" (tls.AlertError is only used with QUIC).
	remote := errors.As(err, &op) && op.Op == "remote error"
	if remote || errors.As(err, &alert) || errors.As(err, &unknown) || errors.As(err, &verify) || errors.As(err, &hostname) || errors.As(err, &invalid) {
		return fmt.Errorf("%w: %v (check the site's certificate, key and CA: the coordinator and the site must trust the same consortium CA, and the certificate must be valid and not revoked)", errRefusedTLS, err)
	}
	return err
}
