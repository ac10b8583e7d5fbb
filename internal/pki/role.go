package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ConsortiumRole is what a certificate's holder is in the consortium. It is
// encoded in the certificate as the only Subject OrganizationalUnit (OU=site,
// OU=admin, …), so it is covered by the CA's signature, and read back with
// RoleOf.
type ConsortiumRole string

// The four roles.
const (
	// RoleCoordinator serves the site and admin APIs (serverAuth).
	RoleCoordinator ConsortiumRole = "coordinator"
	// RoleSite takes part in runs through the site API (clientAuth); its
	// common name is the site's identity.
	RoleSite ConsortiumRole = "site"
	// RoleAdmin is an operator who may start and stop runs (clientAuth).
	RoleAdmin ConsortiumRole = "admin"
	// RoleAuditor is an operator with read-only access to the admin API
	// (clientAuth).
	RoleAuditor ConsortiumRole = "auditor"
)

// ConsortiumRoles returns every role, in a fixed order.
func ConsortiumRoles() []ConsortiumRole {
	return []ConsortiumRole{RoleCoordinator, RoleSite, RoleAdmin, RoleAuditor}
}

var (
	// ErrNoRole reports a certificate without a consortium role, typically
	// one issued before roles existed. Renew it.
	ErrNoRole = errors.New("pki: certificate carries no consortium role")
	// ErrBadRole reports a certificate whose role is unknown, ambiguous or
	// inconsistent with its extended key usages.
	ErrBadRole = errors.New("pki: certificate has an invalid consortium role")
)

// ParseConsortiumRole parses a role name as written on the command line.
func ParseConsortiumRole(s string) (ConsortiumRole, error) {
	r := ConsortiumRole(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", fmt.Errorf("%w: unknown role %q (want %s)", ErrInvalid, s, RolesString(ConsortiumRoles()))
	}
	return r, nil
}

// Valid reports whether r is one of the four roles.
func (r ConsortiumRole) Valid() bool { return slices.Contains(ConsortiumRoles(), r) }

// String returns the role's name, or "none" for the zero value.
func (r ConsortiumRole) String() string {
	if r == "" {
		return "none"
	}
	return string(r)
}

// KeyUsage is the key usage (Server or Client) a certificate of role r
// carries: Server for the coordinator, Client for everyone else.
func (r ConsortiumRole) KeyUsage() Role {
	if r == RoleCoordinator {
		return Server
	}
	return Client
}

// RoleOf returns the consortium role encoded in cert: its single Subject
// OrganizationalUnit. It fails with ErrNoRole if cert has none, and with
// ErrBadRole if cert is a CA certificate, has several OUs or an unknown one,
// or lacks the extended key usage its role needs (serverAuth for the
// coordinator, clientAuth for the others). RoleOf does not verify the
// signature: call it on a certificate verified against the consortium CA.
func RoleOf(cert *x509.Certificate) (ConsortiumRole, error) {
	if cert == nil {
		return "", fmt.Errorf("%w: no certificate", ErrNoRole)
	}
	if cert.IsCA {
		return "", fmt.Errorf("%w: %s is a CA certificate, not a party's", ErrBadRole, Describe(cert))
	}
	ous := cert.Subject.OrganizationalUnit
	switch len(ous) {
	case 0:
		return "", fmt.Errorf("%w: %s has no role (no Subject OU); it was probably issued before roles existed: renew it with `cohort provision renew %s`",
			ErrNoRole, Describe(cert), cert.Subject.CommonName)
	case 1:
	default:
		return "", fmt.Errorf("%w: %s has %d Subject OUs %q; want exactly one of %s", ErrBadRole, Describe(cert), len(ous), ous, RolesString(ConsortiumRoles()))
	}
	r := ConsortiumRole(ous[0])
	if !r.Valid() {
		return "", fmt.Errorf("%w: %s has unknown role OU=%q (want %s)", ErrBadRole, Describe(cert), ous[0], RolesString(ConsortiumRoles()))
	}
	need, needName := x509.ExtKeyUsageClientAuth, "clientAuth"
	if r == RoleCoordinator {
		need, needName = x509.ExtKeyUsageServerAuth, "serverAuth"
	}
	if !slices.Contains(cert.ExtKeyUsage, need) && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return "", fmt.Errorf("%w: %s has role %s but lacks the %s extended key usage that role needs", ErrBadRole, Describe(cert), r, needName)
	}
	return r, nil
}

// Describe names a certificate in messages: `certificate "site-a" (serial 1f…)`.
func Describe(c *x509.Certificate) string {
	return fmt.Sprintf("certificate %q (serial %x)", c.Subject.CommonName, c.SerialNumber)
}

// RolesString formats roles for messages: "admin", "admin or auditor",
// "site, admin or auditor".
func RolesString(rs []ConsortiumRole) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	switch len(s) {
	case 0:
		return "no role"
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
