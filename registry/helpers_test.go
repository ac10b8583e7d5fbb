package registry

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cohortfl/cohort/internal/pki"
)

// federation is a consortium CA with some sites holding client certificates.
type federation struct {
	ca    *pki.CA
	pool  *x509.CertPool
	certs map[string][]byte
	keys  map[string]crypto.Signer
}

func newFederation(t testing.TB, sites ...string) *federation {
	t.Helper()
	ca, err := pki.NewCA("Test consortium CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := &federation{ca: ca, pool: x509.NewCertPool(), certs: map[string][]byte{}, keys: map[string]crypto.Signer{}}
	f.pool.AddCert(ca.Certificate())
	for _, s := range sites {
		f.issue(t, pki.Request{CommonName: s, Role: pki.Client, NotBefore: time.Now().Add(-5 * time.Minute), NotAfter: time.Now().Add(time.Hour)})
	}
	return f
}

func (f *federation) issue(t testing.TB, req pki.Request) {
	t.Helper()
	certPEM, keyPEM, err := f.ca.IssueRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	f.certs[req.CommonName] = certPEM
	f.keys[req.CommonName] = parseSiteKey(t, keyPEM)
}

func parseSiteKey(t testing.TB, keyPEM []byte) crypto.Signer {
	t.Helper()
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		t.Fatal("no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}

// cosign has every named site co-sign card.
func (f *federation) cosign(t testing.TB, card *Card, sites ...string) []CoSignature {
	t.Helper()
	vh, err := card.VersionHash()
	if err != nil {
		t.Fatal(err)
	}
	var out []CoSignature
	for _, s := range sites {
		sig, err := CoSign(f.keys[s], vh[:])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, CoSignature{Site: s, Certificate: f.certs[s], Signature: sig})
	}
	return out
}

func testParams(n int) []float64 {
	r := rand.New(rand.NewPCG(1, 2))
	p := make([]float64, n)
	for i := range p {
		p[i] = r.NormFloat64()
	}
	return p
}

// testCard returns a valid card for params and sites, with NaN and
// infinite values in its metrics.
func testCard(params []float64, sites ...string) Card {
	c := Card{
		SchemaVersion: CardSchema,
		Name:          "credit-risk",
		Version:       Version{1, 0, 0},
		RunID:         "run-2026-0001",
		Round:         12,
		CreatedAt:     time.Now(),
		Model: ModelInfo{
			Architecture: "logreg",
			Features:     len(params) - 1,
			Classes:      2,
		},
		Data: DataInfo{
			SchemaHash:          "3f1c9d2a",
			Label:               "default",
			Positive:            "0",
			ProtectedAttributes: []string{"sex", "age"},
		},
		Training: json.RawMessage(`{"rounds": 12, "lr": 0.1, "dp": {"noise_multiplier": 1.1}}`),
		Metrics: Metrics{
			Overall: map[string]Float{"accuracy": 0.875, "auc": Float(math.NaN()), "loss": Float(math.Inf(1))},
			PerGroup: map[string]map[string]Float{
				"sex=F": {"tpr": Float(math.NaN()), "fpr": 0.125},
				"sex=M": {"tpr": 0.75, "fpr": Float(math.Copysign(0, -1))},
			},
		},
		Privacy:      &Privacy{Epsilon: 2.5, Delta: 1e-5, Mechanism: "subsampled_gaussian", Accountant: "rdp", LedgerEntries: 36},
		FairnessGate: &FairnessGate{Passed: true, Checks: json.RawMessage(`[{"name":"min_disparate_impact","attribute":"sex","value":0.85,"threshold":0.8,"passed":true}]`)},
		Explanations: &Explanations{
			Method: "linear_shap",
			Top:    []FeatureImportance{{Feature: "f0", MeanAbsSHAP: 0.5, MeanSHAP: -0.25}, {Feature: "f1", MeanAbsSHAP: 0.25, MeanSHAP: 0.125}},
			PerGroup: map[string][]FeatureImportance{
				"sex=F": {{Feature: "f0", MeanAbsSHAP: Float(math.NaN()), MeanSHAP: Float(math.NaN())}},
			},
		},
		AuditHead: &AuditHead{Seq: 42, Hash: "9a0c4c1b5d6e7f808192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"},
	}
	for i := range c.Model.Features {
		c.Model.FeatureNames = append(c.Model.FeatureNames, "f"+string(rune('0'+i%10)))
	}
	for i, s := range sites {
		c.Sites = append(c.Sites, Site{Name: s, Examples: int64(1000 * (i + 1))})
	}
	c.SetParams(params)
	return c
}

var threeSites = []string{"site-a", "site-b", "site-c"}

// published is a sealed artifact with everything needed to verify it.
type published struct {
	fed    *federation
	signer *Signer
	card   Card
	params []float64
	data   []byte
	trust  Trust
}

func publish(t testing.TB, hybrid bool) *published {
	t.Helper()
	fed := newFederation(t, threeSites...)
	signer, err := GenerateSigner(nil, hybrid)
	if err != nil {
		t.Fatal(err)
	}
	params := testParams(9)
	card := testCard(params, threeSites...)
	a, err := Seal(&card, params, signer, fed.cosign(t, &card, threeSites...))
	if err != nil {
		t.Fatal(err)
	}
	data, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return &published{
		fed: fed, signer: signer, card: card, params: params, data: data,
		trust: Trust{CoordinatorKeys: []PublicKey{signer.Public()}, CAPool: fed.pool},
	}
}

// rewrite decodes an artifact file, lets f change it and re-encodes it in
// canonical form, so only the checks f targets can fail.
func rewrite(t testing.TB, data []byte, f func(aj *artifactJSON)) []byte {
	t.Helper()
	aj, err := decodeArtifact(data)
	if err != nil {
		t.Fatal(err)
	}
	f(aj)
	out, err := encodeArtifact(aj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// verifyFails verifies data and requires failure, with exactly the named
// checks failing when want is non-empty.
func verifyFails(t testing.TB, data []byte, trust Trust, want ...string) *Report {
	t.Helper()
	r, err := Verify(data, trust)
	if err == nil || r.OK {
		t.Fatalf("Verify succeeded, want failure of %v:\n%s", want, r)
	}
	var ce *CheckError
	if !errors.Is(err, ErrVerification) || !errors.As(err, &ce) {
		t.Fatalf("Verify error %v does not wrap ErrVerification and *CheckError", err)
	}
	if len(want) > 0 {
		var failed []string
		for _, c := range r.Checks {
			if !c.OK {
				failed = append(failed, c.Name)
			}
		}
		if !slices.Equal(failed, want) {
			t.Fatalf("failed checks = %v, want %v:\n%s", failed, want, r)
		}
		if ce.Check != want[0] {
			t.Errorf("error names check %q, want the first failure %q", ce.Check, want[0])
		}
	}
	return r
}
