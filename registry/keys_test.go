package registry

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSignerFiles(t *testing.T) {
	for _, hybrid := range []bool{false, true} {
		dir := t.TempDir()
		s, err := GenerateSigner(nil, hybrid)
		if err != nil {
			t.Fatal(err)
		}
		if s.Hybrid() != hybrid || s.Public().Hybrid() != hybrid {
			t.Fatalf("hybrid = %v/%v, want %v", s.Hybrid(), s.Public().Hybrid(), hybrid)
		}
		keyFile, pubFile := filepath.Join(dir, "signing.key"), filepath.Join(dir, "signing.pub")
		if err := s.Save(keyFile); err != nil {
			t.Fatal(err)
		}
		if err := s.Public().Save(pubFile); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
		}
		loaded, err := LoadSigner(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := LoadPublicKey(pubFile)
		if err != nil {
			t.Fatal(err)
		}
		if !loaded.Public().Equal(s.Public()) || !pub.Equal(s.Public()) || pub.Fingerprint() != s.Public().Fingerprint() {
			t.Errorf("hybrid=%v: keys differ after a save/load round trip", hybrid)
		}
		// The loaded signer signs for the original public key.
		p := publish(t, hybrid)
		a, err := Seal(&p.card, p.params, loaded, p.fed.cosign(t, &p.card, threeSites...))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := a.Marshal()
		trust := Trust{CoordinatorKeys: []PublicKey{pub}, CAPool: p.fed.pool}
		if r, err := Verify(data, trust); err != nil {
			t.Errorf("hybrid=%v: %v\n%s", hybrid, err, r)
		}

		if err := s.Save(keyFile); err != nil {
			t.Errorf("saving the same key again: %v", err)
		}
		other, _ := GenerateSigner(nil, hybrid)
		if err := other.Save(keyFile); !errors.Is(err, ErrExists) {
			t.Errorf("overwriting a key file = %v, want ErrExists", err)
		}
		if err := other.Public().Save(pubFile); !errors.Is(err, ErrExists) {
			t.Errorf("overwriting a public key file = %v, want ErrExists", err)
		}
	}
}

func TestGenerateSignerDeterministic(t *testing.T) {
	seeded := func() *mrand.ChaCha8 { return mrand.NewChaCha8([32]byte{7}) }
	a, err := GenerateSigner(seeded(), true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateSigner(seeded(), true)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Public().Equal(b.Public()) {
		t.Error("same seed, different keys")
	}
	c, _ := GenerateSigner(nil, true)
	if a.Public().Equal(c.Public()) {
		t.Error("crypto/rand key equals a seeded one")
	}
	if _, err := GenerateSigner(bytes.NewReader(make([]byte, 40)), true); err == nil {
		t.Error("GenerateSigner accepted a short random source")
	}
}

func TestSignerDoesNotPrintKey(t *testing.T) {
	s, err := GenerateSigner(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, _ := s.MarshalPEM()
	seedHex := fmt.Sprintf("%x", s.ed.Seed())
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v", s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), s.String()} {
		if strings.Contains(out, seedHex) || strings.Contains(out, string(pemKey[30:60])) || !strings.Contains(out, "sha256:") {
			t.Errorf("signer formats as %q", out)
		}
	}
}

func TestParseKeyErrors(t *testing.T) {
	s, _ := GenerateSigner(nil, true)
	keyPEM, _ := s.MarshalPEM()
	pubPEM, _ := s.Public().MarshalPEM()
	for name, data := range map[string][]byte{
		"empty":           nil,
		"public as key":   pubPEM,
		"twice":           append(bytes.Clone(keyPEM), keyPEM...),
		"trailing":        append(bytes.Clone(keyPEM), "junk"...),
		"ml-dsa only":     keyPEM[bytes.Index(keyPEM, []byte("-----BEGIN COHORT")):],
		"truncated block": keyPEM[:len(keyPEM)-40],
	} {
		if _, err := ParseSignerPEM(data); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParseSignerPEM(%s) = %v, want ErrInvalidKey", name, err)
		}
	}
	for name, data := range map[string][]byte{
		"empty":       nil,
		"key as pub":  keyPEM,
		"twice":       append(bytes.Clone(pubPEM), pubPEM...),
		"short ml":    append(pubPEM[:bytes.Index(pubPEM, []byte("-----BEGIN COHORT"))], pem.EncodeToMemory(&pem.Block{Type: pemMLDSAPublic, Bytes: make([]byte, 100)})...),
		"headers":     pem.EncodeToMemory(&pem.Block{Type: pemPublic, Headers: map[string]string{"a": "b"}, Bytes: []byte{1}}),
		"ecdsa":       ecdsaPublicPEM(t),
		"ml-dsa only": pubPEM[bytes.Index(pubPEM, []byte("-----BEGIN COHORT")):],
	} {
		if _, err := ParsePublicKeyPEM(data); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParsePublicKeyPEM(%s) = %v, want ErrInvalidKey", name, err)
		}
	}
	if _, err := (PublicKey{}).MarshalPEM(); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("zero key MarshalPEM = %v", err)
	}
	if _, err := LoadSigner(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("LoadSigner(missing) succeeded")
	}
}

