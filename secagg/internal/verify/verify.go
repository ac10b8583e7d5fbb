// Package verify holds the contribution checks that both the coordinator
// (secagg/hub) and the decryptors (secagg/site) run, so the two sides
// apply exactly the same rules.
package verify

import (
	"errors"
	"fmt"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/internal/he"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
)

// NonceSize is the length of a contribution nonce.
const NonceSize = 32

// Contribution checks that c is a well-formed contribution of member
// c.From of epoch e for the given round and dimension, signed with the
// member's key, and returns its parsed ciphertexts.
func Contribution(ctx *he.Context, e secagg.Epoch, round uint64, dim int, c secagg.Contribution) ([]*rlwe.Ciphertext, error) {
	idx := e.Index(c.From)
	if idx < 0 {
		return nil, fmt.Errorf("%w: contributor %q is not a member of epoch %d", secagg.ErrBinding, c.From, e.Epoch)
	}
	if c.RunID != e.RunID || c.Epoch != e.Epoch || c.Round != round {
		return nil, fmt.Errorf("%w: contribution from %q is for run %q epoch %d round %d, want run %q epoch %d round %d",
			secagg.ErrBinding, c.From, c.RunID, c.Epoch, c.Round, e.RunID, e.Epoch, round)
	}
	if c.Dim != dim {
		return nil, fmt.Errorf("%w: contribution from %q has dimension %d, want %d", secagg.ErrMalformed, c.From, c.Dim, dim)
	}
	if len(c.Nonce) != NonceSize {
		return nil, fmt.Errorf("%w: contribution from %q has a %d-byte nonce, want %d", secagg.ErrMalformed, c.From, len(c.Nonce), NonceSize)
	}
	if err := secagg.Verify(e.Members[idx].Public, c.Digest(), c.Signature); err != nil {
		return nil, fmt.Errorf("contribution from %q: %w", c.From, err)
	}
	want := (dim + ctx.N() - 1) / ctx.N()
	if len(c.Ciphertexts) != want {
		return nil, fmt.Errorf("%w: contribution from %q has %d ciphertexts, want %d for dimension %d", secagg.ErrMalformed, c.From, len(c.Ciphertexts), want, dim)
	}
	cts := make([]*rlwe.Ciphertext, len(c.Ciphertexts))
	for i, b := range c.Ciphertexts {
		ct, err := ctx.ParseCiphertext(b)
		if err != nil {
			return nil, fmt.Errorf("%w: contribution from %q ciphertext %d: %w", secagg.ErrMalformed, c.From, i, err)
		}
		cts[i] = ct
	}
	return cts, nil
}

// Malformed maps he.ErrMalformed to secagg.ErrMalformed.
func Malformed(err error) error {
	if errors.Is(err, he.ErrMalformed) && !errors.Is(err, secagg.ErrMalformed) {
		return fmt.Errorf("%w: %w", secagg.ErrMalformed, err)
	}
	return err
}

// PublicKey verifies one signed share per member of e and sums them into
// the collective public key. The hub runs it to build the key; every site
// runs it again so it does not have to trust the hub's result.
func PublicKey(ctx *he.Context, e secagg.Epoch, shares []secagg.PublicKeyShare) (*rlwe.PublicKey, error) {
	if len(shares) != len(e.Members) {
		return nil, fmt.Errorf("%w: %d public-key shares for %d members", secagg.ErrBinding, len(shares), len(e.Members))
	}
	parsed := make([]mhe.PublicKeyGenShare, len(e.Members))
	seen := make([]bool, len(e.Members))
	for _, s := range shares {
		j := e.Index(s.From)
		if j < 0 || seen[j] {
			return nil, fmt.Errorf("%w: public-key share from %q is unknown or repeated", secagg.ErrBinding, s.From)
		}
		if s.RunID != e.RunID || s.Epoch != e.Epoch {
			return nil, fmt.Errorf("%w: public-key share from %q for run %q epoch %d", secagg.ErrBinding, s.From, s.RunID, s.Epoch)
		}
		if err := secagg.Verify(e.Members[j].Public, s.Digest(), s.Signature); err != nil {
			return nil, fmt.Errorf("public-key share from %q: %w", s.From, err)
		}
		ps, err := ctx.ParsePublicKeyShare(s.Share)
		if err != nil {
			return nil, fmt.Errorf("public-key share from %q: %w", s.From, Malformed(err))
		}
		parsed[j], seen[j] = ps, true
	}
	crp, err := ctx.PublicKeyCRP(secagg.CRS(e.RunID, e.Epoch))
	if err != nil {
		return nil, err
	}
	return ctx.AggregatePublicKey(crp, parsed)
}
