package registry

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CoSignature is one site's signature over a version hash, with the
// certificate that lets a verifier check it.
type CoSignature struct {
	Site        string // the site's name in the card; must equal the certificate's common name
	Certificate []byte // the site's certificate, one PEM "CERTIFICATE" block as pem.EncodeToMemory writes it
	Signature   []byte // ASN.1 DER ECDSA signature made by CoSign
}

// CoSign is a site's approval of a model version: an ECDSA signature, with
// the site's TLS key, over the SHA-256 of a domain tag and versionHash (see
// doc.go). The site should check the card (Card.CheckParams against the
// global model it holds, its own run, round and example count) and compute
// versionHash itself with Card.VersionHash before calling it.
//
// signer is the site's private key as internal/pki issues it (ECDSA; any
// crypto.Signer over an *ecdsa.PublicKey, so an HSM works too). The
// signature is checked against the public key before it is returned.
func CoSign(signer crypto.Signer, versionHash []byte) ([]byte, error) {
	if len(versionHash) != sha256.Size {
		return nil, fmt.Errorf("%w: version hash of %d bytes, want %d", ErrInvalidCoSignature, len(versionHash), sha256.Size)
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: site key is %T, want ECDSA", ErrInvalidCoSignature, signer.Public())
	}
	d := coSignDigest(versionHash)
	sig, err := signer.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%w: sign: %w", ErrInvalidCoSignature, err)
	}
	if !ecdsa.VerifyASN1(pub, d[:], sig) {
		return nil, fmt.Errorf("%w: the signer produced a signature its public key does not verify", ErrInvalidCoSignature)
	}
	return sig, nil
}

// SiteRole is the subject OU of a site certificate (see internal/pki).
const SiteRole = "site"

// VerifyCoSignature checks a co-signature and returns the signing site's
// name, the certificate's subject common name. It checks that certPEM is one
// canonical PEM certificate that chains to roots with the clientAuth
// extended key usage at time at, and that sig is its key's signature over
// versionHash as CoSign makes it.
//
// Verify passes the card's created_at as at, not the current time, so that
// a model keeps verifying after the site certificates that co-signed it have
// expired (doc.go discusses what that trusts). A zero at means now. roots
// must not be nil: the system roots never certify a site. The certificate
// must carry the site role (subject OU "site").
func VerifyCoSignature(certPEM, sig, versionHash []byte, roots *x509.CertPool, at time.Time) (site string, err error) {
	if roots == nil {
		return "", fmt.Errorf("%w: no CA pool to verify the certificate against", ErrInvalidCoSignature)
	}
	if len(versionHash) != sha256.Size {
		return "", fmt.Errorf("%w: version hash of %d bytes, want %d", ErrInvalidCoSignature, len(versionHash), sha256.Size)
	}
	cert, err := parseCertificate(certPEM)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidCoSignature, err)
	}
	if at.IsZero() {
		at = time.Now()
	}
	_, err = cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: at,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return "", fmt.Errorf("%w: certificate %q at %s: %w", ErrInvalidCoSignature, cert.Subject.CommonName, at.UTC().Format(time.RFC3339), err)
	}
	// The consortium names a certificate's role in its only subject OU; an
	// admin's or auditor's certificate must not pass for a site's, even
	// under a colliding name.
	if ou := cert.Subject.OrganizationalUnit; len(ou) != 1 || ou[0] != SiteRole {
		return "", fmt.Errorf("%w: certificate %q has role %q, not %q", ErrInvalidCoSignature, cert.Subject.CommonName,
			strings.Join(ou, ","), SiteRole)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return "", fmt.Errorf("%w: certificate %q does not allow digital signatures", ErrInvalidCoSignature, cert.Subject.CommonName)
	}
	if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
		return "", fmt.Errorf("%w: certificate %q has a %T key, want ECDSA", ErrInvalidCoSignature, cert.Subject.CommonName, cert.PublicKey)
	}
	d := coSignDigest(versionHash)
	if !verifyECDSA(cert.PublicKey, d[:], sig) {
		return "", fmt.Errorf("%w: signature by %q does not verify", ErrInvalidCoSignature, cert.Subject.CommonName)
	}
	return cert.Subject.CommonName, nil
}

// parseCertificate parses exactly one PEM certificate in canonical form:
// no headers, nothing before or after it, and byte-for-byte what
// pem.EncodeToMemory writes for it. Base64 and PEM accept several spellings
// of the same bytes; requiring one keeps every byte of an artifact
// significant.
func parseCertificate(certPEM []byte) (*x509.Certificate, error) {
	b, rest := pem.Decode(certPEM)
	switch {
	case b == nil:
		return nil, errors.New("no PEM certificate")
	case b.Type != "CERTIFICATE":
		return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", b.Type)
	case len(rest) != 0:
		return nil, errors.New("data after the PEM certificate")
	case len(b.Headers) != 0 || !bytes.Equal(pem.EncodeToMemory(b), certPEM):
		return nil, errors.New("PEM certificate is not in canonical form")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return cert, nil
}

// verifyECDSA reports whether sig is a valid ASN.1 ECDSA signature by pub
// over digest; false for any other kind of key.
func verifyECDSA(pub any, digest, sig []byte) bool {
	k, ok := pub.(*ecdsa.PublicKey)
	return ok && ecdsa.VerifyASN1(k, digest, sig)
}
