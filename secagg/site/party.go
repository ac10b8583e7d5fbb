package site

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/internal/he"
	"github.com/cohortfl/cohort/secagg/internal/verify"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
)

// Party is one site's state for one key epoch. It holds the site's secret
// key (only during the ceremony), its aggregated Shamir share (the threshold
// secret), and the collective public key. All methods are safe for
// concurrent use; they serialise on an internal lock.
//
// Ceremony order: NewParty → PublicKeyShare (sent to the hub) →
// ShamirEnvelopes (relayed by the hub) → OpenEnvelopes (the envelopes
// addressed to this site) and AcceptPublicKey (in any order). After
// ShamirEnvelopes the additive secret key is erased; only the Shamir share
// remains.
type Party struct {
	mu     sync.Mutex
	params secagg.Params
	ctx    *he.Context
	epoch  secagg.Epoch
	self   int
	id     *Identity
	rand   io.Reader

	sk       *rlwe.SecretKey // nil after ShamirEnvelopes
	pkShare  secagg.PublicKeyShare
	envs     []secagg.Envelope
	tss      mhe.ShamirSecretShare
	received map[int]bool
	ready    bool // threshold share complete

	pk    *rlwe.PublicKey
	enc   *rlwe.Encryptor
	codec *he.Codec

	decrypted map[uint64]*roundRecord
}

// NewParty starts the ceremony for member self of epoch e. id must be the
// identity whose public half is listed for self in e. It samples the
// site's secret key and its public-key share.
func NewParty(params secagg.Params, e secagg.Epoch, self string, id *Identity) (*Party, error) {
	ctx, err := he.Of(params)
	if err != nil {
		return nil, fmt.Errorf("site: %w: %w", secagg.ErrBadParams, err)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	if n := len(e.Members); n > params.Encoding().MaxParties {
		return nil, fmt.Errorf("site: %w: %d members exceed Encoding.MaxParties=%d", secagg.ErrBadEpoch, n, params.Encoding().MaxParties)
	}
	idx := e.Index(self)
	if idx < 0 {
		return nil, fmt.Errorf("site: %w: %q is not a member of epoch %d", secagg.ErrBadEpoch, self, e.Epoch)
	}
	if id == nil || !e.Members[idx].Public.Equal(id.public) {
		return nil, fmt.Errorf("site: %w: identity does not match the epoch entry for %q", secagg.ErrBadEpoch, self)
	}
	p := &Party{
		params:    params,
		ctx:       ctx,
		epoch:     e,
		self:      idx,
		id:        id,
		rand:      rand.Reader,
		received:  map[int]bool{},
		decrypted: map[uint64]*roundRecord{},
	}
	rp := ctx.Params()
	p.sk = rlwe.NewKeyGenerator(rp).GenSecretKeyNew()
	crp, err := ctx.PublicKeyCRP(secagg.CRS(e.RunID, e.Epoch))
	if err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	proto := mhe.NewPublicKeyGenProtocol(rp)
	share := proto.AllocateShare()
	proto.GenShare(p.sk, crp, &share)
	b, err := share.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("site: encode public-key share: %w", err)
	}
	p.pkShare = secagg.PublicKeyShare{RunID: e.RunID, Epoch: e.Epoch, From: self, Share: b}
	p.pkShare.Signature = id.sign(p.pkShare.Digest())
	return p, nil
}

// ID returns this site's member id.
func (p *Party) ID() string { return p.epoch.Members[p.self].ID }

// PublicKeyShare returns the signed public-key share. It is computed once;
// repeated calls return the same share (fresh shares for the same CRP would
// give an eavesdropper several noisy samples of the same secret).
func (p *Party) PublicKeyShare() secagg.PublicKeyShare {
	s := p.pkShare
	s.Share = bytes.Clone(s.Share)
	s.Signature = bytes.Clone(s.Signature)
	return s
}

