// Package pki is Cohort's small certificate authority. It issues the
// coordinator, site and operator certificates that internal/tlsconf uses for
// mutual TLS, keeps a record of them, and signs the revocation list.
//
// One consortium has one CA. Every certificate carries its holder's role
// (ConsortiumRole) as its only Subject OrganizationalUnit, covered by the
// CA's signature, and RoleOf reads it back:
//
//	OU=coordinator  serverAuth, the DNS names or IP addresses sites dial
//	OU=site         clientAuth; the common name is the site's identity
//	OU=admin        clientAuth; an operator who may start and stop runs
//	OU=auditor      clientAuth; an operator who may only read
//
// The coordinator decides what each role may call (coordinator/authz.go).
// A certificate without an OU was issued before roles existed: RoleOf fails
// with ErrNoRole, and it must be renewed.
//
// An Authority is a CA directory, as `cohort provision` uses it:
//
//	a, err := pki.CreateAuthority("pki/ca", "cohort-consortium-ca", 5*365*24*time.Hour, pki.DefaultCRLValidity)
//	// pki/ca/ca.pem, ca-key.pem (0600), crl.pem (CRL number 1), issued/
//	req, err := pki.NewRequest("site-a", pki.RoleSite, nil, nil, 365*24*time.Hour)
//	cert, key, c, err := a.Issue(req)                         // also pki/ca/issued/SERIAL.pem
//	err = pki.WriteBundle("pki/site-a", "site-a", a.CA().CertPEM(), cert, key)
//	// pki/site-a/ca.pem, site-a.pem, site-a-key.pem (0600)
//	l, err := a.Revoke([]pki.Revocation{{Serial: c.SerialNumber}}, pki.DefaultCRLValidity)
//	// crl.pem re-signed with CRL number 2, replaced atomically
//
// Adding a party writes only its own files: no other bundle changes.
// WriteBundle never overwrites; RenewBundle replaces one party's certificate
// and key (a renewal) and nothing else. A renewed party's old certificate
// stays valid until it expires unless it is revoked.
//
// LoadRevocationList and ParseRevocationList verify a list's signature
// against the CA; RevocationList.CheckFresh checks its NextUpdate. The
// coordinator's live checks are tlsconf.CRLChecker.
//
// For tests and the simulator, CA.Issue and CA.IssueAs issue without a CA
// directory; Issue(name, Server|Client, …) gives the coordinator and site
// roles.
//
// Keys are ECDSA P-256 drawn from crypto/rand. The package never logs, and a
// *CA formats as its subject only, so a CA printed by mistake does not leak its
// private key.
package pki
