package registry

import (
	"bytes"
	stded25519 "crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/cloudflare/circl/sign/ed25519"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/cohortfl/cohort/internal/fsutil"
)

// Signature suites of a coordinator signature.
const (
	// SuiteEd25519 is an Ed25519 signature alone.
	SuiteEd25519 = "ed25519"
	// SuiteHybrid is an Ed25519 and an ML-DSA-65 signature over the same
	// digest; both must verify, so forging needs both schemes broken.
	SuiteHybrid = "ed25519+ml-dsa-65"
)

// PEM block types of key files.
const (
	pemPrivate      = "PRIVATE KEY"                  // Ed25519, PKCS #8 (RFC 8410)
	pemPublic       = "PUBLIC KEY"                   // Ed25519, PKIX (RFC 8410)
	pemMLDSAPrivate = "COHORT ML-DSA-65 PRIVATE KEY" // the 32-byte FIPS 204 seed
	pemMLDSAPublic  = "COHORT ML-DSA-65 PUBLIC KEY"  // the 1952-byte FIPS 204 encoding
)

// PublicKey is a coordinator's public signing key: an Ed25519 key and, for a
// hybrid key, an ML-DSA-65 key. The zero value is no key. A PublicKey is
// immutable and safe to share.
type PublicKey struct {
	ed ed25519.PublicKey
	ml *mldsa65.PublicKey // nil unless hybrid
}

// IsZero reports whether k holds no key.
func (k PublicKey) IsZero() bool { return len(k.ed) == 0 }

// Hybrid reports whether k has an ML-DSA-65 part.
func (k PublicKey) Hybrid() bool { return k.ml != nil }

// Suite returns SuiteHybrid or SuiteEd25519.
func (k PublicKey) Suite() string {
	if k.Hybrid() {
		return SuiteHybrid
	}
	return SuiteEd25519
}

// Equal reports whether k and o are the same key, both parts included.
func (k PublicKey) Equal(o PublicKey) bool {
	if !bytes.Equal(k.ed, o.ed) || k.Hybrid() != o.Hybrid() {
		return false
	}
	return k.ml == nil || k.ml.Equal(o.ml)
}

// Fingerprint returns "sha256:" and the hex SHA-256 of a domain tag, the
// Ed25519 key and the ML-DSA-65 key (if any): a short name for the key to
// compare out of band.
func (k PublicKey) Fingerprint() string {
	h := sha256.New()
	h.Write([]byte(tagFingerprint))
	h.Write(k.ed)
	if k.ml != nil {
		h.Write(k.ml.Bytes())
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// String returns the suite and fingerprint.
func (k PublicKey) String() string {
	if k.IsZero() {
		return "registry.PublicKey(none)"
	}
	return k.Suite() + " " + k.Fingerprint()
}

// MarshalPEM returns the public key file contents: a PKIX "PUBLIC KEY" block
// holding the Ed25519 key, followed for a hybrid key by a
// "COHORT ML-DSA-65 PUBLIC KEY" block holding the raw FIPS 204 public key.
func (k PublicKey) MarshalPEM() ([]byte, error) {
	if k.IsZero() {
		return nil, fmt.Errorf("%w: no key", ErrInvalidKey)
	}
	der, err := x509.MarshalPKIXPublicKey(stded25519.PublicKey(k.ed))
	if err != nil {
		return nil, fmt.Errorf("%w: marshal Ed25519 public key: %w", ErrInvalidKey, err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der})
	if k.ml != nil {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: pemMLDSAPublic, Bytes: k.ml.Bytes()})...)
	}
	return out, nil
}

// ParsePublicKeyPEM parses a public key file written by MarshalPEM: exactly
// one Ed25519 "PUBLIC KEY" block and at most one ML-DSA-65 block, nothing
// else.
func ParsePublicKeyPEM(data []byte) (PublicKey, error) {
	blocks, err := pemBlocks(data, pemPublic, pemMLDSAPublic)
	if err != nil {
		return PublicKey{}, err
	}
	pub, err := x509.ParsePKIXPublicKey(blocks[pemPublic])
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: %s: %w", ErrInvalidKey, pemPublic, err)
	}
	edPub, ok := pub.(stded25519.PublicKey)
	if !ok {
		return PublicKey{}, fmt.Errorf("%w: %s holds a %T, want an Ed25519 key", ErrInvalidKey, pemPublic, pub)
	}
	return newPublicKey(edPub, blocks[pemMLDSAPublic])
}

