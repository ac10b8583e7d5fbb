package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cohortfl/cohort/internal/pki"
)

func TestSealVerifyRoundTrip(t *testing.T) {
	for _, hybrid := range []bool{false, true} {
		t.Run(map[bool]string{false: "ed25519", true: "hybrid"}[hybrid], func(t *testing.T) {
			p := publish(t, hybrid)
			path := filepath.Join(t.TempDir(), DefaultFileName)
			if err := os.WriteFile(path, p.data, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := VerifyFile(path, p.trust)
			if err != nil {
				t.Fatalf("VerifyFile: %v\n%s", err, r)
			}
			if !r.OK {
				t.Fatalf("report not OK:\n%s", r)
			}
			var names []string
			for _, c := range r.Checks {
				names = append(names, c.Name)
			}
			want := []string{CheckArtifact, CheckCard, CheckParams, CheckVersionHash, CheckCoordinatorKey, CheckEd25519, CheckMLDSA65,
				"cosignature/site-a", "cosignature/site-b", "cosignature/site-c", CheckSitesComplete, CheckSitesExpected, CheckSitesRequired}
			if !slices.Equal(names, want) {
				t.Errorf("checks = %v, want %v", names, want)
			}
			vh, err := p.card.VersionHash()
			if err != nil {
				t.Fatal(err)
			}
			if r.VersionHash != hex.EncodeToString(vh[:]) {
				t.Errorf("report version hash %s, card's %x", r.VersionHash, vh)
			}
			if r.Card.Name != p.card.Name || r.Card.Version != p.card.Version || len(r.Card.Sites) != 3 {
				t.Errorf("report card = %+v", r.Card)
			}

			a, err := LoadArtifact(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Params(); !slices.Equal(got, p.params) {
				t.Errorf("params = %v, want %v", got, p.params)
			}
			if a.VersionHash() != vh || !a.Coordinator().Equal(p.signer.Public()) || a.Suite() != p.signer.Public().Suite() {
				t.Errorf("artifact accessors disagree with what was sealed")
			}
			if cs := a.CoSignatures(); len(cs) != 3 || cs[0].Site != "site-a" || cs[2].Site != "site-c" {
				t.Errorf("co-signatures = %v", cs)
			}
			// Re-encoding a parsed artifact reproduces the file.
			again, err := a.Marshal()
			if err != nil || !bytes.Equal(again, p.data) {
				t.Errorf("Marshal(ParseArtifact(f)) != f (err %v)", err)
			}
		})
	}
}

func TestWriteFileNeverOverwrites(t *testing.T) {
	p := publish(t, false)
	a, err := ParseArtifact(p.data)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), DefaultFileName)
	if err := a.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteFile(path); err != nil {
		t.Errorf("rewriting identical contents: %v", err)
	}
	if err := os.WriteFile(path, []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteFile(path); !errors.Is(err, ErrExists) {
		t.Errorf("WriteFile over other contents = %v, want ErrExists", err)
	}
}

// TestFlipAnyByte flips single bits throughout a hybrid artifact (every
// region: framing, card, signatures, keys, certificates, params) and
// requires every result to fail verification.
func TestFlipAnyByte(t *testing.T) {
	p := publish(t, true)
	if _, err := Verify(p.data, p.trust); err != nil {
		t.Fatal(err)
	}
	s := string(p.data)
	regions := map[string][2]int{}
	for _, key := range []string{`"format"`, `"version_hash"`, `"card"`, `"metrics"`, `"suite"`, `"ed25519_public_key"`,
		`"ed25519_signature"`, `"ml_dsa_65_public_key"`, `"ml_dsa_65_signature"`, `"certificate"`, `"signature": "`, `"params"`} {
		i := strings.Index(s, key)
		if i < 0 {
			t.Fatalf("no %s in artifact", key)
		}
		regions[key] = [2]int{i, i + len(key) + 100} // the key and the start of its value
	}

	positions := map[int]bool{0: true, len(p.data) - 1: true, len(p.data) - 2: true}
	for i := 0; i < len(p.data); i += 31 { // a spread over the whole file
		positions[i] = true
	}
	for _, r := range regions { // dense around every field
		for i := r[0]; i < r[1] && i < len(p.data); i += 4 {
			positions[i] = true
		}
	}
	masks := []byte{0x01, 0x02, 0x04, 0x20, 0x80}
	n := 0
	for pos := range positions {
		mask := masks[pos%len(masks)]
		data := bytes.Clone(p.data)
		data[pos] ^= mask
		r, err := Verify(data, p.trust)
		if err == nil || r.OK || !errors.Is(err, ErrVerification) {
			t.Errorf("flipping byte %d (%q ^ %#x) still verifies: err %v", pos, p.data[pos], mask, err)
		}
		n++
	}
	if n < 300 {
		t.Fatalf("only %d positions tried", n)
	}
	t.Logf("%d single-byte flips in a %d-byte artifact, all rejected", n, len(p.data))
}

// TestFlipEveryByteOfSmallRegions is exhaustive where a flip is subtle:
// base64 padding bits, PEM bodies, and the last characters of the file.
func TestFlipEveryByteOfSmallRegions(t *testing.T) {
	p := publish(t, false)
	s := string(p.data)
	var positions []int
	if i := strings.Index(s, "-----END CERTIFICATE-----"); i > 0 {
		for j := i - 80; j < i+30; j++ {
			positions = append(positions, j)
		}
	}
	if i := strings.Index(s, `"ed25519_public_key": "`); i > 0 {
		for j := i; j < i+80; j++ {
			positions = append(positions, j)
		}
	}
	for j := len(s) - 20; j < len(s); j++ {
		positions = append(positions, j)
	}
	for _, pos := range positions {
		for _, mask := range []byte{0x01, 0x02, 0x08} {
			data := bytes.Clone(p.data)
			data[pos] ^= mask
			if r, err := Verify(data, p.trust); err == nil || r.OK {
				t.Errorf("flipping byte %d (%q ^ %#x) still verifies", pos, p.data[pos], mask)
			}
		}
	}
}

func TestSiteWithoutCoSignatureFails(t *testing.T) {
	p := publish(t, false)
	// The card lists site-c, which does not co-sign. Seal refuses; build
	// the artifact without its check.
	_, err := Seal(&p.card, p.params, p.signer, p.fed.cosign(t, &p.card, "site-a", "site-b"))
	if !errors.Is(err, ErrInvalidCoSignature) {
		t.Fatalf("Seal with a missing co-signature = %v, want ErrInvalidCoSignature", err)
	}
	a, err := seal(&p.card, p.params, p.signer, p.fed.cosign(t, &p.card, "site-a", "site-b"), false)
	if err != nil {
		t.Fatal(err)
	}
	data, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	verifyFails(t, data, p.trust, CheckSitesComplete)

	// Dropping a co-signature from a sealed file fails the same way.
	data = rewrite(t, p.data, func(aj *artifactJSON) { aj.CoSignatures = aj.CoSignatures[:2] })
	verifyFails(t, data, p.trust, CheckSitesComplete)
}

func TestUnexpectedSignerFails(t *testing.T) {
	p := publish(t, false)
	p.fed.issue(t, pki.Request{CommonName: "site-x", Role: pki.Client, NotBefore: time.Now().Add(-5 * time.Minute), NotAfter: time.Now().Add(time.Hour)})
	extra := p.fed.cosign(t, &p.card, "site-x")[0]
	if _, err := Seal(&p.card, p.params, p.signer, append(p.fed.cosign(t, &p.card, threeSites...), extra)); !errors.Is(err, ErrInvalidCoSignature) {
		t.Fatalf("Seal with an unlisted site = %v, want ErrInvalidCoSignature", err)
	}
	data := rewrite(t, p.data, func(aj *artifactJSON) {
		aj.CoSignatures = append(aj.CoSignatures, coSigJSON{Site: extra.Site, Certificate: string(extra.Certificate), Signature: extra.Signature})
	})
	verifyFails(t, data, p.trust, "cosignature/site-x", CheckSitesExpected)

	// The same site twice.
	data = rewrite(t, p.data, func(aj *artifactJSON) { aj.CoSignatures = append(aj.CoSignatures, aj.CoSignatures[0]) })
	verifyFails(t, data, p.trust, CheckSitesExpected)
}

func TestCoSignatureFromAnotherCAFails(t *testing.T) {
	p := publish(t, false)
	rogue := newFederation(t, "site-c") // same name, different CA
	cosigs := append(p.fed.cosign(t, &p.card, "site-a", "site-b"), rogue.cosign(t, &p.card, "site-c")...)
	a, err := Seal(&p.card, p.params, p.signer, cosigs) // Seal does not check chains
	if err != nil {
		t.Fatal(err)
	}
	data, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r := verifyFails(t, data, p.trust, "cosignature/site-c")
	if d := r.Checks[9].Detail; !strings.Contains(d, "unknown authority") {
		t.Errorf("detail %q does not name the chain failure", d)
	}
	vh := a.VersionHash()
	if _, err := VerifyCoSignature(cosigs[2].Certificate, cosigs[2].Signature, vh[:], p.fed.pool, time.Time{}); !errors.Is(err, ErrInvalidCoSignature) {
		t.Errorf("VerifyCoSignature(rogue) = %v, want ErrInvalidCoSignature", err)
	}
}

func TestCoSignatureWithAnotherSitesCertificateFails(t *testing.T) {
	p := publish(t, false)
	data := rewrite(t, p.data, func(aj *artifactJSON) {
		aj.CoSignatures[0].Certificate = aj.CoSignatures[1].Certificate // site-a shows site-b's certificate
	})
	verifyFails(t, data, p.trust, "cosignature/site-a")
	data = rewrite(t, p.data, func(aj *artifactJSON) { aj.CoSignatures[0].Site = "site-b" })
	verifyFails(t, data, p.trust, "cosignature/site-b", CheckSitesComplete, CheckSitesExpected)
}

func TestTamperedCardWithOldSignaturesFails(t *testing.T) {
	p := publish(t, true)
	// New parameters, card rebound to them, version hash recomputed: every
	// hash agrees, but the signatures are the old ones.
	params := append([]float64(nil), p.params...)
	params[0] += 1
	card := p.card
	card.SetParams(params)
	canon, err := card.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	vh, err := card.VersionHash()
	if err != nil {
		t.Fatal(err)
	}
	data := rewrite(t, p.data, func(aj *artifactJSON) {
		aj.Card = canon
		aj.Params = EncodeParams(params)
		aj.VersionHash = hex.EncodeToString(vh[:])
	})
	verifyFails(t, data, p.trust, CheckEd25519, CheckMLDSA65, "cosignature/site-a", "cosignature/site-b", "cosignature/site-c")

	// A card edit alone (better metrics) with old signatures fails too.
	card = p.card
	card.Metrics.Overall = Floats(map[string]float64{"accuracy": 0.99})
	canon, err = card.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	data = rewrite(t, p.data, func(aj *artifactJSON) { aj.Card = canon })
	verifyFails(t, data, p.trust, CheckVersionHash, CheckEd25519, CheckMLDSA65, "cosignature/site-a", "cosignature/site-b", "cosignature/site-c")

	// Params swapped, card untouched.
	data = rewrite(t, p.data, func(aj *artifactJSON) { aj.Params = EncodeParams(params) })
	verifyFails(t, data, p.trust, CheckParams, CheckVersionHash, CheckEd25519, CheckMLDSA65, "cosignature/site-a", "cosignature/site-b", "cosignature/site-c")
}

func TestNonCanonicalCardFails(t *testing.T) {
	p := publish(t, false)
	// Same card content, keys reordered: parses to the same struct, but the
	// embedded bytes are not the canonical form.
	data := rewrite(t, p.data, func(aj *artifactJSON) {
		aj.Card = append([]byte(`{"name":"credit-risk",`), bytes.Replace(aj.Card, []byte(`"name": "credit-risk",`), nil, 1)[1:]...)
	})
	verifyFails(t, data, p.trust, CheckCard)
}

func TestHybridSignatureRequired(t *testing.T) {
	p := publish(t, true)

	// ML-DSA-65 signature removed, suite unchanged.
	data := rewrite(t, p.data, func(aj *artifactJSON) { aj.Coordinator.MLDSA65Signature = nil })
	verifyFails(t, data, p.trust, CheckMLDSA65)

	// ML-DSA-65 key and signature removed and the suite relabelled: the
	// trust requires ML-DSA-65, and the Ed25519 signature covered the suite.
	strip := func(aj *artifactJSON) {
		aj.Coordinator.Suite = SuiteEd25519
		aj.Coordinator.MLDSA65PublicKey, aj.Coordinator.MLDSA65Signature = nil, nil
	}
	data = rewrite(t, p.data, strip)
	verifyFails(t, data, p.trust, CheckCoordinatorKey, CheckEd25519, CheckMLDSA65)

	// Even a trust holding only the Ed25519 half rejects the downgrade.
	edOnly, err := newPublicKey(p.signer.Public().ed, nil)
	if err != nil {
		t.Fatal(err)
	}
	edTrust := Trust{CoordinatorKeys: []PublicKey{edOnly}, CAPool: p.fed.pool}
	verifyFails(t, data, edTrust, CheckEd25519)
	// ...while accepting the intact hybrid artifact.
	if r, err := Verify(p.data, edTrust); err != nil {
		t.Errorf("hybrid artifact against an Ed25519-only trust: %v\n%s", err, r)
	}

	// A corrupted ML-DSA-65 signature fails even though Ed25519 is valid.
	data = rewrite(t, p.data, func(aj *artifactJSON) { aj.Coordinator.MLDSA65Signature[100] ^= 1 })
	verifyFails(t, data, p.trust, CheckMLDSA65)

	// A different ML-DSA-65 key than the trusted one.
	other, err := GenerateSigner(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	data = rewrite(t, p.data, func(aj *artifactJSON) { aj.Coordinator.MLDSA65PublicKey = other.Public().ml.Bytes() })
	verifyFails(t, data, p.trust, CheckCoordinatorKey, CheckMLDSA65)
}

func TestUntrustedCoordinatorFails(t *testing.T) {
	p := publish(t, false)
	other, err := GenerateSigner(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	trust := p.trust
	trust.CoordinatorKeys = []PublicKey{other.Public()}
	verifyFails(t, p.data, trust, CheckCoordinatorKey)
	// Key rotation: either key is accepted.
	trust.CoordinatorKeys = append(trust.CoordinatorKeys, p.signer.Public())
	if _, err := Verify(p.data, trust); err != nil {
		t.Error(err)
	}
	// Swapping in the other key (and its signature over the same digest) is
	// caught by the key check, not the signature check.
	a, err := Seal(&p.card, p.params, other, p.fed.cosign(t, &p.card, threeSites...))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := a.Marshal()
	verifyFails(t, data, p.trust, CheckCoordinatorKey)
}

func TestCertificatesCheckedAtCreationTime(t *testing.T) {
	fed := newFederation(t, "site-a", "site-b")
	// site-c's certificate expired a minute ago.
	now := time.Now()
	fed.issue(t, pki.Request{CommonName: "site-c", Role: pki.Client, NotBefore: now.Add(-4 * time.Minute), NotAfter: now.Add(-time.Minute)})
	signer, err := GenerateSigner(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	trust := Trust{CoordinatorKeys: []PublicKey{signer.Public()}, CAPool: fed.pool}
	params := testParams(9)
	for _, tc := range []struct {
		created time.Time
		ok      bool
	}{
		{now.Add(-2 * time.Minute), true}, // all valid then
		{now, false},                      // site-c already expired
		{now.Add(-10 * time.Minute), false},
	} {
		card := testCard(params, threeSites...)
		card.CreatedAt = tc.created
		a, err := Seal(&card, params, signer, fed.cosign(t, &card, threeSites...))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := a.Marshal()
		r, err := Verify(data, trust)
		if (err == nil) != tc.ok {
			t.Errorf("created %v before now: Verify err = %v, want ok=%v\n%s", now.Sub(tc.created), err, tc.ok, r)
		}
	}
}

func TestRequiredSites(t *testing.T) {
	p := publish(t, false)
	trust := p.trust
	trust.RequiredSites = []string{"site-a", "site-c"}
	if _, err := Verify(p.data, trust); err != nil {
		t.Error(err)
	}
	trust.RequiredSites = []string{"site-a", "site-d"}
	verifyFails(t, p.data, trust, CheckSitesRequired)
}

func TestVerifyRejectsBadTrust(t *testing.T) {
	p := publish(t, false)
	for name, trust := range map[string]Trust{
		"no keys":      {CAPool: p.fed.pool},
		"zero key":     {CoordinatorKeys: []PublicKey{{}}, CAPool: p.fed.pool},
		"no pool":      {CoordinatorKeys: []PublicKey{p.signer.Public()}},
		"empty site":   {CoordinatorKeys: []PublicKey{p.signer.Public()}, CAPool: p.fed.pool, RequiredSites: []string{""}},
		"missing file": {},
	} {
		if name == "missing file" {
			if _, err := VerifyFile(filepath.Join(t.TempDir(), "none"), p.trust); err == nil || errors.Is(err, ErrVerification) {
				t.Errorf("VerifyFile(missing) = %v", err)
			}
			continue
		}
		if r, err := Verify(p.data, trust); !errors.Is(err, ErrInvalidTrust) || r != nil {
			t.Errorf("%s: Verify = %v, %v; want nil, ErrInvalidTrust", name, r, err)
		}
	}
}

func TestVerifyGarbage(t *testing.T) {
	p := publish(t, false)
	for _, data := range [][]byte{nil, []byte("{}"), []byte(`{"format":"cohort.model-artifact/v2"}`), p.data[:len(p.data)/2], append(bytes.Clone(p.data), "{}"...)} {
		r := verifyFails(t, data, p.trust, CheckArtifact)
		if len(r.Checks) != 1 {
			t.Errorf("%d checks for an unparsable file", len(r.Checks))
		}
		if _, err := ParseArtifact(data); !errors.Is(err, ErrMalformedArtifact) {
			t.Errorf("ParseArtifact(garbage) = %v, want ErrMalformedArtifact", err)
		}
	}
}

func TestLoadTrust(t *testing.T) {
	p := publish(t, true)
	dir := t.TempDir()
	if err := p.fed.ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(dir, "coordinator.pub")
	if err := p.signer.Public().Save(pubFile); err != nil {
		t.Fatal(err)
	}
	trust, err := LoadTrust(filepath.Join(dir, pki.CACertFile), pubFile)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := Verify(p.data, trust); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if _, err := LoadTrust(filepath.Join(dir, pki.CACertFile)); !errors.Is(err, ErrInvalidTrust) {
		t.Errorf("LoadTrust without keys = %v, want ErrInvalidTrust", err)
	}
	if _, err := LoadTrust(pubFile, pubFile); !errors.Is(err, ErrInvalidTrust) {
		t.Errorf("LoadTrust with a key file as CA = %v, want ErrInvalidTrust", err)
	}
	leaf := filepath.Join(dir, "leaf.pem")
	if err := os.WriteFile(leaf, p.fed.certs["site-a"], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTrust(leaf, pubFile); !errors.Is(err, ErrInvalidTrust) {
		t.Errorf("LoadTrust with a leaf certificate as CA = %v, want ErrInvalidTrust", err)
	}
}

func TestReportString(t *testing.T) {
	p := publish(t, false)
	r := verifyFails(t, rewrite(t, p.data, func(aj *artifactJSON) { aj.VersionHash = "00" }), p.trust, CheckVersionHash)
	s := r.String()
	if !strings.Contains(s, "FAIL  version_hash") || !strings.Contains(s, "ok    coordinator.ed25519") {
		t.Errorf("report:\n%s", s)
	}
	if got := strings.Count(s, "\n"); got != len(r.Checks) {
		t.Errorf("%d lines for %d checks", got, len(r.Checks))
	}
}

func TestConcurrentSealAndVerify(t *testing.T) {
	p := publish(t, true)
	cosigs := p.fed.cosign(t, &p.card, threeSites...)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Go(func() {
			a, err := Seal(&p.card, p.params, p.signer, cosigs)
			if err != nil {
				errs <- err
				return
			}
			data, err := a.Marshal()
			if err != nil {
				errs <- err
				return
			}
			if _, err := Verify(data, p.trust); err != nil {
				errs <- err
			}
			if _, err := Verify(p.data, p.trust); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCoSignatureNeedsSiteRole: a certificate of the consortium CA with
// another role (an admin's) cannot co-sign as a site, even under the site's
// name.
func TestCoSignatureNeedsSiteRole(t *testing.T) {
	f := newFederation(t, "site-a")
	certPEM, keyPEM, err := f.ca.IssueAs("site-b", pki.RoleAdmin, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	vh := sha256.Sum256([]byte("version"))
	sig, err := CoSign(parseSiteKey(t, keyPEM), vh[:])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyCoSignature(certPEM, sig, vh[:], f.pool, time.Time{}); err == nil || !strings.Contains(err.Error(), `role "admin", not "site"`) {
		t.Fatalf("admin certificate co-signing as a site: %v", err)
	}
	okSig, err := CoSign(f.keys["site-a"], vh[:])
	if err != nil {
		t.Fatal(err)
	}
	if name, err := VerifyCoSignature(f.certs["site-a"], okSig, vh[:], f.pool, time.Time{}); err != nil || name != "site-a" {
		t.Fatalf("site certificate: %q, %v", name, err)
	}
}
