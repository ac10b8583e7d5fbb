package coordinator

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Sentinel errors of the round state machine. The server maps them to gRPC codes.
var (
	ErrNotSelected  = errors.New("coordinator: site was not selected for this round")
	ErrRoundClosed  = errors.New("coordinator: round is closed")
	ErrLate         = errors.New("coordinator: result arrived after the round deadline")
	ErrBadNonce     = errors.New("coordinator: nonce does not match the task (replayed or forged upload)")
	ErrAlreadySent  = errors.New("coordinator: site already submitted a result for this round")
	ErrWrongRound   = errors.New("coordinator: result is for another run or round")
	ErrTooFewClient = errors.New("coordinator: fewer results than min_clients")
)

// Phase is what a round is collecting.
type Phase int

// Phases of a round. A run goes Statistics (once, optional) → then for each
// round Fit → Evaluate.
const (
	PhaseStatistics Phase = iota + 1
	PhaseFit
	PhaseEvaluate
	// Secure aggregation: the three steps of the key ceremony and threshold decryption.
	PhaseKeygenRegister
	PhaseKeygenShares
	PhaseKeygenFinish
	PhaseDecrypt
	// Publication: participating sites co-sign the model version.
	PhaseCosign
)

func (p Phase) String() string {
	switch p {
	case PhaseStatistics:
		return "statistics"
	case PhaseFit:
		return "fit"
	case PhaseEvaluate:
		return "evaluate"
	case PhaseKeygenRegister:
		return "keygen-register"
	case PhaseKeygenShares:
		return "keygen-shares"
	case PhaseKeygenFinish:
		return "keygen-finish"
	case PhaseDecrypt:
		return "decrypt"
	case PhaseCosign:
		return "cosign"
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// SlotState is the state of one selected site within a round.
type SlotState int

// States of a slot.
const (
	SlotPending  SlotState = iota // task sent, no result yet
	SlotActive                    // result is being received
	SlotAccepted                  // result folded into the aggregate
	SlotRejected                  // result refused (invalid)
	SlotDropped                   // no result before the deadline
)

func (s SlotState) String() string {
	return [...]string{"pending", "active", "accepted", "rejected", "dropped"}[s]
}

type slot struct {
	nonce  []byte
	state  SlotState
	reason string
}

// Round is the state machine of one phase of one round. It does no I/O and
// reads no clock: callers pass the time in, so it is deterministic and can be
// tested exhaustively. It is not safe for concurrent use; the engine guards it.
type Round struct {
	RunID      string
	Number     int
	Attempt    int
	Phase      Phase
	Deadline   time.Time
	MinResults int

	slots  map[string]*slot
	order  []string
	closed bool
}

// NewRound opens a round for the selected sites. nonces[i] is the task nonce
// sent to selected[i]; every upload must echo it.
func NewRound(runID string, number, attempt int, phase Phase, selected []string, nonces [][]byte, deadline time.Time, minResults int) (*Round, error) {
	if len(selected) != len(nonces) {
		return nil, fmt.Errorf("coordinator: %d sites but %d nonces", len(selected), len(nonces))
	}
	r := &Round{RunID: runID, Number: number, Attempt: attempt, Phase: phase, Deadline: deadline,
		MinResults: minResults, slots: make(map[string]*slot, len(selected))}
	for i, s := range selected {
		if _, dup := r.slots[s]; dup {
			return nil, fmt.Errorf("coordinator: site %q selected twice", s)
		}
		r.slots[s] = &slot{nonce: nonces[i]}
		r.order = append(r.order, s)
	}
	return r, nil
}

// Begin checks that site may submit a result now and marks its slot active. The
// caller then validates and folds the result and calls Accept or Reject.
func (r *Round) Begin(site, runID string, number int, nonce []byte, now time.Time) error {
	if runID != r.RunID || number != r.Number {
		return fmt.Errorf("%w: got run %q round %d, open is run %q round %d (%s)", ErrWrongRound, runID, number, r.RunID, r.Number, r.Phase)
	}
	if r.closed {
		return fmt.Errorf("%w: run %q round %d (%s)", ErrRoundClosed, r.RunID, r.Number, r.Phase)
	}
	s, ok := r.slots[site]
	if !ok {
		return fmt.Errorf("%w: site %q, round %d", ErrNotSelected, site, r.Number)
	}
	if !bytes.Equal(s.nonce, nonce) {
		return fmt.Errorf("%w: site %q, round %d", ErrBadNonce, site, r.Number)
	}
	if now.After(r.Deadline) {
		return fmt.Errorf("%w: site %q, round %d, deadline %s", ErrLate, site, r.Number, r.Deadline.Format(time.RFC3339Nano))
	}
	if s.state != SlotPending {
		return fmt.Errorf("%w: site %q, round %d (%s)", ErrAlreadySent, site, r.Number, s.state)
	}
	s.state = SlotActive
	return nil
}

// Accept records that site's active result was folded into the aggregate. If
// the round closed meanwhile (deadline), the result is refused with ErrLate and
// the caller must not count it.
func (r *Round) Accept(site string, now time.Time) error {
	s, ok := r.slots[site]
	if !ok || s.state != SlotActive {
		return fmt.Errorf("coordinator: accept of site %q without an active result", site)
	}
	if r.closed || now.After(r.Deadline) {
		s.state, s.reason = SlotDropped, "late"
		return fmt.Errorf("%w: site %q, round %d", ErrLate, site, r.Number)
	}
	s.state = SlotAccepted
	return nil
}

// Reject records that site's result was refused, with the reason.
func (r *Round) Reject(site, reason string) {
	if s, ok := r.slots[site]; ok && (s.state == SlotActive || s.state == SlotPending) {
		s.state, s.reason = SlotRejected, reason
	}
}

// Drop marks a pending site as gone (disconnected) so the round need not wait.
func (r *Round) Drop(site, reason string) {
	if s, ok := r.slots[site]; ok && s.state == SlotPending {
		s.state, s.reason = SlotDropped, reason
	}
}

// Settled reports whether every selected site has a final state, so the round
// can close before its deadline.
func (r *Round) Settled() bool {
	for _, s := range r.slots {
		if s.state == SlotPending || s.state == SlotActive {
			return false
		}
	}
	return true
}

// Close ends the round at now: pending and active sites are dropped. It returns
// nil when at least MinResults results were accepted, else ErrTooFewClient.
// Close is idempotent.
func (r *Round) Close(now time.Time) error {
	if !r.closed {
		r.closed = true
		for _, s := range r.slots {
			if s.state == SlotPending || s.state == SlotActive {
				s.state, s.reason = SlotDropped, "no result before the deadline"
			}
		}
	}
	if n := r.Count(SlotAccepted); n < r.MinResults {
		return fmt.Errorf("%w: round %d (%s) accepted %d of %d selected, need %d", ErrTooFewClient, r.Number, r.Phase, n, len(r.slots), r.MinResults)
	}
	return nil
}

// Closed reports whether Close was called.
func (r *Round) Closed() bool { return r.closed }

// Count returns how many slots are in state st.
func (r *Round) Count(st SlotState) int {
	n := 0
	for _, s := range r.slots {
		if s.state == st {
			n++
		}
	}
	return n
}

// SlotInfo is a read-only view of one slot.
type SlotInfo struct {
	Site   string
	State  SlotState
	Reason string
}

// Slots returns the slots in site order.
func (r *Round) Slots() []SlotInfo {
	out := make([]SlotInfo, 0, len(r.order))
	for _, site := range r.order {
		s := r.slots[site]
		out = append(out, SlotInfo{Site: site, State: s.state, Reason: s.reason})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Site < out[j].Site })
	return out
}

// Selected reports whether site is part of the round.
func (r *Round) Selected(site string) bool { _, ok := r.slots[site]; return ok }
