package coordinator

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/internal/secwire"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/hub"
)

// ErrTooFewDecryptors reports that fewer than t key holders are online to
// decrypt a round's sum; the round fails instead of waiting.
var ErrTooFewDecryptors = errors.New("coordinator: fewer than t key holders online to decrypt")

// EpochRecord is the public outcome of a key ceremony, stored with the run.
type EpochRecord struct {
	Epoch     uint64                   `json:"epoch"`
	Threshold int                      `json:"threshold"`
	Members   []EpochMember            `json:"members"`
	Params    secagg.ParametersLiteral `json:"params"`
	PublicKey []byte                   `json:"public_key"`
}

// EpochMember is one key holder's public identity.
type EpochMember struct {
	ID     string `json:"id"`
	KEM    []byte `json:"kem"`
	Verify []byte `json:"verify"`
}

// secState is the coordinator's secure-aggregation state. It holds public
// material only: identities, public-key shares, the collective public key,
// ciphertexts and decryption shares. It cannot hold a secret key: package
// secagg/site, where secret keys live, is not imported by this package (a
// test checks the import graph).
type secState struct {
	params secagg.Params
	epoch  secagg.Epoch
	pubs   map[string]secagg.PublicIdentity
	record *EpochRecord

	// key ceremony
	identities map[string]*cohortv1.SecAggIdentity
	pkShares   map[string]secagg.PublicKeyShare
	relay      *hub.Relay
	acks       map[string]bool

	// the open sum and its decryption
	acc     *hub.Accumulator
	accRnd  uint64
	shares  map[string]secagg.DecryptionShare
	request secagg.DecryptRequest
}

// secRound numbers a secure sum: a site decrypts at most one aggregate per
// secure round, so fit and evaluation sums and every retry get their own.
func secRound(round, attempt int, eval bool) uint64 {
	r := uint64(round)<<16 | uint64(attempt&0x7fff)
	if eval {
		r |= 0x8000
	}
	return r
}

func (ar *activeRun) secure() bool { return ar.cfg.Secure == SecureHE }

// restoreSecure rebuilds the secure-aggregation state from a stored epoch.
func restoreSecure(cfg RunConfig) (*secState, error) {
	rec := cfg.SecAgg
	if rec == nil {
		return nil, fmt.Errorf("coordinator: run %q uses secure aggregation but has no stored key epoch", cfg.RunID)
	}
	params, err := secagg.NewParams(rec.Params)
	if err != nil {
		return nil, err
	}
	s := &secState{params: params, record: rec, pubs: map[string]secagg.PublicIdentity{},
		epoch: secagg.Epoch{RunID: cfg.RunID, Epoch: rec.Epoch, Threshold: rec.Threshold, MinClients: cfg.MinClients}}
	for _, m := range rec.Members {
		pub := secagg.PublicIdentity{KEM: m.KEM, Verify: m.Verify}
		s.epoch.Members = append(s.epoch.Members, secagg.Member{ID: m.ID, Public: pub})
		s.pubs[m.ID] = pub
	}
	return s, s.epoch.Validate()
}