// newPublicKey builds a PublicKey from raw key bytes; ml may be nil.
func newPublicKey(ed, ml []byte) (PublicKey, error) {
	if len(ed) != ed25519.PublicKeySize {
		return PublicKey{}, fmt.Errorf("%w: Ed25519 public key of %d bytes, want %d", ErrInvalidKey, len(ed), ed25519.PublicKeySize)
	}
	k := PublicKey{ed: bytes.Clone(ed)}
	if ml != nil {
		if len(ml) != mldsa65.PublicKeySize {
			return PublicKey{}, fmt.Errorf("%w: ML-DSA-65 public key of %d bytes, want %d", ErrInvalidKey, len(ml), mldsa65.PublicKeySize)
		}
		k.ml = new(mldsa65.PublicKey)
		if err := k.ml.UnmarshalBinary(ml); err != nil {
			return PublicKey{}, fmt.Errorf("%w: ML-DSA-65 public key: %w", ErrInvalidKey, err)
		}
	}
	return k, nil
}

// LoadPublicKey reads a public key file (see ParsePublicKeyPEM).
func LoadPublicKey(path string) (PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return PublicKey{}, fmt.Errorf("registry: load public key: %w", err)
	}
	k, err := ParsePublicKeyPEM(data)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Save writes the public key file (MarshalPEM) to path with mode 0644. It
// never overwrites: an existing path with other contents is ErrExists.
func (k PublicKey) Save(path string) error {
	data, err := k.MarshalPEM()
	if err != nil {
		return err
	}
	if err := writeNew(path, data, 0o644); err != nil {
		return fmt.Errorf("registry: save public key: %w", err)
	}
	return nil
}

// Signer is a coordinator's private signing key: Ed25519, plus ML-DSA-65 for
// a hybrid signer. A Signer is immutable and safe for concurrent use; it
// formats as its public key only, so printing it cannot leak the key.
type Signer struct {
	ed     ed25519.PrivateKey
	mlSeed []byte              // FIPS 204 seed; nil unless hybrid
	ml     *mldsa65.PrivateKey // nil unless hybrid
	pub    PublicKey
}

// GenerateSigner creates a signing key from 32 bytes of random (64 for a
// hybrid key: the Ed25519 seed, then the ML-DSA-65 seed). random nil means
// crypto/rand.Reader; tests pass a seeded reader to get fixed keys.
func GenerateSigner(random io.Reader, hybrid bool) (*Signer, error) {
	if random == nil {
		random = rand.Reader
	}
	edSeed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(random, edSeed); err != nil {
		return nil, fmt.Errorf("registry: generate signer: %w", err)
	}
	var mlSeed []byte
	if hybrid {
		mlSeed = make([]byte, mldsa65.SeedSize)
		if _, err := io.ReadFull(random, mlSeed); err != nil {
			return nil, fmt.Errorf("registry: generate signer: %w", err)
		}
	}
	return newSigner(edSeed, mlSeed)
}

func newSigner(edSeed, mlSeed []byte) (*Signer, error) {
	if len(edSeed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: Ed25519 seed of %d bytes, want %d", ErrInvalidKey, len(edSeed), ed25519.SeedSize)
	}
	s := &Signer{ed: ed25519.NewKeyFromSeed(edSeed)}
	s.pub.ed = s.ed.Public().(ed25519.PublicKey)
	if mlSeed != nil {
		if len(mlSeed) != mldsa65.SeedSize {
			return nil, fmt.Errorf("%w: ML-DSA-65 seed of %d bytes, want %d", ErrInvalidKey, len(mlSeed), mldsa65.SeedSize)
		}
		var seed [mldsa65.SeedSize]byte
		copy(seed[:], mlSeed)
		s.pub.ml, s.ml = mldsa65.NewKeyFromSeed(&seed)
		s.mlSeed = bytes.Clone(mlSeed)
	}
	return s, nil
}

