package hub

import (
	"fmt"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/internal/he"
	"github.com/cohortfl/cohort/secagg/internal/verify"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
)

// Combine finishes a threshold decryption: it needs exactly one valid share
// from every member of req.Active (t shares), each signed by its member and
// bound to req's aggregate. With fewer than t shares it returns
// ErrNotEnoughShares; no subset of fewer than t shares carries enough key
// material to decrypt (the result would be uniformly random modulo Q). It
// returns the decrypted sum, req.Dim values, within
// Params.ErrorBound(len(req.Contributions), t) of the exact sum.
func Combine(params secagg.Params, e secagg.Epoch, req secagg.DecryptRequest, shares []secagg.DecryptionShare) ([]float64, error) {
	ctx, err := he.Of(params)
	if err != nil {
		return nil, fmt.Errorf("hub: %w: %w", secagg.ErrBadParams, err)
	}
	if err := e.ValidActiveSet(req.Active); err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	if req.RunID != e.RunID || req.Epoch != e.Epoch {
		return nil, fmt.Errorf("hub: %w: request for run %q epoch %d", secagg.ErrBinding, req.RunID, req.Epoch)
	}
	if req.Dim <= 0 || len(req.Aggregate) != params.Ciphertexts(req.Dim) {
		return nil, fmt.Errorf("hub: %w: %d aggregate ciphertexts for dimension %d", secagg.ErrMalformed, len(req.Aggregate), req.Dim)
	}
	if len(shares) < e.Threshold {
		return nil, fmt.Errorf("hub: %w: have %d, need t=%d", secagg.ErrNotEnoughShares, len(shares), e.Threshold)
	}
	digest := req.AggregateDigest()
	byMember := make(map[int][]mhe.KeySwitchShare, len(req.Active))
	for _, s := range shares {
		j := e.Index(s.From)
		if j < 0 || !contains(req.Active, j) {
			return nil, fmt.Errorf("hub: %w: share from %q, which is not in the active set", secagg.ErrBinding, s.From)
		}
		if _, dup := byMember[j]; dup {
			return nil, fmt.Errorf("hub: %w: second share from %q", secagg.ErrReplay, s.From)
		}
		if s.RunID != req.RunID || s.Epoch != req.Epoch || s.Round != req.Round || s.Aggregate != digest {
			return nil, fmt.Errorf("hub: %w: share from %q is for another aggregate", secagg.ErrBinding, s.From)
		}
		if err := secagg.Verify(e.Members[j].Public, s.Digest(), s.Signature); err != nil {
			return nil, fmt.Errorf("hub: share from %q: %w", s.From, err)
		}
		if len(s.Shares) != len(req.Aggregate) {
			return nil, fmt.Errorf("hub: %w: share from %q has %d parts, want %d", secagg.ErrMalformed, s.From, len(s.Shares), len(req.Aggregate))
		}
		parts := make([]mhe.KeySwitchShare, len(s.Shares))
		for i, b := range s.Shares {
			if parts[i], err = ctx.ParseKeySwitchShare(b); err != nil {
				return nil, fmt.Errorf("hub: share from %q part %d: %w", s.From, i, verify.Malformed(err))
			}
		}
		byMember[j] = parts
	}
	if len(byMember) != e.Threshold {
		return nil, fmt.Errorf("hub: %w: have %d of the t=%d active-set shares", secagg.ErrNotEnoughShares, len(byMember), e.Threshold)
	}
	agg := make([]*rlwe.Ciphertext, len(req.Aggregate))
	for i, b := range req.Aggregate {
		if agg[i], err = ctx.ParseCiphertext(b); err != nil {
			return nil, fmt.Errorf("hub: aggregate ciphertext %d: %w", i, verify.Malformed(err))
		}
	}
	parts := make([][]mhe.KeySwitchShare, 0, len(byMember))
	for _, a := range req.Active {
		parts = append(parts, byMember[a])
	}
	return combine(ctx, agg, parts, req.Dim)
}

// combine adds the key-switch shares (parts[member][ciphertext]) to the
// aggregate and decodes. It does not check that enough shares are present;
// Combine does. Tests call it directly to show t−1 shares yield garbage.
func combine(ctx *he.Context, agg []*rlwe.Ciphertext, parts [][]mhe.KeySwitchShare, dim int) ([]float64, error) {
	ks, err := ctx.NewKeySwitch()
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	cd := ctx.NewCodec()
	out := make([]float64, dim)
	n := ctx.N()
	for i, ct := range agg {
		acc := ks.AllocateShare(ct.Level())
		for _, p := range parts {
			if err := ks.AggregateShares(acc, p[i], &acc); err != nil {
				return nil, fmt.Errorf("hub: aggregate shares: %w", err)
			}
		}
		lo := i * n
		if err := ctx.Decrypt(ks, ct, acc, cd, out[lo:min(lo+n, dim)]); err != nil {
			return nil, fmt.Errorf("hub: decrypt ciphertext %d: %w", i, err)
		}
	}
	return out, nil
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
