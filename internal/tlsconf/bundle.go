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

	"github.com/cohortfl/cohort/internal/pki"
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

// Use says what a bundle is loaded for: the extended key usage its
// certificate needs and the consortium roles (internal/pki.RoleOf) that may
// use it that way. The Use values below must not be modified.
type Use struct {
	// Purpose names the use in messages: "running a site".
	Purpose string
	// Usage is the extended key usage the certificate needs;
	// x509.ExtKeyUsageAny means "whatever its role needs".
	Usage x509.ExtKeyUsage
	// Roles are the roles allowed; empty allows any role.
	Roles []pki.ConsortiumRole
}

// The uses of Cohort's bundles.
var (
	// UseCoordinator is the coordinator's server certificate (ServerConfig's
	// default).
	UseCoordinator = Use{"serving as the coordinator", x509.ExtKeyUsageServerAuth, []pki.ConsortiumRole{pki.RoleCoordinator}}
	// UseSite is a site's client certificate (`cohort client run`).
	UseSite = Use{"running a site", x509.ExtKeyUsageClientAuth, []pki.ConsortiumRole{pki.RoleSite}}
	// UseOperator is an operator's client certificate (the admin CLI).
	UseOperator = Use{"using the admin API", x509.ExtKeyUsageClientAuth, []pki.ConsortiumRole{pki.RoleAdmin, pki.RoleAuditor}}
	// UseClient is any client of the coordinator (ClientConfig's default).
	UseClient = Use{"connecting to the coordinator", x509.ExtKeyUsageClientAuth,
		[]pki.ConsortiumRole{pki.RoleSite, pki.RoleAdmin, pki.RoleAuditor}}
)

// Names of the checks in a BundleReport, in the order they run.
const (
	CheckCA          = "ca"
	CheckCertificate = "certificate"
	CheckKey         = "key"
	CheckValidity    = "validity"
	CheckIssuer      = "issuer"
	CheckUsage       = "usage"
	CheckRole        = "role"
	CheckRevocation  = "revocation"
)

// Check statuses.
const (
	StatusOK      = "ok"
	StatusFail    = "fail"
	StatusSkipped = "skipped"
)

