package hub

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/internal/he"
	"github.com/cohortfl/cohort/secagg/internal/verify"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

// Accumulator keeps the running homomorphic sum of one round. Add folds
// each accepted contribution into a single running sum of
// ceil(dim/N) ciphertexts. It also retains each accepted signed
// contribution, because the decryptors must be shown them to verify that
// the aggregate is a sum of at least MinClients inputs (see
// DecryptRequest and doc.go for the memory trade-off). It is safe for
// concurrent use: verification and parsing run outside the lock, only the
// ring additions are serialised.
type Accumulator struct {
	params secagg.Params
	ctx    *he.Context
	epoch  secagg.Epoch
	round  uint64
	dim    int

	mu       sync.Mutex
	sum      []*rlwe.Ciphertext
	nonces   map[string]bool
	from     map[string]bool
	receipts []secagg.Receipt
	kept     []secagg.Contribution
}

// NewAccumulator returns an empty accumulator for round of epoch e, for
// vectors of dimension dim.
func NewAccumulator(params secagg.Params, e secagg.Epoch, round uint64, dim int) (*Accumulator, error) {
	ctx, err := he.Of(params)
	if err != nil {
		return nil, fmt.Errorf("hub: %w: %w", secagg.ErrBadParams, err)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	if dim <= 0 {
		return nil, fmt.Errorf("hub: %w: dimension %d", secagg.ErrBadInput, dim)
	}
	a := &Accumulator{params: params, ctx: ctx, epoch: e, round: round, dim: dim,
		nonces: map[string]bool{}, from: map[string]bool{}}
	a.sum = make([]*rlwe.Ciphertext, params.Ciphertexts(dim))
	for i := range a.sum {
		a.sum[i] = ctx.NewZeroCiphertext()
	}
	return a, nil
}

// Add verifies c and adds it to the running sum. from is the sender as
// authenticated by the transport and senderPub its certificate-bound
// identity; both must match the epoch roster and c. Add rejects, with a
// wrapped sentinel naming the sender: a sender or key not in the roster or
// not matching c.From (ErrBinding); a contribution for another run, epoch
// or round (ErrBinding); a bad signature (ErrBadSignature); a wrong
// dimension, nonce size or malformed ciphertext (ErrMalformed); a nonce
// already seen or a second contribution from the same sender
// (ErrReplay). A rejected contribution leaves the sum unchanged.
func (a *Accumulator) Add(from string, c secagg.Contribution, senderPub secagg.PublicIdentity) error {
	if from != c.From {
		return fmt.Errorf("hub: %w: contribution claims sender %q but arrived from %q", secagg.ErrBinding, c.From, from)
	}
	idx := a.epoch.Index(from)
	if idx < 0 || !a.epoch.Members[idx].Public.Equal(senderPub) {
		return fmt.Errorf("hub: %w: %q with this key is not a member of epoch %d", secagg.ErrBinding, from, a.epoch.Epoch)
	}
	if err := a.checkFresh(c); err != nil {
		return err
	}
	cts, err := verify.Contribution(a.ctx, a.epoch, a.round, a.dim, c)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.checkFreshLocked(c); err != nil {
		return err
	}
	for i, ct := range cts {
		a.ctx.Add(a.sum[i], ct)
	}
	a.nonces[string(c.Nonce)] = true
	a.from[c.From] = true
	a.receipts = append(a.receipts, c.Receipt())
	a.kept = append(a.kept, cloneContribution(c))
	return nil
}

func (a *Accumulator) checkFresh(c secagg.Contribution) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.checkFreshLocked(c)
}

func (a *Accumulator) checkFreshLocked(c secagg.Contribution) error {
	if a.nonces[string(c.Nonce)] {
		return fmt.Errorf("hub: %w: nonce from %q already used in round %d", secagg.ErrReplay, c.From, a.round)
	}
	if a.from[c.From] {
		return fmt.Errorf("hub: %w: %q already contributed to round %d", secagg.ErrReplay, c.From, a.round)
	}
	return nil
}

// Len is the number of accepted contributions.
func (a *Accumulator) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.kept)
}

// Contributors returns the accepted senders, sorted.
func (a *Accumulator) Contributors() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.from))
	for f := range a.from {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// Receipts returns the small public record (sender, nonce, ciphertext
// hash, signature) of every accepted contribution, in acceptance order.
func (a *Accumulator) Receipts() []secagg.Receipt {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.receipts)
}

// Aggregate returns the serialized running sum.
func (a *Accumulator) Aggregate() ([][]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.aggregateLocked()
}

func (a *Accumulator) aggregateLocked() ([][]byte, error) {
	out := make([][]byte, len(a.sum))
	for i, ct := range a.sum {
		b, err := he.Marshal(ct)
		if err != nil {
			return nil, fmt.Errorf("hub: %w", err)
		}
		out[i] = b
	}
	return out, nil
}

// DecryptRequest freezes the current sum into a request for the given
// active set (strictly increasing member indices, exactly t of them; see
// ActiveSet). Every decryptor must receive the same request. It fails with
// ErrState if fewer than MinClients contributions were accepted, since every
// site would refuse.
func (a *Accumulator) DecryptRequest(active []int) (secagg.DecryptRequest, error) {
	if err := a.epoch.ValidActiveSet(active); err != nil {
		return secagg.DecryptRequest{}, fmt.Errorf("hub: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.kept) < a.epoch.MinClients {
		return secagg.DecryptRequest{}, fmt.Errorf("hub: %w: %d contributions, sites require at least %d", secagg.ErrState, len(a.kept), a.epoch.MinClients)
	}
	agg, err := a.aggregateLocked()
	if err != nil {
		return secagg.DecryptRequest{}, err
	}
	kept := make([]secagg.Contribution, len(a.kept))
	for i, c := range a.kept {
		kept[i] = cloneContribution(c)
	}
	return secagg.DecryptRequest{
		RunID: a.epoch.RunID, Epoch: a.epoch.Epoch, Round: a.round, Dim: a.dim,
		Active: slices.Clone(active), Aggregate: agg, Contributions: kept,
	}, nil
}

// ActiveSet picks the decryptors: the first t members of e (in epoch
// order) among online, as sorted member indices.
func ActiveSet(e secagg.Epoch, online []string) ([]int, error) {
	var out []int
	for i, m := range e.Members {
		if slices.Contains(online, m.ID) {
			out = append(out, i)
			if len(out) == e.Threshold {
				return out, nil
			}
		}
	}
	return nil, fmt.Errorf("hub: %w: %d of the t=%d decryptors needed are online", secagg.ErrNotEnoughShares, len(out), e.Threshold)
}

func cloneContribution(c secagg.Contribution) secagg.Contribution {
	c.Nonce = bytes.Clone(c.Nonce)
	c.Signature = bytes.Clone(c.Signature)
	cts := make([][]byte, len(c.Ciphertexts))
	for i, b := range c.Ciphertexts {
		cts[i] = bytes.Clone(b)
	}
	c.Ciphertexts = cts
	return c
}