func (p *Party) envelopeInfo(from, to string) []byte {
	h := sha256.New()
	var b [8]byte
	for _, s := range []string{"cohort/secagg/shamir/v1", p.epoch.RunID, from, to} {
		binary.BigEndian.PutUint64(b[:], uint64(len(s)))
		h.Write(b[:])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(b[:], p.epoch.Epoch)
	h.Write(b[:])
	return h.Sum(nil)
}

// ShamirEnvelopes thresholdizes the site's secret key: it samples a Shamir
// polynomial of degree t−1 with the secret key as constant term, evaluates
// it at every other member's point j+1, and seals each share with HPKE to
// that member. The site keeps its own share. The secret key and the
// polynomial are erased afterwards; repeated calls return the same
// envelopes.
func (p *Party) ShamirEnvelopes() ([]secagg.Envelope, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.envs != nil {
		return cloneEnvelopes(p.envs), nil
	}
	rp := p.ctx.Params()
	thr := mhe.NewThresholdizer(rp)
	poly, err := thr.GenShamirPolynomial(p.epoch.Threshold, p.sk)
	if err != nil {
		return nil, fmt.Errorf("site: Shamir polynomial: %w", err)
	}
	defer func() {
		for _, c := range poly.Value {
			zeroQP(c.Q.Coeffs, c.P.Coeffs)
		}
	}()
	self := p.ID()
	envs := make([]secagg.Envelope, 0, len(p.epoch.Members)-1)
	share := thr.AllocateThresholdSecretShare()
	for j, m := range p.epoch.Members {
		thr.GenShamirSecretShare(mhe.ShamirPublicPoint(j+1), poly, &share)
		if j == p.self {
			p.tss = thr.AllocateThresholdSecretShare()
			p.tss.Poly.Copy(share.Poly)
			continue
		}
		pt, err := share.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("site: encode Shamir share for %q: %w", m.ID, err)
		}
		ct, err := p.seal(m, pt)
		zeroBytes(pt)
		if err != nil {
			return nil, err
		}
		envs = append(envs, secagg.Envelope{RunID: p.epoch.RunID, Epoch: p.epoch.Epoch, From: self, To: m.ID, Ciphertext: ct})
	}
	zeroQP(share.Q.Coeffs, share.P.Coeffs)
	zeroQP(p.sk.Value.Q.Coeffs, p.sk.Value.P.Coeffs)
	p.sk = nil
	p.received[p.self] = true
	p.envs = envs
	return cloneEnvelopes(envs), nil
}

func (p *Party) seal(to secagg.Member, pt []byte) ([]byte, error) {
	pkR, err := kemID.Scheme().UnmarshalBinaryPublicKey(to.Public.KEM)
	if err != nil {
		return nil, fmt.Errorf("site: HPKE key of %q: %w", to.ID, err)
	}
	sender, err := suite.NewSender(pkR, p.envelopeInfo(p.ID(), to.ID))
	if err != nil {
		return nil, fmt.Errorf("site: HPKE sender for %q: %w", to.ID, err)
	}
	enc, sealer, err := sender.SetupAuth(p.rand, p.id.kemPriv)
	if err != nil {
		return nil, fmt.Errorf("site: HPKE setup for %q: %w", to.ID, err)
	}
	ct, err := sealer.Seal(pt, nil)
	if err != nil {
		return nil, fmt.Errorf("site: HPKE seal for %q: %w", to.ID, err)
	}
	return append(enc, ct...), nil
}

// OpenEnvelopes opens Shamir shares addressed to this site and adds them to
// its threshold share. It may be called several times with disjoint
// batches; the share is complete once one envelope from every other member
// has been opened. Envelopes for other sites, from non-members, duplicates,
// or that fail HPKE authentication are rejected and nothing from the batch
// is applied.
func (p *Party) OpenEnvelopes(envs []secagg.Envelope) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.envs == nil {
		return fmt.Errorf("site: %w: call ShamirEnvelopes before OpenEnvelopes", secagg.ErrState)
	}
	self := p.ID()
	batch := map[int]mhe.ShamirSecretShare{}
	for _, env := range envs {
		if env.To != self || env.RunID != p.epoch.RunID || env.Epoch != p.epoch.Epoch {
			return fmt.Errorf("site: %w: envelope %q→%q for run %q epoch %d is not for %q in run %q epoch %d",
				secagg.ErrBinding, env.From, env.To, env.RunID, env.Epoch, self, p.epoch.RunID, p.epoch.Epoch)
		}
		j := p.epoch.Index(env.From)
		if j < 0 || j == p.self {
			return fmt.Errorf("site: %w: envelope from %q is not from another member", secagg.ErrBinding, env.From)
		}
		if _, dup := batch[j]; p.received[j] || dup {
			return fmt.Errorf("site: %w: second envelope from %q", secagg.ErrReplay, env.From)
		}
		share, err := p.open(p.epoch.Members[j], env.Ciphertext)
		if err != nil {
			return err
		}
		batch[j] = share
	}
	thr := mhe.NewThresholdizer(p.ctx.Params())
	for j, s := range batch {
		if err := thr.AggregateShares(p.tss, s, &p.tss); err != nil {
			return fmt.Errorf("site: aggregate Shamir share from %q: %w", p.epoch.Members[j].ID, err)
		}
		zeroQP(s.Q.Coeffs, s.P.Coeffs)
		p.received[j] = true
	}
	p.ready = len(p.received) == len(p.epoch.Members)
	return nil
}

