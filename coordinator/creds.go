package coordinator

import (
	"crypto/tls"
	"log/slog"
	"net"

	"google.golang.org/grpc/credentials"
)

// loggingCreds wraps the server's TLS credentials so that every refused
// handshake (no client certificate, wrong CA, expired, revoked) is logged
// with the peer address and the reason. gRPC itself drops them silently.
type loggingCreds struct {
	credentials.TransportCredentials
	log     *slog.Logger
	refused func(peer string, err error) // the audit log's site_refused
}

func newLoggingCreds(cfg *tls.Config, log *slog.Logger, refused func(string, error)) credentials.TransportCredentials {
	return &loggingCreds{TransportCredentials: credentials.NewTLS(cfg), log: log, refused: refused}
}

// ServerHandshake implements credentials.TransportCredentials.
func (c *loggingCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		c.log.Warn("refused TLS connection", "peer", raw.RemoteAddr().String(), "err", err)
		if c.refused != nil {
			c.refused(raw.RemoteAddr().String(), err)
		}
	}
	return conn, info, err
}

// Clone implements credentials.TransportCredentials.
func (c *loggingCreds) Clone() credentials.TransportCredentials {
	return &loggingCreds{TransportCredentials: c.TransportCredentials.Clone(), log: c.log, refused: c.refused}
}
