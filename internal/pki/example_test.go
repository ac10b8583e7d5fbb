package pki_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cohortfl/cohort/internal/pki"
)

func Example() {
	dir, err := os.MkdirTemp("", "pki-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	ca, err := pki.NewCA("Example federation CA", 24*time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	cert, key, err := ca.Issue("site-a", pki.Client, nil, nil, time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := pki.WriteBundle(dir, "site-a", ca.CertPEM(), cert, key); err != nil {
		fmt.Println(err)
		return
	}
	_, certFile, keyFile := pki.BundleFiles(dir, "site-a")
	fi, _ := os.Stat(keyFile)
	fmt.Println(filepath.Base(certFile), filepath.Base(keyFile), fi.Mode().Perm())
	// Output: site-a.pem site-a-key.pem -rw-------
}

func ExampleRoleOf() {
	ca, err := pki.NewCA("Example federation CA", 24*time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	certPEM, _, err := ca.IssueAs("carol", pki.RoleAuditor, nil, nil, time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		fmt.Println(err)
		return
	}
	role, err := pki.RoleOf(cert)
	fmt.Println(cert.Subject, role, err)
	// Output: CN=carol,OU=auditor auditor <nil>
}
