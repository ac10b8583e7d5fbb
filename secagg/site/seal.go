package site

import (
	"fmt"
	"io"
	"math"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/internal/he"
	"github.com/cohortfl/cohort/secagg/internal/verify"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

// Seal encrypts vec for round under the collective public key and signs
// it. Values must already be clipped: Seal refuses (ErrBadInput, naming
// the index and value) any NaN, ±Inf or |v| > Encoding.ClipBound, because
// the headroom that makes overflow impossible assumes the bound. vec is
// split into ceil(len(vec)/N) coefficient-encoded ciphertexts. The
// signature covers run, epoch, round, sender, dimension, a fresh 32-byte
// nonce and SHA-256 of the ciphertexts.
func (p *Party) Seal(vec []float64, round uint64) (secagg.Contribution, error) {
	if len(vec) == 0 {
		return secagg.Contribution{}, fmt.Errorf("site: %w: empty vector", secagg.ErrBadInput)
	}
	clip := p.params.Encoding().ClipBound
	for i, v := range vec {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > clip {
			return secagg.Contribution{}, fmt.Errorf("site: %w: value %v at index %d is outside the clip bound ±%g", secagg.ErrBadInput, v, i, clip)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.enc == nil {
		return secagg.Contribution{}, fmt.Errorf("site: %w: no collective public key yet (call AcceptPublicKey)", secagg.ErrState)
	}
	cts, err := encryptVector(p.ctx, p.codec, p.enc, vec)
	if err != nil {
		return secagg.Contribution{}, fmt.Errorf("site: %w", err)
	}
	nonce := make([]byte, verify.NonceSize)
	if _, err := io.ReadFull(p.rand, nonce); err != nil {
		return secagg.Contribution{}, fmt.Errorf("site: nonce: %w", err)
	}
	c := secagg.Contribution{
		RunID:       p.epoch.RunID,
		Epoch:       p.epoch.Epoch,
		Round:       round,
		From:        p.ID(),
		Dim:         len(vec),
		Nonce:       nonce,
		Ciphertexts: cts,
	}
	c.Signature = p.id.sign(c.Digest())
	return c, nil
}

func encryptVector(ctx *he.Context, cd *he.Codec, enc *rlwe.Encryptor, vec []float64) ([][]byte, error) {
	n := ctx.N()
	out := make([][]byte, 0, (len(vec)+n-1)/n)
	for lo := 0; lo < len(vec); lo += n {
		pt, err := cd.Encode(vec[lo:min(lo+n, len(vec))])
		if err != nil {
			return nil, err
		}
		ct := ctx.NewZeroCiphertext()
		if err := enc.Encrypt(pt, ct); err != nil {
			return nil, fmt.Errorf("encrypt: %w", err)
		}
		b, err := he.Marshal(ct)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
