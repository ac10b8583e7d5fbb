package secagg

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/cloudflare/circl/sign/ed25519"
)

// The types below are the only things that travel between sites and the
// coordinator. None of them carries secret-key material in the clear:
// public-key shares, the collective public key, ciphertexts, key-switch
// shares (smudged) and HPKE-sealed envelopes. Byte slices are owned by the
// message; callers must not modify them after handing a message over.

// PublicKeyShare is one site's share of the collective public key, signed.
type PublicKeyShare struct {
	RunID     string
	Epoch     uint64
	From      string
	Share     []byte
	Signature []byte
}

// PublicKey is the collective public key of an epoch.
type PublicKey struct {
	RunID string
	Epoch uint64
	Key   []byte
}

// Envelope carries one Shamir share from site From to site To, sealed with
// HPKE (auth mode) to To's KEM key. The coordinator relays it unopened.
type Envelope struct {
	RunID      string
	Epoch      uint64
	From, To   string
	Ciphertext []byte // HPKE encapsulated key ‖ AEAD ciphertext
}

// Contribution is one site's encrypted, signed input for one round.
type Contribution struct {
	RunID       string
	Epoch       uint64
	Round       uint64
	From        string
	Dim         int
	Nonce       []byte // 32 fresh random bytes
	Ciphertexts [][]byte
	Signature   []byte // Ed25519 over Digest()
}

// Receipt is the small public record the coordinator keeps of each accepted
// contribution, so that sites can later check what was summed.
type Receipt struct {
	From           string
	Nonce          []byte
	CiphertextHash [32]byte
	Signature      []byte
}

// DecryptRequest asks a site for its decryption share of an aggregate. It
// carries the evidence that the aggregate is the sum of the listed signed
// contributions; see site.Party.DecryptShare for the checks.
type DecryptRequest struct {
	RunID         string
	Epoch         uint64
	Round         uint64
	Dim           int
	Active        []int // sorted member indices of the t decryptors
	Aggregate     [][]byte
	Contributions []Contribution
}

// DecryptionShare is one decryptor's smudged key-switch share per
// aggregate ciphertext, bound to the aggregate it was computed for.
type DecryptionShare struct {
	RunID     string
	Epoch     uint64
	Round     uint64
	From      string
	Aggregate [32]byte // AggregateDigest of the request
	Shares    [][]byte
	Signature []byte
}

type transcript struct{ h hash.Hash }

func newTranscript(domain string) transcript {
	t := transcript{sha256.New()}
	t.bytes([]byte(domain))
	return t
}

func (t transcript) u64(v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	t.h.Write(b[:])
}

func (t transcript) bytes(b []byte) { t.u64(uint64(len(b))); t.h.Write(b) }
func (t transcript) str(s string)   { t.bytes([]byte(s)) }
func (t transcript) sum() (d [32]byte) {
	copy(d[:], t.h.Sum(nil))
	return d
}

// Digest is what the sender signs.
func (s PublicKeyShare) Digest() [32]byte {
	t := newTranscript("cohort/secagg/pkshare/v1")
	t.str(s.RunID)
	t.u64(s.Epoch)
	t.str(s.From)
	t.bytes(s.Share)
	return t.sum()
}

// CiphertextHash is SHA-256 over the length-prefixed ciphertexts.
func (c Contribution) CiphertextHash() [32]byte {
	t := newTranscript("cohort/secagg/ciphertexts/v1")
	t.u64(uint64(len(c.Ciphertexts)))
	for _, b := range c.Ciphertexts {
		t.bytes(b)
	}
	return t.sum()
}

// Digest is what the sender signs: run, epoch, round, sender, dimension,
// nonce and the ciphertext hash.
func (c Contribution) Digest() [32]byte {
	h := c.CiphertextHash()
	t := newTranscript("cohort/secagg/contribution/v1")
	t.str(c.RunID)
	t.u64(c.Epoch)
	t.u64(c.Round)
	t.str(c.From)
	t.u64(uint64(c.Dim))
	t.bytes(c.Nonce)
	t.bytes(h[:])
	return t.sum()
}

// Receipt returns the small record of c.
func (c Contribution) Receipt() Receipt {
	return Receipt{From: c.From, Nonce: c.Nonce, CiphertextHash: c.CiphertextHash(), Signature: c.Signature}
}

// AggregateDigest binds a decryption share to one aggregate: run, epoch,
// round, dimension, the active set and the aggregate ciphertexts.
func (r DecryptRequest) AggregateDigest() [32]byte {
	t := newTranscript("cohort/secagg/aggregate/v1")
	t.str(r.RunID)
	t.u64(r.Epoch)
	t.u64(r.Round)
	t.u64(uint64(r.Dim))
	t.u64(uint64(len(r.Active)))
	for _, a := range r.Active {
		t.u64(uint64(a))
	}
	t.u64(uint64(len(r.Aggregate)))
	for _, b := range r.Aggregate {
		t.bytes(b)
	}
	return t.sum()
}

// Digest is what the decryptor signs.
func (d DecryptionShare) Digest() [32]byte {
	t := newTranscript("cohort/secagg/decshare/v1")
	t.str(d.RunID)
	t.u64(d.Epoch)
	t.u64(d.Round)
	t.str(d.From)
	t.bytes(d.Aggregate[:])
	t.u64(uint64(len(d.Shares)))
	for _, b := range d.Shares {
		t.bytes(b)
	}
	return t.sum()
}

// Verify checks an Ed25519 signature over digest under pub.Verify.
func Verify(pub PublicIdentity, digest [32]byte, sig []byte) error {
	if len(pub.Verify) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: verification key is %d bytes", ErrBadSignature, len(pub.Verify))
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(ed25519.PublicKey(pub.Verify), digest[:], sig) {
		return fmt.Errorf("%w: signature does not verify", ErrBadSignature)
	}
	return nil
}

// ValidActiveSet checks that active is a strictly increasing list of exactly
// t member indices of e.
func (e Epoch) ValidActiveSet(active []int) error {
	if len(active) != e.Threshold {
		return fmt.Errorf("%w: active set has %d members, want exactly t=%d", ErrBinding, len(active), e.Threshold)
	}
	for i, a := range active {
		if a < 0 || a >= len(e.Members) {
			return fmt.Errorf("%w: active index %d out of range [0,%d)", ErrBinding, a, len(e.Members))
		}
		if i > 0 && active[i-1] >= a {
			return fmt.Errorf("%w: active set %v is not strictly increasing", ErrBinding, active)
		}
	}
	return nil
}
