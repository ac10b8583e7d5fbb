package tlsconf

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

const (
	whatCert = "certificate"
	whatKey  = "private key"
	whatCA   = "CA certificate"
)

// bundle is a checked certificate, key and CA pool.
type bundle struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// loadBundle reads and checks certFile/keyFile against caFile for usage.
// Checks run in the order an operator would fix them: files readable and
// parsable, key matches certificate, dates, issuer, extended key usage.
func loadBundle(certFile, keyFile, caFile string, usage x509.ExtKeyUsage, now time.Time) (*bundle, error) {
	caCerts, err := readCerts(whatCA, caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	anyCA := false
	for _, c := range caCerts {
		pool.AddCert(c)
		anyCA = anyCA || c.IsCA
		if err := checkDates(c, now); err != nil {
			return nil, &FileError{What: whatCA, Path: caFile, Err: err}
		}
	}
	if !anyCA {
		return nil, &FileError{What: whatCA, Path: caFile, Err: fmt.Errorf("%w: %s is not a CA certificate (did you pass a site or coordinator certificate as the CA?)", ErrUnknownAuthority, describe(caCerts[0]))}
	}

	chain, err := readCerts(whatCert, certFile)
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	key, err := readKey(keyFile)
	if err != nil {
		return nil, err
	}
	if !publicKeyMatches(key, leaf.PublicKey) {
		return nil, &FileError{What: whatKey, Path: keyFile, Err: fmt.Errorf("%w: key is not the one of %s in %q", ErrKeyMismatch, describe(leaf), certFile)}
	}
	if err := checkDates(leaf, now); err != nil {
		return nil, &FileError{What: whatCert, Path: certFile, Err: err}
	}

	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, &FileError{What: whatCert, Path: certFile, Err: fmt.Errorf("%w: %s (issuer %q) does not verify against %q: %w",
			ErrUnknownAuthority, describe(leaf), leaf.Issuer.CommonName, caFile, err)}
	}
	if !hasUsage(leaf, usage) {
		return nil, &FileError{What: whatCert, Path: certFile, Err: fmt.Errorf("%w: %s has extended key usages [%s], needs %s",
			ErrMissingUsage, describe(leaf), usagesString(leaf.ExtKeyUsage), usageName(usage))}
	}

	der := make([][]byte, len(chain))
	for i, c := range chain {
		der[i] = c.Raw
	}
	return &bundle{
		cert: tls.Certificate{Certificate: der, PrivateKey: key, Leaf: leaf},
		pool: pool,
	}, nil
}

// readCerts returns the CERTIFICATE blocks of path, in order.
func readCerts(what, path string) ([]*x509.Certificate, error) {
	data, err := readFile(what, path)
	if err != nil {
		return nil, err
	}
	var (
		certs []*x509.Certificate
		other []string
	)
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			other = append(other, block.Type)
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, &FileError{What: what, Path: path, Err: fmt.Errorf("%w: certificate block %d: %w", ErrNoPEM, len(certs)+1, err)}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		msg := "no PEM CERTIFICATE block found"
		if len(other) > 0 {
			msg += fmt.Sprintf(" (found %s; certificate and key files swapped?)", strings.Join(other, ", "))
		}
		return nil, &FileError{What: what, Path: path, Err: fmt.Errorf("%w: %s", ErrNoPEM, msg)}
	}
	return certs, nil
}

// readKey returns the first private key in path.
func readKey(path string) (crypto.Signer, error) {
	data, err := readFile(whatKey, path)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (crypto.Signer, error) {
		return nil, &FileError{What: whatKey, Path: path, Err: err}
	}
	var other []string
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		var key any
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return fail(fmt.Errorf("%w: encrypted private keys are not supported", ErrNoPEM))
		default:
			other = append(other, block.Type)
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("%w: %s block: %w", ErrNoPEM, block.Type, err))
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return fail(fmt.Errorf("%w: unsupported private key type %T", ErrNoPEM, key))
		}
		return signer, nil
	}
	msg := "no PEM PRIVATE KEY block found"
	if len(other) > 0 {
		msg += fmt.Sprintf(" (found %s; certificate and key files swapped?)", strings.Join(other, ", "))
	}
	return fail(fmt.Errorf("%w: %s", ErrNoPEM, msg))
}

func readFile(what, path string) ([]byte, error) {
	if path == "" {
		return nil, &FileError{What: what, Err: errors.New("no path given")}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// The *PathError already names the path; keep it for errors.Is(fs.ErrNotExist).
		return nil, &FileError{What: what, Path: path, Err: err}
	}
	return data, nil
}

func checkDates(c *x509.Certificate, now time.Time) error {
	switch {
	case now.After(c.NotAfter):
		return fmt.Errorf("%w: %s expired at %s (now %s)", ErrExpired, describe(c), stamp(c.NotAfter), stamp(now))
	case now.Before(c.NotBefore):
		return fmt.Errorf("%w: %s is not valid until %s (now %s; check the clocks)", ErrNotYetValid, describe(c), stamp(c.NotBefore), stamp(now))
	}
	return nil
}

func publicKeyMatches(key crypto.Signer, pub crypto.PublicKey) bool {
	k, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(pub)
}

func hasUsage(c *x509.Certificate, usage x509.ExtKeyUsage) bool {
	return slices.Contains(c.ExtKeyUsage, usage) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}

func describe(c *x509.Certificate) string {
	return fmt.Sprintf("certificate %q (serial %x)", c.Subject.CommonName, c.SerialNumber)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func usageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageAny:
		return "any"
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	case x509.ExtKeyUsageCodeSigning:
		return "codeSigning"
	case x509.ExtKeyUsageEmailProtection:
		return "emailProtection"
	case x509.ExtKeyUsageTimeStamping:
		return "timeStamping"
	case x509.ExtKeyUsageOCSPSigning:
		return "OCSPSigning"
	}
	return fmt.Sprintf("ExtKeyUsage(%d)", int(u))
}

func usagesString(us []x509.ExtKeyUsage) string {
	if len(us) == 0 {
		return "none"
	}
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = usageName(u)
	}
	return strings.Join(s, " ")
}
