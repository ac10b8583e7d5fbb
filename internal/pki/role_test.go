package pki_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cohortfl/cohort/internal/pki"
)

// rawCert makes a self-signed certificate from tmpl's subject and usages, to
// feed RoleOf certificates the CA would never issue.
func rawCert(t *testing.T, subject pkix.Name, usages []x509.ExtKeyUsage, isCA bool) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: subject, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: usages, BasicConstraintsValid: true, IsCA: isCA}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoleOf(t *testing.T) {
	ca, err := pki.NewCA("CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issued := func(name string, role pki.ConsortiumRole) *x509.Certificate {
		var ips []net.IP
		if role == pki.RoleCoordinator {
			ips = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		certPEM, _, err := ca.IssueAs(name, role, nil, ips, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return parse(t, certPEM)
	}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tests := []struct {
		name    string
		cert    *x509.Certificate
		want    pki.ConsortiumRole
		wantErr error
		wantMsg string
	}{
		{"site", issued("hospital-a", pki.RoleSite), pki.RoleSite, nil, ""},
		{"admin", issued("alice", pki.RoleAdmin), pki.RoleAdmin, nil, ""},
		{"auditor", issued("carol", pki.RoleAuditor), pki.RoleAuditor, nil, ""},
		{"coordinator", issued("coordinator", pki.RoleCoordinator), pki.RoleCoordinator, nil, ""},
		{"no OU (issued before roles)", rawCert(t, pkix.Name{CommonName: "old-site"}, client, false), "", pki.ErrNoRole, "cohort provision renew old-site"},
		{"two OUs", rawCert(t, pkix.Name{CommonName: "x", OrganizationalUnit: []string{"site", "admin"}}, client, false), "", pki.ErrBadRole, "2 Subject OUs"},
		{"unknown OU", rawCert(t, pkix.Name{CommonName: "x", OrganizationalUnit: []string{"root"}}, client, false), "", pki.ErrBadRole, `unknown role OU="root"`},
		{"role name is case-sensitive", rawCert(t, pkix.Name{CommonName: "x", OrganizationalUnit: []string{"Admin"}}, client, false), "", pki.ErrBadRole, "unknown role"},
		{"CA certificate", ca.Certificate(), "", pki.ErrBadRole, "is a CA certificate"},
		{"admin without clientAuth", rawCert(t, pkix.Name{CommonName: "x", OrganizationalUnit: []string{"admin"}}, server, false), "", pki.ErrBadRole, "lacks the clientAuth"},
		{"coordinator without serverAuth", rawCert(t, pkix.Name{CommonName: "x", OrganizationalUnit: []string{"coordinator"}}, client, false), "", pki.ErrBadRole, "lacks the serverAuth"},
		{"nil", nil, "", pki.ErrNoRole, "no certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pki.RoleOf(tt.cert)
			if got != tt.want {
				t.Errorf("RoleOf = %q; want %q", got, tt.want)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Errorf("RoleOf error = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("RoleOf error = %v; want %v mentioning %q", err, tt.wantErr, tt.wantMsg)
			}
		})
	}
}

// TestIssueRolesAndUsages checks that the key usage follows the role, that
// the legacy Issue(Server|Client) API maps to coordinator and site, and that
// inconsistent requests are refused.
func TestIssueRolesAndUsages(t *testing.T) {
	ca, err := pki.NewCA("CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	lo := []net.IP{net.IPv4(127, 0, 0, 1)}
	check := func(name string, certPEM []byte, err error, want pki.ConsortiumRole, wantUsage x509.ExtKeyUsage) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c := parse(t, certPEM)
		got, err := pki.RoleOf(c)
		if err != nil || got != want {
			t.Errorf("%s: RoleOf = %q, %v; want %q", name, got, err, want)
		}
		if len(c.ExtKeyUsage) == 0 || c.ExtKeyUsage[0] != wantUsage {
			t.Errorf("%s: ExtKeyUsage = %v; want [%v]", name, c.ExtKeyUsage, wantUsage)
		}
		if ou := c.Subject.OrganizationalUnit; len(ou) != 1 || ou[0] != string(want) {
			t.Errorf("%s: Subject OU = %q; want [%q]", name, ou, want)
		}
	}
	c, _, err := ca.Issue("site-a", pki.Client, nil, nil, time.Hour)
	check("Issue(Client)", c, err, pki.RoleSite, x509.ExtKeyUsageClientAuth)
	c, _, err = ca.Issue("coordinator", pki.Server, nil, lo, time.Hour)
	check("Issue(Server)", c, err, pki.RoleCoordinator, x509.ExtKeyUsageServerAuth)
	c, _, err = ca.IssueAs("alice", pki.RoleAdmin, nil, nil, time.Hour)
	check("IssueAs(admin)", c, err, pki.RoleAdmin, x509.ExtKeyUsageClientAuth)
	c, _, err = ca.IssueAs("carol", pki.RoleAuditor, nil, nil, time.Hour)
	check("IssueAs(auditor)", c, err, pki.RoleAuditor, x509.ExtKeyUsageClientAuth)

	now := time.Now()
	bad := []pki.Request{
		{CommonName: "a", Role: pki.Server, ConsortiumRole: pki.RoleAdmin, IPs: lo},
		{CommonName: "a", Role: pki.Server | pki.Client, ConsortiumRole: pki.RoleSite, IPs: lo},
		{CommonName: "a", Role: pki.Client, ConsortiumRole: pki.RoleCoordinator},
		{CommonName: "a", ConsortiumRole: "root"},
	}
	for _, r := range bad {
		r.NotBefore, r.NotAfter = now, now.Add(time.Hour)
		if _, _, err := ca.IssueRequest(r); !errors.Is(err, pki.ErrInvalid) {
			t.Errorf("IssueRequest(role %v, %q) = %v; want ErrInvalid", r.Role, r.ConsortiumRole, err)
		}
	}
}

func TestParseConsortiumRole(t *testing.T) {
	for in, want := range map[string]pki.ConsortiumRole{"site": pki.RoleSite, " Admin ": pki.RoleAdmin, "AUDITOR": pki.RoleAuditor, "coordinator": pki.RoleCoordinator} {
		if got, err := pki.ParseConsortiumRole(in); err != nil || got != want {
			t.Errorf("ParseConsortiumRole(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := pki.ParseConsortiumRole("operator"); !errors.Is(err, pki.ErrInvalid) || !strings.Contains(err.Error(), "coordinator, site, admin or auditor") {
		t.Errorf("ParseConsortiumRole(operator) = %v; want ErrInvalid listing the roles", err)
	}
}