func TestCoSignErrors(t *testing.T) {
	fed := newFederation(t, "site-a")
	vh := sha256.Sum256([]byte("x"))
	if _, err := CoSign(fed.keys["site-a"], vh[:31]); !errors.Is(err, ErrInvalidCoSignature) {
		t.Errorf("CoSign(short hash) = %v", err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := CoSign(edKey, vh[:]); !errors.Is(err, ErrInvalidCoSignature) {
		t.Errorf("CoSign(ed25519 key) = %v, want ErrInvalidCoSignature", err)
	}
	sig, err := CoSign(fed.keys["site-a"], vh[:])
	if err != nil {
		t.Fatal(err)
	}
	cert := fed.certs["site-a"]
	if site, err := VerifyCoSignature(cert, sig, vh[:], fed.pool, time.Time{}); err != nil || site != "site-a" {
		t.Fatalf("VerifyCoSignature = %q, %v", site, err)
	}
	other := sha256.Sum256([]byte("y"))
	bad := func(name string, certPEM, sig, h []byte, at time.Time, withPool bool) {
		t.Helper()
		pool := fed.pool
		if !withPool {
			pool = nil
		}
		if _, err := VerifyCoSignature(certPEM, sig, h, pool, at); !errors.Is(err, ErrInvalidCoSignature) {
			t.Errorf("%s: VerifyCoSignature = %v, want ErrInvalidCoSignature", name, err)
		}
	}
	bad("other hash", cert, sig, other[:], time.Time{}, true)
	bad("short hash", cert, sig, vh[:16], time.Time{}, true)
	bad("no pool", cert, sig, vh[:], time.Time{}, false)
	bad("before validity", cert, sig, vh[:], time.Now().Add(-time.Hour), true)
	bad("after validity", cert, sig, vh[:], time.Now().Add(2*time.Hour), true)
	bad("trailing data", append(bytes.Clone(cert), '\n'), sig, vh[:], time.Time{}, true)
	bad("CRLF", bytes.ReplaceAll(cert, []byte("\n"), []byte("\r\n")), sig, vh[:], time.Time{}, true)
	bad("not PEM", []byte("hello"), sig, vh[:], time.Time{}, true)
	bad("CA certificate", fed.ca.CertPEM(), sig, vh[:], time.Time{}, true)
	// A plain ECDSA signature over the version hash (no domain tag) is not
	// a co-signature.
	d := sha256.Sum256(vh[:])
	plain, err := fed.keys["site-a"].Sign(rand.Reader, d[:], nil)
	if err == nil {
		bad("untagged signature", cert, plain, vh[:], time.Time{}, true)
	}
}

func ecdsaPublicPEM(t *testing.T) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der})
}