// keyCeremony runs the three steps of the threshold key generation with every
// connected site: register identities, exchange public-key shares and
// HPKE-sealed Shamir shares (relayed unopened), and distribute the collective
// key. It stores the public outcome in ar.cfg.SecAgg.
func (e *Engine) keyCeremony(ctx context.Context, ar *activeRun) error {
	cfg := ar.cfg
	need := max(cfg.Threshold, cfg.MinClients)
	s := &secState{identities: map[string]*cohortv1.SecAggIdentity{}}
	e.mu.Lock()
	ar.sec = s
	e.mu.Unlock()

	if _, err := e.playPhase(ctx, ar, phaseOpts{phase: PhaseKeygenRegister, minResults: need, allConnected: true}); err != nil {
		return fmt.Errorf("coordinator: key ceremony (register): %w", err)
	}
	e.mu.Lock()
	names := make([]string, 0, len(s.identities))
	for n := range s.identities {
		names = append(names, n)
	}
	sort.Strings(names)
	if cfg.Threshold > len(names) {
		e.mu.Unlock()
		return fmt.Errorf("coordinator: threshold t=%d but only %d sites registered keys", cfg.Threshold, len(names))
	}
	lit := secagg.DefaultCKKS()
	lit.Encoding = secagg.Encoding{MaxParties: len(names), ClipBound: cfg.ClipBound}
	params, err := secagg.NewParams(lit)
	if err != nil {
		e.mu.Unlock()
		return fmt.Errorf("coordinator: secure-aggregation parameters: %w", err)
	}
	s.params = params
	s.epoch = secagg.Epoch{RunID: cfg.RunID, Epoch: 1, Threshold: cfg.Threshold, MinClients: cfg.MinClients}
	s.pubs = map[string]secagg.PublicIdentity{}
	roster := &cohortv1.SecAggRoster{RunId: cfg.RunID, Epoch: 1, Threshold: int32(cfg.Threshold), MinClients: int32(cfg.MinClients)}
	for _, n := range names {
		id := s.identities[n]
		pub := secagg.PublicIdentity{KEM: id.KemPublic, Verify: id.VerifyPublic}
		s.epoch.Members = append(s.epoch.Members, secagg.Member{ID: n, Public: pub})
		s.pubs[n] = pub
		roster.Members = append(roster.Members, &cohortv1.SecAggMember{Id: n, Identity: id})
	}
	pj, _ := json.Marshal(secwire.Params{Literal: params.Literal()})
	roster.ParamsJson = string(pj)
	if err := s.epoch.Validate(); err != nil {
		e.mu.Unlock()
		return err
	}
	if s.relay, err = hub.NewRelay(s.epoch); err != nil {
		e.mu.Unlock()
		return err
	}
	s.pkShares = map[string]secagg.PublicKeyShare{}
	blob, err := secwire.Marshal(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_Roster{Roster: roster}})
	if err != nil {
		e.mu.Unlock()
		return err
	}
	ar.blobs = map[string][]byte{"keygen/roster": blob}
	e.mu.Unlock()

	if _, err := e.playPhase(ctx, ar, phaseOpts{phase: PhaseKeygenShares, sites: names, minResults: len(names),
		blob: func(string) string { return "keygen/roster" }}); err != nil {
		return fmt.Errorf("coordinator: key ceremony (shares): every registered site must take part: %w", err)
	}
	e.mu.Lock()
	shares := make([]secagg.PublicKeyShare, 0, len(names))
	for _, n := range names {
		shares = append(shares, s.pkShares[n])
	}
	pk, err := hub.AggregatePublicKey(s.params, s.epoch, shares)
	if err != nil {
		e.mu.Unlock()
		return fmt.Errorf("coordinator: aggregating the public key: %w", err)
	}
	ar.blobs = map[string][]byte{}
	for _, n := range names {
		fin := &cohortv1.SecAggFinishMsg{PublicKey: pk.Key}
		for _, sh := range shares {
			fin.PublicKeyShares = append(fin.PublicKeyShares, secwire.PublicKeyShareToProto(sh))
		}
		for _, env := range s.relay.Inbox(n) {
			fin.Envelopes = append(fin.Envelopes, secwire.EnvelopeToProto(env))
		}
		b, err := secwire.Marshal(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_Finish{Finish: fin}})
		if err != nil {
			e.mu.Unlock()
			return err
		}
		ar.blobs["keygen/finish/"+n] = b
	}
	s.acks = map[string]bool{}
	e.mu.Unlock()

	if _, err := e.playPhase(ctx, ar, phaseOpts{phase: PhaseKeygenFinish, sites: names, minResults: len(names),
		blob: func(site string) string { return "keygen/finish/" + site }}); err != nil {
		return fmt.Errorf("coordinator: key ceremony (finish): %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rec := &EpochRecord{Epoch: 1, Threshold: cfg.Threshold, Params: s.params.Literal(), PublicKey: pk.Key}
	for _, m := range s.epoch.Members {
		rec.Members = append(rec.Members, EpochMember{ID: m.ID, KEM: m.Public.KEM, Verify: m.Public.Verify})
	}
	s.record, ar.cfg.SecAgg = rec, rec
	s.identities, s.pkShares, s.relay, s.acks, ar.blobs = nil, nil, nil, nil, nil
	e.log.Info("key ceremony complete", "run", cfg.RunID, "members", len(names), "threshold", cfg.Threshold)
	return nil
}

// decryptSum asks t online key holders for decryption shares of the open
// sum and combines them. If a decryptor fails, it retries with another active
// set (a site answers at most a few per aggregate); with fewer than t key
// holders online it fails at once with ErrTooFewDecryptors.
func (e *Engine) decryptSum(ctx context.Context, ar *activeRun, r, attempt int) ([]float64, error) {
	s := ar.sec
	failed := map[string]bool{}
	var lastErr error
	for try := 0; try < 3; try++ {
		var online []string
		for _, n := range e.o.Dispatcher.Connected() {
			if _, member := s.pubs[n]; member && !failed[n] {
				online = append(online, n)
			}
		}
		active, err := hub.ActiveSet(s.epoch, online)
		if err != nil {
			return nil, fmt.Errorf("%w: %d of %d key holders online, t=%d (%v)", ErrTooFewDecryptors, len(online), len(s.epoch.Members), s.epoch.Threshold, err)
		}
		e.mu.Lock()
		req, err := s.acc.DecryptRequest(active)
		if err != nil {
			e.mu.Unlock()
			return nil, fmt.Errorf("coordinator: building the decrypt request: %w", err)
		}
		blob, err := secwire.Marshal(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_DecryptRequest{DecryptRequest: secwire.DecryptRequestToProto(req)}})
		if err != nil {
			e.mu.Unlock()
			return nil, err
		}
		name := fmt.Sprintf("decrypt/%d/%d/%d", s.accRnd, attempt, try)
		ar.blobs = map[string][]byte{name: blob}
		s.request, s.shares = req, map[string]secagg.DecryptionShare{}
		sites := make([]string, len(active))
		for i, a := range active {
			sites[i] = s.epoch.Members[a].ID
		}
		e.mu.Unlock()

		rec, err := e.playPhase(ctx, ar, phaseOpts{phase: PhaseDecrypt, round: r, attempt: attempt, sites: sites,
			minResults: len(sites), blob: func(string) string { return name }})
		if err == nil {
			e.mu.Lock()
			shares := make([]secagg.DecryptionShare, 0, len(sites))
			for _, n := range sites {
				shares = append(shares, s.shares[n])
			}
			ar.blobs = nil
			e.mu.Unlock()
			sum, err := hub.Combine(s.params, s.epoch, req, shares)
			if err != nil {
				return nil, fmt.Errorf("coordinator: combining decryption shares: %w", err)
			}
			return sum, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		lastErr = err
		for _, p := range rec.Participants {
			if p.Status != "accepted" {
				failed[p.Client] = true
				e.log.Warn("decryptor did not answer", "site", p.Client, "round", r, "status", p.Status, "reason", p.Reason)
			}
		}
	}
	return nil, fmt.Errorf("coordinator: decrypting round %d: %w", r, lastErr)
}

// submitSecAgg handles a sealed result or key-ceremony message. Called with e.mu held.
func (e *Engine) submitSecAgg(ar *activeRun, site string, payload, peerCert []byte) error {
	if ar.round.Phase == PhaseCosign {
		return e.submitCosign(ar, site, payload, peerCert)
	}
	s := ar.sec
	if s == nil {
		return fmt.Errorf("coordinator: run %q does not use secure aggregation", ar.cfg.RunID)
	}
	m, err := secwire.Unmarshal(payload)
	if err != nil {
		return err
	}
	switch ar.round.Phase {
	case PhaseKeygenRegister:
		id := m.GetIdentity()
		if id == nil {
			return errors.New("coordinator: expected the site's identity keys")
		}
		// The coordinator checks the binding too (sites re-check it against the CA).
		if err := secwire.VerifyBinding(id, site, ar.cfg.RunID, 1, nil, e.o.Now()); err != nil {
			return err
		}
		s.identities[site] = id
	case PhaseKeygenShares:
		sh := m.GetShares()
		if sh == nil || sh.PublicKeyShare == nil {
			return errors.New("coordinator: expected a public-key share and Shamir envelopes")
		}
		pks := secwire.PublicKeyShareFromProto(sh.PublicKeyShare)
		if pks.From != site {
			return fmt.Errorf("coordinator: public-key share claims to be from %q", pks.From)
		}
		var envs []secagg.Envelope
		for _, env := range sh.Envelopes {
			envs = append(envs, secwire.EnvelopeFromProto(env))
		}
		if err := s.relay.Post(envs...); err != nil {
			return err
		}
		s.pkShares[site] = pks
	case PhaseKeygenFinish:
		ack := m.GetAck()
		if ack == nil || !ack.ThresholdReady {
			return fmt.Errorf("coordinator: site %q did not finish the key ceremony", site)
		}
		s.acks[site] = true
	case PhaseDecrypt:
		d, err := secwire.DecryptionShareFromProto(m.GetDecryptionShare())
		if err != nil {
			return err
		}
		if d.From != site {
			return fmt.Errorf("coordinator: decryption share claims to be from %q", d.From)
		}
		if d.Aggregate != s.request.AggregateDigest() {
			return fmt.Errorf("coordinator: decryption share from %q is for another aggregate", site)
		}
		s.shares[site] = d
		e.noteDetail(audit.KindDecryptShareGiven, ar.cfg.RunID, ar.round.Number, site, site,
			map[string]any{"aggregate_sha256": hex.EncodeToString(d.Aggregate[:])})
	case PhaseStatistics, PhaseFit, PhaseEvaluate:
		c, err := secwire.ContributionFromProto(m.GetContribution())
		if err != nil {
			return err
		}
		pub, ok := s.pubs[site]
		if !ok {
			return fmt.Errorf("coordinator: site %q holds no key in this epoch", site)
		}
		if dim := ar.sealedDim(); dim > 0 && c.Dim != dim {
			return fmt.Errorf("coordinator: sealed %s result has dimension %d, want %d", ar.round.Phase, c.Dim, dim)
		}
		if s.acc == nil {
			want := secRound(ar.round.Number, ar.round.Attempt, ar.round.Phase == PhaseEvaluate)
			if s.acc, err = hub.NewAccumulator(s.params, s.epoch, want, c.Dim); err != nil {
				return err
			}
			s.accRnd = want
		}
		if err := s.acc.Add(site, c, pub); err != nil {
			return err
		}
		dg := c.Digest()
		e.noteDetail(audit.KindUpdateReceived, ar.cfg.RunID, ar.round.Number, site, site, map[string]any{
			"phase": ar.round.Phase.String(), "update_sha256": hexDigest(dg), "signature": base64.StdEncoding.EncodeToString(c.Signature)})
	default:
		return fmt.Errorf("coordinator: no sealed result expected in the %s phase", ar.round.Phase)
	}
	return nil
}

// keyHolder reports whether site may be given tasks of this run: with secure
// aggregation only the epoch's key holders can seal results or decrypt; a
// site that joined after the key ceremony is left out instead of stalling
// every round until its deadline. During the ceremony every site is eligible.
func (ar *activeRun) keyHolder(site string) bool {
	if ar.sec == nil || ar.sec.pubs == nil {
		return true
	}
	_, ok := ar.sec.pubs[site]
	return ok
}

// sealedDim is the dimension a sealed result of the current phase must have,
// or 0 when it is not known in advance (statistics of a run whose feature
// count is learnt from them).
func (ar *activeRun) sealedDim() int {
	switch ar.round.Phase {
	case PhaseFit:
		return ar.fitDim()
	case PhaseEvaluate:
		extra := secwire.Limbs * len(ar.evalExtra) // fairness and explanation sums, in limbs
		return secwire.CountsLen(ar.cfg.Classes == 2, EvalBins) + extra
	case PhaseStatistics:
		if ar.cfg.Features == 0 {
			return 0
		}
		lc := 0
		if ar.cfg.reweighs() {
			lc = 2 * len(ar.cfg.Fairness.Groups())
		}
		return secwire.Limbs * (3*ar.cfg.Features + lc)
	}
	return 0
}

// fitDim is the length of a fit contribution: [weight·Δ, weight, weight·loss]
// plus the adaptive-clipping indicator when it is on.
func (ar *activeRun) fitDim() int {
	if cd := ar.cfg.DP.clientDP(); cd != nil && cd.Adaptive {
		return len(ar.global) + 3
	}
	return len(ar.global) + 2
}
