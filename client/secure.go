package client

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cohortfl/cohort/internal/secwire"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/site"
)

// Credentials bind a site's secure-aggregation keys to its TLS certificate.
// Signer is the certificate's private key, Certificate its DER encoding and
// Roots the consortium CA that every other site's certificate must chain to.
type Credentials struct {
	Signer      crypto.Signer
	Certificate []byte
	Roots       *x509.CertPool
}

type epochKey struct {
	run   string
	epoch uint64
}

// secureSite is a site's secure-aggregation state: one identity and one party
// per key epoch. Every secret of the threshold scheme lives here and nowhere
// in the coordinator.
type secureSite struct {
	name  string
	creds Credentials

	mu         sync.Mutex
	identities map[epochKey]*site.Identity
	parties    map[epochKey]*site.Party
	params     map[epochKey]secagg.Params
}

func newSecureSite(name string, creds Credentials) *secureSite {
	return &secureSite{name: name, creds: creds, identities: map[epochKey]*site.Identity{},
		parties: map[epochKey]*site.Party{}, params: map[epochKey]secagg.Params{}}
}

func secMsg(m *cohortv1.SecAggMessage) ([]byte, error) { return secwire.Marshal(m) }

// register creates the site's identity for an epoch and binds it to the certificate.
func (s *secureSite) register(run string, epoch uint64) ([]byte, error) {
	if s.creds.Signer == nil {
		return nil, errors.New("client: secure aggregation needs the site's certificate and key to bind its identity")
	}
	id, err := site.NewIdentity()
	if err != nil {
		return nil, err
	}
	pub := id.Public()
	bound, err := secwire.Bind(s.creds.Signer, s.creds.Certificate, run, epoch, pub.KEM, pub.Verify)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.identities[epochKey{run, epoch}] = id
	s.mu.Unlock()
	return secMsg(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_Identity{Identity: bound}})
}

// shares checks the roster, joins the epoch and returns the site's public-key
// share and Shamir envelopes.
func (s *secureSite) shares(blob []byte) ([]byte, error) {
	m, err := secwire.Unmarshal(blob)
	if err != nil {
		return nil, err
	}
	r := m.GetRoster()
	if r == nil {
		return nil, errors.New("client: key-ceremony task carries no roster")
	}
	key := epochKey{r.RunId, r.Epoch}
	s.mu.Lock()
	id := s.identities[key]
	s.mu.Unlock()
	if id == nil {
		return nil, fmt.Errorf("client: roster for run %q epoch %d, but this site did not register for it", r.RunId, r.Epoch)
	}
	var sp secwire.Params
	if err := json.Unmarshal([]byte(r.ParamsJson), &sp); err != nil {
		return nil, fmt.Errorf("client: roster parameters: %w", err)
	}
	params, err := secagg.NewParams(sp.Literal)
	if err != nil {
		return nil, fmt.Errorf("client: roster parameters rejected: %w", err)
	}
	e := secagg.Epoch{RunID: r.RunId, Epoch: r.Epoch, Threshold: int(r.Threshold), MinClients: int(r.MinClients)}
	for _, mem := range r.Members {
		if err := secwire.VerifyBinding(mem.Identity, mem.Id, r.RunId, r.Epoch, s.creds.Roots, time.Now()); err != nil {
			return nil, fmt.Errorf("client: roster member %q: %w", mem.Id, err)
		}
		e.Members = append(e.Members, secagg.Member{ID: mem.Id,
			Public: secagg.PublicIdentity{KEM: mem.Identity.KemPublic, Verify: mem.Identity.VerifyPublic}})
	}
	if i := e.Index(s.name); i < 0 || !e.Members[i].Public.Equal(id.Public()) {
		return nil, fmt.Errorf("client: the roster does not list this site (%q) with its own keys", s.name)
	}
	p, err := site.NewParty(params, e, s.name, id)
	if err != nil {
		return nil, err
	}
	envs, err := p.ShamirEnvelopes()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.parties[key], s.params[key] = p, params
	s.mu.Unlock()
	out := &cohortv1.SecAggSharesMsg{PublicKeyShare: secwire.PublicKeyShareToProto(p.PublicKeyShare())}
	for _, env := range envs {
		out.Envelopes = append(out.Envelopes, secwire.EnvelopeToProto(env))
	}
	return secMsg(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_Shares{Shares: out}})
}

func (s *secureSite) party(run string, epoch uint64) (*site.Party, secagg.Params, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.parties[epochKey{run, epoch}]
	if !ok {
		return nil, secagg.Params{}, fmt.Errorf("client: no key material for run %q epoch %d (did this site restart since the key ceremony?)", run, epoch)
	}
	return p, s.params[epochKey{run, epoch}], nil
}

// finish opens the site's Shamir envelopes and accepts the collective key
// after recomputing it from every member's signed share.
func (s *secureSite) finish(run string, epoch uint64, blob []byte) ([]byte, error) {
	m, err := secwire.Unmarshal(blob)
	if err != nil {
		return nil, err
	}
	f := m.GetFinish()
	if f == nil {
		return nil, errors.New("client: key-ceremony finish task carries no key material")
	}
	p, _, err := s.party(run, epoch)
	if err != nil {
		return nil, err
	}
	var envs []secagg.Envelope
	for _, e := range f.Envelopes {
		envs = append(envs, secwire.EnvelopeFromProto(e))
	}
	if err := p.OpenEnvelopes(envs); err != nil {
		return nil, err
	}
	var shares []secagg.PublicKeyShare
	for _, sh := range f.PublicKeyShares {
		shares = append(shares, secwire.PublicKeyShareFromProto(sh))
	}
	if err := p.AcceptPublicKey(secagg.PublicKey{RunID: run, Epoch: epoch, Key: f.PublicKey}, shares); err != nil {
		return nil, err
	}
	return secMsg(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_Ack{Ack: &cohortv1.SecAggAck{ThresholdReady: p.ThresholdReady()}}})
}

// seal encrypts vec for the secure sum of secRound.
func (s *secureSite) seal(run string, epoch, secRound uint64, vec []float64) ([]byte, error) {
	p, _, err := s.party(run, epoch)
	if err != nil {
		return nil, err
	}
	c, err := p.Seal(vec, secRound)
	if err != nil {
		return nil, fmt.Errorf("client: refusing to upload: %w", err)
	}
	return secMsg(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_Contribution{Contribution: secwire.ContributionToProto(c)}})
}

// decrypt produces this site's decryption share, or refuses (secagg.ErrRefused)
// if the request is not provably a sum of enough distinct signed contributions.
func (s *secureSite) decrypt(run string, epoch uint64, blob []byte) ([]byte, error) {
	m, err := secwire.Unmarshal(blob)
	if err != nil {
		return nil, err
	}
	req, err := secwire.DecryptRequestFromProto(m.GetDecryptRequest())
	if err != nil {
		return nil, err
	}
	p, _, err := s.party(run, epoch)
	if err != nil {
		return nil, err
	}
	share, err := p.DecryptShare(req)
	if err != nil {
		return nil, err
	}
	return secMsg(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_DecryptionShare{DecryptionShare: secwire.DecryptionShareToProto(share)}})
}

// clipBound returns the per-coordinate bound of the epoch's encoding.
func (s *secureSite) clipBound(run string, epoch uint64) (float64, error) {
	_, params, err := s.party(run, epoch)
	if err != nil {
		return 0, err
	}
	return params.Encoding().ClipBound, nil
}
