package client

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/internal/secwire"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/registry"
)

// TestCosignChecksTheCard: a site co-signs a card only if it describes the
// model it downloads, for this run and architecture, lists the site and
// records a passed gate; its signature verifies under its certificate.
func TestCosignChecksTheCard(t *testing.T) {
	ca, err := pki.NewCA("ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueAs("site-a", pki.RoleSite, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	x := NewExecutor("site-a", nil, Credentials{Signer: key.(crypto.Signer), Certificate: cb.Bytes, Roots: roots})

	params := []float64{0.5, -1, 2}
	created := time.Now().UTC()
	mkCard := func(edit func(*registry.Card)) *registry.Card {
		c := &registry.Card{SchemaVersion: registry.CardSchema, Name: "m", Version: registry.Version{Major: 1}, RunID: "r",
			CreatedAt: created, Model: registry.ModelInfo{Architecture: "logreg", Features: 2, Classes: 2, NumParams: 3},
			Sites: []registry.Site{{Name: "site-a", Examples: 10}}, FairnessGate: &registry.FairnessGate{Passed: true}}
		c.SetParams(params)
		if edit != nil {
			edit(c)
		}
		return c
	}
	task := Task{RunID: "r", Kind: cohortv1.TaskKind_TASK_KIND_COSIGN,
		Config: protocol.TaskConfig{Model: "logreg", Features: 2, Classes: 2}}
	run := func(card *registry.Card, got []float64, badHash bool) (Result, error) {
		cj, err := card.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		vh, err := card.VersionHash()
		if err != nil {
			t.Fatal(err)
		}
		if badHash {
			vh[0] ^= 1
		}
		blob, err := secwire.Marshal(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_CosignRequest{
			CosignRequest: &cohortv1.CoSignRequest{CardJson: cj, VersionHash: vh[:]}}})
		if err != nil {
			t.Fatal(err)
		}
		return x.Execute(context.Background(), task, func() ([]float64, error) { return got, nil },
			func() ([]byte, error) { return blob, nil })
	}

	res, err := run(mkCard(nil), params, false)
	if err != nil {
		t.Fatal(err)
	}
	m, err := secwire.Unmarshal(res.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	c := m.GetCosignature()
	card := mkCard(nil)
	vh, _ := card.VersionHash()
	if name, err := registry.VerifyCoSignature(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate}), c.Signature, vh[:], roots, time.Time{}); err != nil || name != "site-a" {
		t.Fatalf("co-signature: %q, %v", name, err)
	}

	for name, tc := range map[string]struct {
		card    *registry.Card
		params  []float64
		badHash bool
	}{
		"other parameters":   {mkCard(nil), []float64{0.5, -1, 2.0001}, false},
		"not listed":         {mkCard(func(c *registry.Card) { c.Sites = []registry.Site{{Name: "site-b"}} }), params, false},
		"gate not passed":    {mkCard(func(c *registry.Card) { c.FairnessGate.Passed = false }), params, false},
		"other architecture": {mkCard(func(c *registry.Card) { c.Model.Architecture = "mlp" }), params, false},
		"other run":          {mkCard(func(c *registry.Card) { c.RunID = "r2" }), params, false},
		"wrong version hash": {mkCard(nil), params, true},
	} {
		if _, err := run(tc.card, tc.params, tc.badHash); !errors.Is(err, ErrCosignRefused) {
			t.Errorf("%s: err = %v, want ErrCosignRefused", name, err)
		}
	}
}
