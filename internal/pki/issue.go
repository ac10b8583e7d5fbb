package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"strings"
	"time"
)

// Role says what a certificate may be used for. Roles combine with |.
type Role uint8

const (
	// Server certificates carry the serverAuth extended key usage and the
	// DNS names and IP addresses clients dial (the coordinator).
	Server Role = 1 << iota
	// Client certificates carry the clientAuth extended key usage; the subject
	// common name is the holder's identity (a site, or the operator's CLI).
	Client
)

// String returns "server", "client", "server+client" or "none".
func (r Role) String() string {
	var parts []string
	if r&Server != 0 {
		parts = append(parts, "server")
	}
	if r&Client != 0 {
		parts = append(parts, "client")
	}
	if r&^(Server|Client) != 0 {
		parts = append(parts, fmt.Sprintf("Role(%#x)", uint8(r&^(Server|Client))))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// Request describes a certificate to issue with full control over the validity
// window; tests use it to make expired and not-yet-valid certificates.
//
// Role (the key usage) and ConsortiumRole (what the holder is) go together:
// the coordinator is Server, everyone else Client. Give either and the other
// is derived; without a ConsortiumRole, a Server certificate is the
// coordinator's and a Client certificate a site's.
type Request struct {
	CommonName     string
	Role           Role
	ConsortiumRole ConsortiumRole
	DNSNames       []string
	IPs            []net.IP
	NotBefore      time.Time
	NotAfter       time.Time
}

// Issue creates a key pair for commonName and a certificate signed by the CA,
// valid from now (less a few minutes for clock skew) for validFor. A Server
// certificate needs at least one DNS name or IP address. It returns the
// PEM-encoded certificate and PKCS #8 private key; the caller owns the key and
// must store it privately (WriteBundle uses mode 0600).
//
// The certificate's consortium role follows from role: a Server certificate
// is the coordinator's, a Client certificate a site's. Use IssueAs for
// operators (admin, auditor).
func (ca *CA) Issue(commonName string, role Role, dnsNames []string, ips []net.IP, validFor time.Duration) (certPEM, keyPEM []byte, err error) {
	req, err := NewRequest(commonName, "", dnsNames, ips, validFor)
	if err != nil {
		return nil, nil, err
	}
	req.Role = role
	return ca.IssueRequest(req)
}

// IssueAs is Issue for a consortium role; the key usage follows from it.
func (ca *CA) IssueAs(commonName string, role ConsortiumRole, dnsNames []string, ips []net.IP, validFor time.Duration) (certPEM, keyPEM []byte, err error) {
	req, err := NewRequest(commonName, role, dnsNames, ips, validFor)
	if err != nil {
		return nil, nil, err
	}
	return ca.IssueRequest(req)
}

// NewRequest returns a Request for role valid from now (less a few minutes
// for clock skew) for validFor.
func NewRequest(commonName string, role ConsortiumRole, dnsNames []string, ips []net.IP, validFor time.Duration) (Request, error) {
	if validFor <= 0 {
		return Request{}, fmt.Errorf("pki: issue %q: %w: validity %v must be positive", commonName, ErrInvalid, validFor)
	}
	now := time.Now()
	return Request{
		CommonName:     commonName,
		ConsortiumRole: role,
		DNSNames:       dnsNames,
		IPs:            ips,
		NotBefore:      now.Add(-clockSkew),
		NotAfter:       now.Add(validFor),
	}, nil
}

// IssueRequest is Issue with an explicit validity window. The window is not
// clamped to the CA's own validity: a certificate outliving its CA is issued
// as asked, and verification will reject it once the CA expires.
func (ca *CA) IssueRequest(r Request) (certPEM, keyPEM []byte, err error) {
	r = r.resolveRoles()
	if err := checkRequest(r); err != nil {
		return nil, nil, fmt.Errorf("pki: issue %q: %w", r.CommonName, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue %q: generate key: %w", r.CommonName, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue %q: %w", r.CommonName, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: r.CommonName, OrganizationalUnit: []string{string(r.ConsortiumRole)}},
		NotBefore:             r.NotBefore,
		NotAfter:              r.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		DNSNames:              append([]string(nil), r.DNSNames...),
	}
	for _, ip := range r.IPs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, append(net.IP(nil), ip...))
	}
	if r.Role&Server != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if r.Role&Client != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue %q: sign: %w", r.CommonName, err)
	}
	keyPEM, err = marshalKeyPEM(key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue %q: %w", r.CommonName, err)
	}
	return encodePEM("CERTIFICATE", der), keyPEM, nil
}

func checkRequest(r Request) error {
	if err := checkCommonName(r.CommonName); err != nil {
		return err
	}
	if r.Role == 0 || r.Role&^(Server|Client) != 0 {
		return fmt.Errorf("%w: role %v: want pki.Server, pki.Client or both", ErrInvalid, r.Role)
	}
	if !r.ConsortiumRole.Valid() {
		return fmt.Errorf("%w: unknown consortium role %q (want %s)", ErrInvalid, r.ConsortiumRole, RolesString(ConsortiumRoles()))
	}
	if r.ConsortiumRole == RoleCoordinator && r.Role&Server == 0 {
		return fmt.Errorf("%w: a coordinator certificate needs the Server key usage, got %v", ErrInvalid, r.Role)
	}
	if r.ConsortiumRole != RoleCoordinator && r.Role != Client {
		return fmt.Errorf("%w: a %s certificate is a client certificate (pki.Client), got %v", ErrInvalid, r.ConsortiumRole, r.Role)
	}
	if r.Role&Server != 0 && len(r.DNSNames) == 0 && len(r.IPs) == 0 {
		return fmt.Errorf("%w: a server certificate needs at least one DNS name or IP address for clients to verify", ErrInvalid)
	}
	for _, name := range r.DNSNames {
		if strings.TrimSpace(name) == "" || strings.ContainsAny(name, " /\\:") {
			return fmt.Errorf("%w: bad DNS name %q", ErrInvalid, name)
		}
	}
	for _, ip := range r.IPs {
		if len(ip) != net.IPv4len && len(ip) != net.IPv6len {
			return fmt.Errorf("%w: bad IP address %v in [%s]", ErrInvalid, []byte(ip), ipsString(r.IPs))
		}
	}
	if r.NotBefore.IsZero() || r.NotAfter.IsZero() {
		return fmt.Errorf("%w: NotBefore and NotAfter must both be set", ErrInvalid)
	}
	if !r.NotAfter.After(r.NotBefore) {
		return fmt.Errorf("%w: NotAfter %s is not after NotBefore %s", ErrInvalid, stamp(r.NotAfter), stamp(r.NotBefore))
	}
	return nil
}

// resolveRoles fills in whichever of Role and ConsortiumRole is missing.
func (r Request) resolveRoles() Request {
	switch {
	case r.ConsortiumRole == "" && r.Role&Server != 0:
		r.ConsortiumRole = RoleCoordinator
	case r.ConsortiumRole == "" && r.Role != 0:
		r.ConsortiumRole = RoleSite
	case r.Role == 0 && r.ConsortiumRole.Valid():
		r.Role = r.ConsortiumRole.KeyUsage()
	}
	return r
}
