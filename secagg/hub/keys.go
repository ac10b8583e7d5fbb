package hub

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/internal/he"
	"github.com/cohortfl/cohort/secagg/internal/verify"
)

// AggregatePublicKey checks one signed public-key share per member of e
// and returns the collective public key. The hub then sends the key and
// all the shares to every site, which recomputes the sum itself
// (site.Party.AcceptPublicKey).
func AggregatePublicKey(params secagg.Params, e secagg.Epoch, shares []secagg.PublicKeyShare) (secagg.PublicKey, error) {
	ctx, err := he.Of(params)
	if err != nil {
		return secagg.PublicKey{}, fmt.Errorf("hub: %w: %w", secagg.ErrBadParams, err)
	}
	if err := e.Validate(); err != nil {
		return secagg.PublicKey{}, fmt.Errorf("hub: %w", err)
	}
	pk, err := verify.PublicKey(ctx, e, shares)
	if err != nil {
		return secagg.PublicKey{}, fmt.Errorf("hub: %w", err)
	}
	b, err := pk.MarshalBinary()
	if err != nil {
		return secagg.PublicKey{}, fmt.Errorf("hub: encode public key: %w", err)
	}
	return secagg.PublicKey{RunID: e.RunID, Epoch: e.Epoch, Key: b}, nil
}

// Relay is the hub's mailbox for Shamir-share envelopes. It checks the
// routing fields (members of the epoch, one envelope per ordered pair, no
// self-addressed envelope) and never opens the sealed bytes. It is safe for
// concurrent use.
type Relay struct {
	mu    sync.Mutex
	epoch secagg.Epoch
	boxes map[string][]secagg.Envelope
	seen  map[[2]string]bool
}

// NewRelay returns an empty relay for epoch e.
func NewRelay(e secagg.Epoch) (*Relay, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	return &Relay{epoch: e, boxes: map[string][]secagg.Envelope{}, seen: map[[2]string]bool{}}, nil
}

// Post accepts envelopes for delivery. Either all are accepted or none.
func (r *Relay) Post(envs ...secagg.Envelope) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	batch := map[[2]string]bool{}
	for _, env := range envs {
		if env.RunID != r.epoch.RunID || env.Epoch != r.epoch.Epoch {
			return fmt.Errorf("hub: %w: envelope for run %q epoch %d", secagg.ErrBinding, env.RunID, env.Epoch)
		}
		if r.epoch.Index(env.From) < 0 || r.epoch.Index(env.To) < 0 || env.From == env.To {
			return fmt.Errorf("hub: %w: envelope %q→%q is not between two members", secagg.ErrBinding, env.From, env.To)
		}
		k := [2]string{env.From, env.To}
		if r.seen[k] || batch[k] {
			return fmt.Errorf("hub: %w: second envelope %q→%q", secagg.ErrReplay, env.From, env.To)
		}
		batch[k] = true
	}
	for _, env := range envs {
		r.seen[[2]string{env.From, env.To}] = true
		env.Ciphertext = bytes.Clone(env.Ciphertext)
		r.boxes[env.To] = append(r.boxes[env.To], env)
	}
	return nil
}

// Inbox returns (a copy of) the envelopes addressed to member to.
func (r *Relay) Inbox(to string) []secagg.Envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]secagg.Envelope, len(r.boxes[to]))
	for i, e := range r.boxes[to] {
		e.Ciphertext = bytes.Clone(e.Ciphertext)
		out[i] = e
	}
	return out
}

// Complete reports whether every member has posted an envelope for every
// other member.
func (r *Relay) Complete() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.epoch.Members)
	return len(r.seen) == n*(n-1)
}
