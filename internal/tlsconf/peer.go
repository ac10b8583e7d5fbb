package tlsconf

import (
	"context"
	"crypto/x509"
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
	leaf, err := PeerCertificate(ctx)
	if err != nil {
		return "", err
	}
	if leaf.Subject.CommonName == "" {
		addr := "?"
		if p, ok := peer.FromContext(ctx); ok {
			addr = fmt.Sprint(p.Addr)
		}
		return "", fmt.Errorf("%w: client certificate (serial %x) from %s has an empty subject common name", ErrNoClientCert, leaf.SerialNumber, addr)
	}
	return leaf.Subject.CommonName, nil
}

// PeerCertificate returns the verified client certificate (the leaf of the
// first verified chain) of the gRPC call in ctx, or an error wrapping
// ErrNoClientCert (see PeerIdentity). The caller must not modify it.
func PeerCertificate(ctx context.Context) (*x509.Certificate, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("%w: no gRPC peer in context", ErrNoClientCert)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		kind := "plaintext"
		if p.AuthInfo != nil {
			kind = p.AuthInfo.AuthType()
		}
		return nil, fmt.Errorf("%w: connection from %v is %s, not TLS", ErrNoClientCert, p.Addr, kind)
	}
	chains := info.State.VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return nil, fmt.Errorf("%w: TLS connection from %v has no verified certificate chain", ErrNoClientCert, p.Addr)
	}
	return chains[0][0], nil
}