// Check is the outcome of one check of a bundle.
type Check struct {
	Name   string `json:"check"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	// Err is the failure (a *FileError for file problems); nil unless
	// Status is StatusFail.
	Err error `json:"-"`
}

// BundleReport is the outcome of every check of a bundle (see CheckBundle).
type BundleReport struct {
	Checks []Check `json:"checks"`
	// Cert is the bundle's certificate, if it could be parsed.
	Cert *x509.Certificate `json:"-"`
	// Role is the certificate's consortium role, if it has a valid one.
	Role pki.ConsortiumRole `json:"role,omitempty"`

	key   crypto.Signer
	chain []*x509.Certificate
	pool  *x509.CertPool
}

// Err returns the first failed check's error, or nil if every check passed
// or was skipped.
func (r *BundleReport) Err() error {
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			return c.Err
		}
	}
	return nil
}

func (r *BundleReport) ok(name, detail string) {
	r.Checks = append(r.Checks, Check{name, StatusOK, detail, nil})
}

func (r *BundleReport) skip(name, why string) {
	r.Checks = append(r.Checks, Check{name, StatusSkipped, why, nil})
}

func (r *BundleReport) fail(name string, err error) {
	detail := err.Error()
	var fe *FileError
	if errors.As(err, &fe) {
		detail = fe.Err.Error()
		if fe.Path != "" {
			detail += fmt.Sprintf(" (%s)", fe.Path)
		}
	}
	r.Checks = append(r.Checks, Check{name, StatusFail, detail, err})
}

// CheckBundle runs every check of the bundle certFile/keyFile/caFile for use,
// and reports each one; a check that depends on a failed one is skipped. The
// checks, in order: the CA file (a CA certificate, within its dates); the
// certificate file; the key (parses and belongs to the certificate); the
// certificate's dates; its issuer (it verifies against the CA: a certificate
// from a different CA fails here); its extended key usage; its consortium
// role (pki.RoleOf, allowed for use); and, with WithRevocationChecker, that
// it is not revoked. Options other than WithClock and WithRevocationChecker
// are ignored.
//
// ServerConfig and ClientConfig run the same checks and return the first
// failure; CheckBundle is for tools that report all of them (`cohort
// provision check`).
func CheckBundle(certFile, keyFile, caFile string, use Use, opts ...Option) *BundleReport {
	o := buildOptions(opts)
	return checkBundle(certFile, keyFile, caFile, use, o.now(), o.revoker)
}

func checkBundle(certFile, keyFile, caFile string, use Use, now time.Time, revoker RevocationChecker) *BundleReport {
	r := &BundleReport{}
	caOK := false
	caCerts, err := readCerts(whatCA, caFile)
	if err != nil {
		r.fail(CheckCA, err)
	} else if err := checkCA(caFile, caCerts, now); err != nil {
		r.fail(CheckCA, err)
	} else {
		r.pool = x509.NewCertPool()
		var names []string
		for _, c := range caCerts {
			r.pool.AddCert(c)
			names = append(names, fmt.Sprintf("%q", c.Subject.CommonName))
		}
		caOK = true
		r.ok(CheckCA, fmt.Sprintf("%s, valid until %s", strings.Join(names, ", "), stamp(caCerts[0].NotAfter)))
	}

	chain, err := readCerts(whatCert, certFile)
	if err != nil {
		r.fail(CheckCertificate, err)
	} else {
		r.chain, r.Cert = chain, chain[0]
		r.ok(CheckCertificate, describe(r.Cert))
	}
	leaf := r.Cert

	key, err := readKey(keyFile)
	switch {
	case err != nil:
		r.fail(CheckKey, err)
	case leaf == nil:
		r.skip(CheckKey, "no certificate to match the key against")
	case !publicKeyMatches(key, leaf.PublicKey):
		r.fail(CheckKey, &FileError{What: whatKey, Path: keyFile, Err: fmt.Errorf("%w: key is not the one of %s in %q", ErrKeyMismatch, describe(leaf), certFile)})
	default:
		r.key = key
		r.ok(CheckKey, "matches the certificate")
	}

	if leaf == nil {
		for _, name := range []string{CheckValidity, CheckIssuer, CheckUsage, CheckRole, CheckRevocation} {
			r.skip(name, "no certificate")
		}
		return r
	}
	datesOK := false
	if err := checkDates(leaf, now); err != nil {
		r.fail(CheckValidity, &FileError{What: whatCert, Path: certFile, Err: err})
	} else {
		datesOK = true
		r.ok(CheckValidity, fmt.Sprintf("from %s until %s", stamp(leaf.NotBefore), stamp(leaf.NotAfter)))
	}

	if !caOK {
		r.skip(CheckIssuer, "no usable CA certificate")
	} else {
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		var err error
		if datesOK {
			_, err = leaf.Verify(x509.VerifyOptions{
				Roots:         r.pool,
				Intermediates: inter,
				CurrentTime:   now,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
		} else {
			// The dates were reported already; say only whether the CA
			// signed it, so that an expired certificate from another CA
			// is still recognised as such.
			err = signedByAny(leaf, append(slices.Clone(chain[1:]), caCerts...))
		}
		if err != nil {
			r.fail(CheckIssuer, &FileError{What: whatCert, Path: certFile, Err: fmt.Errorf("%w (wrong CA?): %s (issuer %q, key %s) does not verify against %q (%s): %w",
				ErrUnknownAuthority, describe(leaf), leaf.Issuer.CommonName, pki.KeyID(leaf.AuthorityKeyId), caFile, caKeys(caCerts), err)})
		} else {
			r.ok(CheckIssuer, fmt.Sprintf("signed by %q", leaf.Issuer.CommonName))
		}
	}

	switch {
	case use.Usage == x509.ExtKeyUsageAny:
		r.skip(CheckUsage, "checked with the role")
	case !hasUsage(leaf, use.Usage):
		r.fail(CheckUsage, &FileError{What: whatCert, Path: certFile, Err: fmt.Errorf("%w: %s has extended key usages [%s], needs %s",
			ErrMissingUsage, describe(leaf), usagesString(leaf.ExtKeyUsage), usageName(use.Usage))})
	default:
		r.ok(CheckUsage, usagesString(leaf.ExtKeyUsage))
	}

	if role, err := pki.RoleOf(leaf); err != nil {
		r.fail(CheckRole, &FileError{What: whatCert, Path: certFile, Err: fmt.Errorf("%w: %w", ErrWrongRole, err)})
	} else if len(use.Roles) > 0 && !slices.Contains(use.Roles, role) {
		r.Role = role
		r.fail(CheckRole, &FileError{What: whatCert, Path: certFile, Err: fmt.Errorf("%w: %s has role %s, but %s needs role %s",
			ErrWrongRole, describe(leaf), role, use.Purpose, pki.RolesString(use.Roles))})
	} else {
		r.Role = role
		r.ok(CheckRole, string(role))
	}

	if revoker == nil {
		r.skip(CheckRevocation, "no revocation list given")
	} else if err := revoker.CheckRevocation(leaf, chain); err != nil {
		r.fail(CheckRevocation, &FileError{What: whatCert, Path: certFile, Err: err})
	} else {
		r.ok(CheckRevocation, "not revoked")
	}
	return r
}

// loadBundle reads and checks certFile/keyFile against caFile for use (see
// checkBundle) and returns the first problem, in the order an operator would
// fix them.
func loadBundle(certFile, keyFile, caFile string, use Use, now time.Time, revoker RevocationChecker) (*bundle, error) {
	r := checkBundle(certFile, keyFile, caFile, use, now, revoker)
	if err := r.Err(); err != nil {
		return nil, err
	}
	der := make([][]byte, len(r.chain))
	for i, c := range r.chain {
		der[i] = c.Raw
	}
	return &bundle{
		cert: tls.Certificate{Certificate: der, PrivateKey: r.key, Leaf: r.Cert},
		pool: r.pool,
	}, nil
}

// caKeys describes the CA certificates of a CA file by name and key id.
func caKeys(cas []*x509.Certificate) string {
	s := make([]string, len(cas))
	for i, c := range cas {
		s[i] = fmt.Sprintf("%q, key %s", c.Subject.CommonName, pki.KeyID(c.SubjectKeyId))
	}
	return strings.Join(s, "; ")
}

// signedByAny returns nil if one of issuers signed c.
func signedByAny(c *x509.Certificate, issuers []*x509.Certificate) error {
	err := errors.New("no CA certificate")
	for _, ca := range issuers {
		if err = c.CheckSignatureFrom(ca); err == nil {
			return nil
		}
	}
	return fmt.Errorf("x509: certificate signed by unknown authority (%w)", err)
}

// checkCA checks the certificates of the CA file: each within its dates, and
// at least one a CA certificate.
func checkCA(caFile string, caCerts []*x509.Certificate, now time.Time) error {
	anyCA := false
	for _, c := range caCerts {
		anyCA = anyCA || c.IsCA
		if err := checkDates(c, now); err != nil {
			return &FileError{What: whatCA, Path: caFile, Err: err}
		}
	}
	if !anyCA {
		return &FileError{What: whatCA, Path: caFile, Err: fmt.Errorf("%w: %s is not a CA certificate (did you pass a site or coordinator certificate as the CA?)", ErrUnknownAuthority, describe(caCerts[0]))}
	}
	return nil
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

func describe(c *x509.Certificate) string { return pki.Describe(c) }

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