func (p *Party) open(from secagg.Member, ct []byte) (mhe.ShamirSecretShare, error) {
	var none mhe.ShamirSecretShare
	encSize := int(kemID.Scheme().CiphertextSize())
	if len(ct) <= encSize {
		return none, fmt.Errorf("site: %w: envelope from %q is too short", secagg.ErrMalformed, from.ID)
	}
	pkS, err := kemID.Scheme().UnmarshalBinaryPublicKey(from.Public.KEM)
	if err != nil {
		return none, fmt.Errorf("site: HPKE key of %q: %w", from.ID, err)
	}
	recv, err := suite.NewReceiver(p.id.kemPriv, p.envelopeInfo(from.ID, p.ID()))
	if err != nil {
		return none, fmt.Errorf("site: HPKE receiver: %w", err)
	}
	opener, err := recv.SetupAuth(ct[:encSize], pkS)
	if err != nil {
		return none, fmt.Errorf("site: %w: envelope from %q: %w", secagg.ErrMalformed, from.ID, err)
	}
	pt, err := opener.Open(ct[encSize:], nil)
	if err != nil {
		return none, fmt.Errorf("site: %w: envelope from %q does not authenticate: %w", secagg.ErrBadSignature, from.ID, err)
	}
	defer zeroBytes(pt)
	share, err := p.ctx.ParseShamirShare(pt)
	if err != nil {
		return none, fmt.Errorf("site: share from %q: %w", from.ID, verify.Malformed(err))
	}
	return share, nil
}

// ThresholdReady reports whether the site holds a complete threshold share.
func (p *Party) ThresholdReady() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready
}

// AcceptPublicKey installs the collective public key after checking that it
// is exactly the sum of every member's signed share under this epoch's CRS,
// so the coordinator cannot substitute a key it knows the secret of.
func (p *Party) AcceptPublicKey(pk secagg.PublicKey, shares []secagg.PublicKeyShare) error {
	if pk.RunID != p.epoch.RunID || pk.Epoch != p.epoch.Epoch {
		return fmt.Errorf("site: %w: public key for run %q epoch %d", secagg.ErrBinding, pk.RunID, pk.Epoch)
	}
	want, err := verify.PublicKey(p.ctx, p.epoch, shares)
	if err != nil {
		return fmt.Errorf("site: %w", err)
	}
	b, err := want.MarshalBinary()
	if err != nil {
		return fmt.Errorf("site: encode public key: %w", err)
	}
	if !bytes.Equal(b, pk.Key) {
		return fmt.Errorf("site: %w: public key is not the sum of the members' shares", secagg.ErrBinding)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pk = want
	p.enc = rlwe.NewEncryptor(p.ctx.Params(), want)
	p.codec = p.ctx.NewCodec()
	return nil
}

func cloneEnvelopes(in []secagg.Envelope) []secagg.Envelope {
	out := make([]secagg.Envelope, len(in))
	for i, e := range in {
		e.Ciphertext = bytes.Clone(e.Ciphertext)
		out[i] = e
	}
	return out
}

func zeroBytes(b []byte) { clear(b) }

func zeroQP(q, p [][]uint64) {
	for _, r := range q {
		clear(r)
	}
	for _, r := range p {
		clear(r)
	}
}
