package tlsconf

import (
	"context"
	"fmt"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// PeerIdentity returns the subject common name of the verified client
// certificate of the gRPC call in ctx. It returns an error wrapping
// ErrNoClientCert when the call did not arrive over TLS, or arrived without a
// certificate verified against the CA, or the certificate has an empty common
// name. Call it from server handlers and interceptors.
func PeerIdentity(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", fmt.Errorf("%w: no gRPC peer in context", ErrNoClientCert)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		kind := "plaintext"
		if p.AuthInfo != nil {
			kind = p.AuthInfo.AuthType()
		}
		return "", fmt.Errorf("%w: connection from %v is %s, not TLS", ErrNoClientCert, p.Addr, kind)
	}
	chains := info.State.VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return "", fmt.Errorf("%w: TLS connection from %v has no verified certificate chain", ErrNoClientCert, p.Addr)
	}
	leaf := chains[0][0]
	if leaf.Subject.CommonName == "" {
		return "", fmt.Errorf("%w: client certificate (serial %x) from %v has an empty subject common name", ErrNoClientCert, leaf.SerialNumber, p.Addr)
	}
	return leaf.Subject.CommonName, nil
}
