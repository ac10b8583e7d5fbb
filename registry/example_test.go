package registry_test

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/registry"
)

// Example publishes a model trained by two sites and verifies the exported
// artifact the way an auditor would, from files only.
func Example() {
	dir, err := os.MkdirTemp("", "registry-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	// The consortium CA and two sites with client certificates.
	ca, err := pki.NewCA("Example federation CA", 24*time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	sites := []string{"hospital-a", "hospital-b"}
	certs := map[string][]byte{}
	keys := map[string]crypto.Signer{}
	for _, s := range sites {
		certPEM, keyPEM, err := ca.Issue(s, pki.Client, nil, nil, time.Hour)
		if err != nil {
			fmt.Println(err)
			return
		}
		b, _ := pem.Decode(keyPEM)
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			fmt.Println(err)
			return
		}
		certs[s], keys[s] = certPEM, k.(crypto.Signer)
	}

	// The coordinator's hybrid signing key; the public half goes to auditors.
	signer, err := registry.GenerateSigner(nil, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := signer.Public().Save(filepath.Join(dir, "coordinator.pub")); err != nil {
		fmt.Println(err)
		return
	}

	// The card of the final global model.
	params := []float64{0.5, -1.25, 2, 0.125}
	card := registry.Card{
		SchemaVersion: registry.CardSchema,
		Name:          "readmission-risk",
		RunID:         "run-7",
		Round:         30,
		CreatedAt:     time.Now(),
		Model:         registry.ModelInfo{Architecture: "logreg", Features: 3, Classes: 2},
		Data:          registry.DataInfo{SchemaHash: "b1946ac9", Label: "readmitted"},
		Sites:         []registry.Site{{Name: "hospital-a", Examples: 1200}, {Name: "hospital-b", Examples: 800}},
		Metrics:       registry.Metrics{Overall: registry.Floats(map[string]float64{"auc": 0.81})},
	}
	card.SetParams(params)
	card.Follow(nil) // first version: 1.0.0

	// Every site checks the card and co-signs its version hash.
	var cosigs []registry.CoSignature
	for _, s := range sites {
		if err := card.CheckParams(params); err != nil {
			fmt.Println(err)
			return
		}
		vh, err := card.VersionHash()
		if err != nil {
			fmt.Println(err)
			return
		}
		sig, err := registry.CoSign(keys[s], vh[:])
		if err != nil {
			fmt.Println(err)
			return
		}
		cosigs = append(cosigs, registry.CoSignature{Site: s, Certificate: certs[s], Signature: sig})
	}

	a, err := registry.Seal(&card, params, signer, cosigs)
	if err != nil {
		fmt.Println(err)
		return
	}
	artifact := filepath.Join(dir, registry.DefaultFileName)
	if err := a.WriteFile(artifact); err != nil {
		fmt.Println(err)
		return
	}

	// The auditor holds ca.pem and coordinator.pub.
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	trust, err := registry.LoadTrust(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "coordinator.pub"))
	if err != nil {
		fmt.Println(err)
		return
	}
	report, err := registry.VerifyFile(artifact, trust)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(report.Card.Name, report.Card.Version, "verified:", report.OK)
	for _, c := range report.Checks {
		fmt.Println(c.OK, c.Name)
	}
	// Output:
	// readmission-risk 1.0.0 verified: true
	// true artifact
	// true card
	// true params
	// true version_hash
	// true coordinator.key
	// true coordinator.ed25519
	// true coordinator.ml-dsa-65
	// true cosignature/hospital-a
	// true cosignature/hospital-b
	// true sites.complete
	// true sites.expected
	// true sites.required
}
