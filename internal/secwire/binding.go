package secwire

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// ErrBinding reports an identity that is not bound to a valid certificate of
// the claimed site.
var ErrBinding = errors.New("secwire: identity keys not bound to the site's certificate")

// bindingMessage is what a site signs with its TLS certificate key to bind
// its per-run secure-aggregation keys to its certificate identity.
func bindingMessage(runID string, epoch uint64, kem, verify []byte) []byte {
	var b []byte
	put := func(p []byte) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
		b = append(b, p...)
	}
	put([]byte("cohort/secagg/identity-binding/v1"))
	put([]byte(runID))
	b = binary.BigEndian.AppendUint64(b, epoch)
	put(kem)
	put(verify)
	return b
}

// Bind signs the site's identity keys with the private key of its TLS client
// certificate (certDER), for run and epoch.
func Bind(signer crypto.Signer, certDER []byte, runID string, epoch uint64, kem, verify []byte) (*cohortv1.SecAggIdentity, error) {
	msg := bindingMessage(runID, epoch, kem, verify)
	var sig []byte
	var err error
	switch signer.Public().(type) {
	case ed25519.PublicKey:
		sig, err = signer.Sign(rand.Reader, msg, crypto.Hash(0))
	default:
		h := sha256.Sum256(msg)
		sig, err = signer.Sign(rand.Reader, h[:], crypto.SHA256)
	}
	if err != nil {
		return nil, fmt.Errorf("secwire: signing identity binding: %w", err)
	}
	return &cohortv1.SecAggIdentity{KemPublic: kem, VerifyPublic: verify, Certificate: certDER, BindingSignature: sig}, nil
}

// VerifyBinding checks that id's certificate chains to roots as a client
// certificate valid at now, that its common name is site, and that it signed
// the identity keys for run and epoch. Every site runs this on every roster
// member, so the coordinator cannot substitute keys without a certificate.
func VerifyBinding(id *cohortv1.SecAggIdentity, site, runID string, epoch uint64, roots *x509.CertPool, now time.Time) error {
	if id == nil {
		return fmt.Errorf("%w: site %q sent no identity", ErrBinding, site)
	}
	cert, err := x509.ParseCertificate(id.Certificate)
	if err != nil {
		return fmt.Errorf("%w: site %q: certificate does not parse: %v", ErrBinding, site, err)
	}
	if cert.Subject.CommonName != site {
		return fmt.Errorf("%w: certificate is for %q, not %q", ErrBinding, cert.Subject.CommonName, site)
	}
	if roots != nil {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return fmt.Errorf("%w: site %q: certificate does not verify against the consortium CA: %v", ErrBinding, site, err)
		}
	}
	msg := bindingMessage(runID, epoch, id.KemPublic, id.VerifyPublic)
	var algo x509.SignatureAlgorithm
	switch cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		algo = x509.ECDSAWithSHA256
	case ed25519.PublicKey:
		algo = x509.PureEd25519
	default:
		return fmt.Errorf("%w: site %q: unsupported certificate key type %T", ErrBinding, site, cert.PublicKey)
	}
	if err := cert.CheckSignature(algo, msg, id.BindingSignature); err != nil {
		return fmt.Errorf("%w: site %q: binding signature does not verify: %v", ErrBinding, site, err)
	}
	return nil
}