// Public returns the public key.
func (s *Signer) Public() PublicKey { return s.pub }

// Hybrid reports whether s signs with ML-DSA-65 as well as Ed25519.
func (s *Signer) Hybrid() bool { return s.ml != nil }

// String describes the signer by its public key.
func (s *Signer) String() string { return "registry.Signer(" + s.pub.String() + ")" }

// GoString is String, so that %#v cannot print the key either.
func (s *Signer) GoString() string { return s.String() }

// sign returns the suite and signatures over the coordinator digest of
// versionHash.
func (s *Signer) sign(versionHash [32]byte) (suite string, edSig, mlSig []byte, err error) {
	suite = s.pub.Suite()
	d := coordinatorDigest(suite, versionHash)
	edSig = ed25519.Sign(s.ed, d[:])
	if s.ml != nil {
		mlSig = make([]byte, mldsa65.SignatureSize)
		if err := mldsa65.SignTo(s.ml, d[:], []byte(mldsaContext), true, mlSig); err != nil {
			return "", nil, nil, fmt.Errorf("registry: ML-DSA-65 sign: %w", err)
		}
	}
	return suite, edSig, mlSig, nil
}

// MarshalPEM returns the private key file contents: a PKCS #8
// "PRIVATE KEY" block holding the Ed25519 key (readable by OpenSSL),
// followed for a hybrid signer by a "COHORT ML-DSA-65 PRIVATE KEY" block
// holding the 32-byte FIPS 204 seed. Keep it secret.
func (s *Signer) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(stded25519.PrivateKey(s.ed))
	if err != nil {
		return nil, fmt.Errorf("%w: marshal Ed25519 private key: %w", ErrInvalidKey, err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der})
	if s.mlSeed != nil {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: pemMLDSAPrivate, Bytes: s.mlSeed})...)
	}
	return out, nil
}

// ParseSignerPEM parses a private key file written by MarshalPEM.
func ParseSignerPEM(data []byte) (*Signer, error) {
	blocks, err := pemBlocks(data, pemPrivate, pemMLDSAPrivate)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(blocks[pemPrivate])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidKey, pemPrivate, err)
	}
	edKey, ok := key.(stded25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s holds a %T, want an Ed25519 key", ErrInvalidKey, pemPrivate, key)
	}
	return newSigner(edKey.Seed(), blocks[pemMLDSAPrivate])
}

// LoadSigner reads a private key file (see ParseSignerPEM).
func LoadSigner(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry: load signer: %w", err)
	}
	s, err := ParseSignerPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Save writes the private key file (MarshalPEM) to path with mode 0600. It
// never overwrites: an existing path with other contents is ErrExists.
func (s *Signer) Save(path string) error {
	data, err := s.MarshalPEM()
	if err != nil {
		return err
	}
	if err := writeNew(path, data, 0o600); err != nil {
		return fmt.Errorf("registry: save signer: %w", err)
	}
	return nil
}

// pemBlocks splits a key file into its blocks. The first type is required,
// the second optional; any other block, a repeated block or non-blank text
// after the last block is an error. Blocks must have no headers.
func pemBlocks(data []byte, required, optional string) (map[string][]byte, error) {
	out := map[string][]byte{}
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type != required && b.Type != optional:
			return nil, fmt.Errorf("%w: unexpected PEM block %q", ErrInvalidKey, b.Type)
		case out[b.Type] != nil:
			return nil, fmt.Errorf("%w: PEM block %q appears twice", ErrInvalidKey, b.Type)
		case len(b.Headers) != 0:
			return nil, fmt.Errorf("%w: PEM block %q has headers", ErrInvalidKey, b.Type)
		}
		out[b.Type] = b.Bytes
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: unparsable text after the PEM blocks", ErrInvalidKey)
	}
	if out[required] == nil {
		return nil, fmt.Errorf("%w: no %q PEM block", ErrInvalidKey, required)
	}
	return out, nil
}

// writeNew is fsutil.WriteNew with this package's ErrExists.
func writeNew(path string, data []byte, perm fs.FileMode) error {
	return fsutil.WriteNew(path, data, perm, ErrExists)
}
