package site

import (
	"bytes"
	"fmt"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/internal/he"
	"github.com/cohortfl/cohort/secagg/internal/verify"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
)

// DecryptShare produces this site's decryption share for req, or refuses
// with a *secagg.RefusalError (errors.Is(err, secagg.ErrRefused)).
//
// The provable-aggregate rule: the site helps decrypt only what it has
// itself verified to be the sum of at least Epoch.MinClients distinct,
// signed contributions of this round. Concretely it checks that
//   - req is for this run and epoch, and its active set is a strictly
//     increasing list of exactly t member indices that contains this site;
//   - req lists ≥ MinClients contributions from distinct members, each
//     bound to this run, epoch, round and dimension, each with a valid
//     Ed25519 signature of its sender and well-formed ciphertexts;
//   - the homomorphic sum it recomputes equals req.Aggregate byte for byte;
//   - it has not already produced a share for a different aggregate of the
//     same round. (Decrypting two aggregates of one round that differ by a
//     single contribution would reveal it.) A repeated request for the same
//     aggregate and active set returns the cached share: fresh smudging
//     noise on the same ciphertext would let an attacker average the noise
//     away. To tolerate a decryptor dropping out mid-decryption, the same
//     aggregate may be answered for up to MaxActiveSetsPerRound different
//     active sets; each answer is one more smudged sample, which σ = 2^40
//     covers with a large margin for such a small count.
//
// Cost: the site parses and adds K contributions, i.e. K·ceil(dim/N)
// ciphertext additions (microseconds each) plus the signature checks and
// the transfer of K ciphertexts. See doc.go for the alternative.
//
// The share is c1·s_i' + e_i per aggregate ciphertext, where s_i' is the
// site's additive share of the key for this active set (Lagrange-weighted
// Shamir share) and e_i is smudging noise of deviation SmudgingSigma.
func (p *Party) DecryptShare(req secagg.DecryptRequest) (secagg.DecryptionShare, error) {
	refuse := func(reason string, err error) (secagg.DecryptionShare, error) {
		return secagg.DecryptionShare{}, &secagg.RefusalError{Round: req.Round, Reason: reason, Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ready {
		return secagg.DecryptionShare{}, fmt.Errorf("site: %w: threshold share incomplete (%d of %d Shamir shares)", secagg.ErrState, len(p.received), len(p.epoch.Members))
	}
	e := p.epoch
	if req.RunID != e.RunID || req.Epoch != e.Epoch {
		return refuse(fmt.Sprintf("request is for run %q epoch %d, this key is run %q epoch %d", req.RunID, req.Epoch, e.RunID, e.Epoch), nil)
	}
	if err := e.ValidActiveSet(req.Active); err != nil {
		return refuse("invalid active set", err)
	}
	if !containsInt(req.Active, p.self) {
		return refuse(fmt.Sprintf("site index %d is not in the active set %v", p.self, req.Active), nil)
	}
	if req.Dim <= 0 || len(req.Aggregate) != p.params.Ciphertexts(req.Dim) {
		return refuse(fmt.Sprintf("aggregate has %d ciphertexts for dimension %d", len(req.Aggregate), req.Dim), nil)
	}
	digest := req.AggregateDigest()
	aggHash := secagg.Contribution{Ciphertexts: req.Aggregate}.CiphertextHash()
	rec := p.decrypted[req.Round]
	if rec != nil {
		if rec.aggregate != aggHash {
			return refuse("a different aggregate of this round was already decrypted", nil)
		}
		if prev, ok := rec.shares[digest]; ok {
			return cloneShare(prev), nil
		}
		if len(rec.shares) >= MaxActiveSetsPerRound {
			return refuse(fmt.Sprintf("already answered %d active sets for this aggregate", len(rec.shares)), nil)
		}
	}
	if len(req.Contributions) < e.MinClients {
		return refuse(fmt.Sprintf("%d contributions, the epoch requires at least %d", len(req.Contributions), e.MinClients), nil)
	}
	agg, err := p.verifyAggregate(req)
	if err != nil {
		return refuse("aggregate is not the sum of the listed contributions", err)
	}
	shares, err := p.keySwitchShares(req.Active, agg)
	if err != nil {
		return secagg.DecryptionShare{}, fmt.Errorf("site: %w", err)
	}
	out := secagg.DecryptionShare{RunID: e.RunID, Epoch: e.Epoch, Round: req.Round, From: p.ID(), Aggregate: digest, Shares: shares}
	out.Signature = p.id.sign(out.Digest())
	if rec == nil {
		rec = &roundRecord{aggregate: aggHash, shares: map[[32]byte]secagg.DecryptionShare{}}
		p.decrypted[req.Round] = rec
	}
	rec.shares[digest] = out
	return cloneShare(out), nil
}

// verifyAggregate checks every contribution, recomputes the sum and
// compares it with the aggregate byte for byte.
func (p *Party) verifyAggregate(req secagg.DecryptRequest) ([]*rlwe.Ciphertext, error) {
	sum := make([]*rlwe.Ciphertext, len(req.Aggregate))
	for i := range sum {
		sum[i] = p.ctx.NewZeroCiphertext()
	}
	seen := make(map[string]bool, len(req.Contributions))
	for _, c := range req.Contributions {
		if seen[c.From] {
			return nil, fmt.Errorf("%w: %q contributes twice", secagg.ErrReplay, c.From)
		}
		seen[c.From] = true
		cts, err := verify.Contribution(p.ctx, p.epoch, req.Round, req.Dim, c)
		if err != nil {
			return nil, err
		}
		for i, ct := range cts {
			p.ctx.Add(sum[i], ct)
		}
	}
	agg := make([]*rlwe.Ciphertext, len(req.Aggregate))
	for i, ct := range sum {
		b, err := he.Marshal(ct)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(b, req.Aggregate[i]) {
			return nil, fmt.Errorf("%w: aggregate ciphertext %d differs from the recomputed sum", secagg.ErrBinding, i)
		}
		agg[i] = ct
	}
	return agg, nil
}

// keySwitchShares computes the smudged key-switch share of each aggregate
// ciphertext towards the zero key, for the given active set.
func (p *Party) keySwitchShares(active []int, agg []*rlwe.Ciphertext) ([][]byte, error) {
	rp := p.ctx.Params()
	all := make([]mhe.ShamirPublicPoint, len(p.epoch.Members))
	for j := range all {
		all[j] = mhe.ShamirPublicPoint(j + 1)
	}
	points := make([]mhe.ShamirPublicPoint, len(active))
	for i, a := range active {
		points[i] = mhe.ShamirPublicPoint(a + 1)
	}
	own := mhe.ShamirPublicPoint(p.self + 1)
	cmb := mhe.NewCombiner(rp, own, all, p.epoch.Threshold)
	add := rlwe.NewSecretKey(rp)
	defer zeroQP(add.Value.Q.Coeffs, add.Value.P.Coeffs)
	if err := cmb.GenAdditiveShare(points, own, p.tss, add); err != nil {
		return nil, fmt.Errorf("additive share: %w", err)
	}
	ks, err := p.ctx.NewKeySwitch()
	if err != nil {
		return nil, err
	}
	zero := rlwe.NewSecretKey(rp)
	out := make([][]byte, len(agg))
	for i, ct := range agg {
		share := ks.AllocateShare(ct.Level())
		ks.GenShare(add, zero, ct, &share)
		// GenShare on a non-NTT ciphertext ends with a lazy inverse NTT plus
		// noise, which can leave coefficients in [q, 2q); the coordinator
		// rightly rejects unreduced shares, so reduce before sending.
		rp.RingQ().AtLevel(ct.Level()).Reduce(share.Value, share.Value)
		b, err := share.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode decryption share: %w", err)
		}
		out[i] = b
	}
	return out, nil
}

// MaxActiveSetsPerRound bounds how many distinct active sets a site answers
// for one round's aggregate.
const MaxActiveSetsPerRound = 3

type roundRecord struct {
	aggregate [32]byte // hash of the aggregate ciphertexts
	shares    map[[32]byte]secagg.DecryptionShare
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func cloneShare(s secagg.DecryptionShare) secagg.DecryptionShare {
	s.Shares = append([][]byte(nil), s.Shares...)
	for i := range s.Shares {
		s.Shares[i] = bytes.Clone(s.Shares[i])
	}
	s.Signature = bytes.Clone(s.Signature)
	return s
}
