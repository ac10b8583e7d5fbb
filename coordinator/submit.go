package coordinator

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/model"
)

// Upload is the header of a result, checked by BeginResult before any payload
// is read, so a replayed or late upload is refused without reading its body.
type Upload struct {
	RunID string
	Round int
	Phase Phase
	Nonce []byte
}

// Expect describes the payload BeginResult admitted.
type Expect struct {
	// Sealed: the payload is a serialised secure-aggregation message
	// (SubmitSealed), not a float vector.
	Sealed bool
	// Values is the expected vector length (plaintext), 0 when not yet known.
	Values int
}

// BeginResult checks that site may submit the result described by u now (right
// run, round and phase, selected, nonce matches the task, before the deadline,
// first submission) and reserves the site's slot. The caller must follow with
// exactly one of SubmitFit, SubmitStatistics, SubmitEvaluation, SubmitSealed or
// AbortResult for the same site. With u.Phase zero, the phase is not checked
// (secure-aggregation uploads name the phase in their payload).
func (e *Engine) BeginResult(site string, u Upload) (Expect, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ar := e.cur
	if ar == nil || ar.round == nil {
		return Expect{}, fmt.Errorf("%w (site %q, run %q round %d)", ErrNoActiveRun, site, u.RunID, u.Round)
	}
	if u.Phase != 0 && ar.round.Phase != u.Phase {
		return Expect{}, fmt.Errorf("%w: got a %s result, round %d is in its %s phase", ErrWrongRound, u.Phase, ar.round.Number, ar.round.Phase)
	}
	if err := ar.round.Begin(site, u.RunID, u.Round, u.Nonce, e.o.Now()); err != nil {
		e.o.Metrics.Results.WithLabelValues(ar.round.Phase.String(), "rejected").Inc()
		return Expect{}, err
	}
	if ar.secure() || ar.round.Phase == PhaseCosign {
		return Expect{Sealed: true}, nil
	}
	switch ar.round.Phase {
	case PhaseFit:
		return Expect{Values: len(ar.global)}, nil
	case PhaseStatistics:
		return Expect{Values: len(ar.statsSum)}, nil // 0 until the first site fixes the length
	}
	return Expect{}, nil
}

// SubmitSealed folds a secure-aggregation message into the open phase: an
// identity, key shares or an acknowledgement during the key ceremony, a
// sealed contribution to a sum, or a decryption share.
func (e *Engine) SubmitSealed(site string, payload []byte) error {
	return e.SubmitSealedFrom(site, payload, nil)
}

// SubmitSealedFrom is SubmitSealed for a transport that knows the DER of
// the certificate the site's connection presented: a co-signature must
// then be made with that very certificate (so a revoked or superseded key
// of the same site cannot co-sign).
func (e *Engine) SubmitSealedFrom(site string, payload, peerCert []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ar, err := e.activeSlot(site)
	if err != nil {
		return err
	}
	if err := e.submitSecAgg(ar, site, payload, peerCert); err != nil {
		return e.reject(ar, site, fmt.Errorf("coordinator: %s result from site %q, round %d: %w", ar.round.Phase, site, ar.round.Number, err))
	}
	if err := ar.round.Accept(site, e.o.Now()); err != nil {
		return err
	}
	e.o.Metrics.Results.WithLabelValues(ar.round.Phase.String(), "accepted").Inc()
	ar.notify()
	return nil
}

// Blob returns a payload of the open phase by name (for DownloadModel).
func (e *Engine) Blob(runID, name string) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ar := e.cur
	if ar == nil || ar.cfg.RunID != runID {
		return nil, fmt.Errorf("%w: run %q", ErrNoActiveRun, runID)
	}
	b, ok := ar.blobs[name]
	if !ok {
		return nil, fmt.Errorf("coordinator: run %q has no payload %q open", runID, name)
	}
	return b, nil
}

// AbortResult releases a slot reserved by BeginResult whose payload could not be
// read or decoded; the site's result counts as rejected for this round.
func (e *Engine) AbortResult(site string, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ar := e.cur; ar != nil && ar.round != nil {
		ar.round.Reject(site, reason)
		kind := audit.KindUpdateRejected
		if ar.round.Phase == PhaseDecrypt {
			kind = audit.KindDecryptShareRefused
		}
		e.noteDetail(kind, ar.cfg.RunID, ar.round.Number, site, site, map[string]any{"phase": ar.round.Phase.String(), "reason": reason})
		ar.notify()
	}
}

// SubmitFit validates a fit result and folds it into the round's aggregate. On
// error the aggregate is unchanged and the site's result is rejected.
func (e *Engine) SubmitFit(site string, res FitResult) error {
	if res.Delta == nil {
		res.Delta = aggregation.Values(nil)
	}
	if res.Digest == nil {
		// The audit log records every update's hash; it is computed before
		// the engine's lock is taken (the gRPC transport has it already).
		d, err := vectorSHA256(res.Delta)
		if err != nil {
			err = fmt.Errorf("coordinator: fit result from site %q: hashing the update: %w", site, err)
			e.AbortResult(site, err.Error())
			return err
		}
		res.Digest = &d
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ar, err := e.activeSlot(site)
	if err != nil {
		return err
	}
	signedExamples := res.NumExamples // the count the site signed (client DP then weighs it 1)
	loss, hasLoss := res.Metrics["loss"]
	if hasLoss && (math.IsNaN(loss) || math.IsInf(loss, 0)) {
		return e.reject(ar, site, fmt.Errorf("coordinator: site %q reported a non-finite training loss %v", site, loss))
	}
	if cd := ar.cfg.DP.clientDP(); cd != nil {
		// Client-level DP: the site clipped its update; enforce the bound
		// (a larger update would break the sensitivity analysis) and weigh it 1.
		norm, err := l2Norm(res.Delta)
		if err != nil {
			return e.reject(ar, site, fmt.Errorf("coordinator: update from site %q, round %d: %w", site, ar.round.Number, err))
		}
		if norm > ar.dp.clip*(1+1e-9) {
			return e.reject(ar, site, fmt.Errorf("coordinator: update from site %q has L2 norm %.6g above the clip bound %g", site, norm, ar.dp.clip))
		}
		b, ok := res.Metrics["dp_unclipped"]
		if cd.Adaptive && (!ok || (b != 0 && b != 1)) {
			return e.reject(ar, site, fmt.Errorf("coordinator: update from site %q lacks the adaptive-clipping indicator (0 or 1), got %v", site, res.Metrics["dp_unclipped"]))
		}
		if err := ar.dp.sum.AddVector(site, res.Delta, 1); err != nil {
			return e.reject(ar, site, fmt.Errorf("coordinator: update from site %q, round %d: %w", site, ar.round.Number, err))
		}
		if cd.Adaptive {
			ar.dp.unclip += b - 0.5
		}
		res.NumExamples = 1
	} else if err := aggregation.AddVector(ar.agg, site, res.Delta, res.NumExamples); err != nil {
		return e.reject(ar, site, fmt.Errorf("coordinator: update from site %q, round %d: %w", site, ar.round.Number, err))
	}
	if err := ar.round.Accept(site, e.o.Now()); err != nil {
		return err // cannot happen while we hold mu and the round is open; see Round.Accept
	}
	detail := map[string]any{"phase": "fit", "update_sha256": hexDigest(*res.Digest), "examples": signedExamples}
	if res.Signature != nil {
		// With the nonce and the site's certificate, the entry lets anyone
		// re-verify the signature (protocol.UpdateSigningDigest).
		detail["signature"] = base64.StdEncoding.EncodeToString(res.Signature)
		detail["nonce"] = hex.EncodeToString(res.Nonce)
	}
	e.noteDetail(audit.KindUpdateReceived, ar.cfg.RunID, ar.round.Number, site, site, detail)
	if hasLoss {
		ar.trainLoss += loss * float64(res.NumExamples)
		ar.trainW += float64(res.NumExamples)
	}
	e.o.Metrics.Results.WithLabelValues("fit", "accepted").Inc()
	ar.notify()
	return nil
}

// SubmitStatistics folds a site's feature moments into the statistics sum.
func (e *Engine) SubmitStatistics(site string, moments []float64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ar, err := e.activeSlot(site)
	if err != nil {
		return err
	}
	lc := 0
	if ar.cfg.reweighs() {
		lc = 2 * len(ar.cfg.Fairness.Groups()) // label counts n(g, y) after the moments
	}
	if len(moments) <= lc || (len(moments)-lc)%3 != 0 {
		return e.reject(ar, site, fmt.Errorf("coordinator: statistics from site %q have length %d, want 3 per feature plus %d label counts: %w", site, len(moments), lc, aggregation.ErrWrongLength))
	}
	if ar.statsSum != nil && len(moments) != len(ar.statsSum) {
		return e.reject(ar, site, fmt.Errorf("coordinator: statistics from site %q have length %d, other sites sent %d (different schema?): %w", site, len(moments), len(ar.statsSum), aggregation.ErrWrongLength))
	}
	if ar.cfg.Features > 0 && len(moments)-lc != 3*ar.cfg.Features {
		return e.reject(ar, site, fmt.Errorf("coordinator: statistics from site %q describe %d features, the run has %d: %w", site, (len(moments)-lc)/3, ar.cfg.Features, aggregation.ErrWrongLength))
	}
	for i := len(moments) - lc; i < len(moments); i++ {
		if moments[i] < 0 || moments[i] != math.Trunc(moments[i]) {
			return e.reject(ar, site, fmt.Errorf("coordinator: statistics from site %q: label count %d is %v, want a non-negative integer", site, i-(len(moments)-lc), moments[i]))
		}
	}
	for i, v := range moments {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return e.reject(ar, site, fmt.Errorf("coordinator: statistics from site %q: value %d is %v: %w", site, i, v, aggregation.ErrNotFinite))
		}
	}
	if ar.statsSum == nil {
		ar.statsSum = make([]float64, len(moments))
	}
	for i, v := range moments {
		ar.statsSum[i] += v
	}
	if err := ar.round.Accept(site, e.o.Now()); err != nil {
		return err
	}
	e.o.Metrics.Results.WithLabelValues("statistics", "accepted").Inc()
	ar.notify()
	return nil
}

// SubmitEvaluation folds a site's evaluation counts, and the fairness and
// explanation sums the task asked for (extra), into the round's totals.
func (e *Engine) SubmitEvaluation(site string, c EvalResult, extra []float64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ar, err := e.activeSlot(site)
	if err != nil {
		return err
	}
	if err := validCounts(c); err != nil {
		return e.reject(ar, site, fmt.Errorf("coordinator: evaluation from site %q: %w", site, err))
	}
	if len(extra) != len(ar.evalExtra) {
		return e.reject(ar, site, fmt.Errorf("coordinator: evaluation from site %q carries %d fairness/explanation values, the task asked for %d: %w", site, len(extra), len(ar.evalExtra), aggregation.ErrWrongLength))
	}
	for i, v := range extra {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return e.reject(ar, site, fmt.Errorf("coordinator: evaluation from site %q: fairness/explanation value %d is %v: %w", site, i, v, aggregation.ErrNotFinite))
		}
	}
	if spec := ar.cfg.fairSpec(); spec != nil {
		for i, v := range extra[:protocol.AuditLen(*spec)] {
			if v < 0 {
				return e.reject(ar, site, fmt.Errorf("coordinator: evaluation from site %q: fairness count %d is negative (%v)", site, i, v))
			}
		}
	}
	ar.evalSum.Add(c)
	for i, v := range extra {
		ar.evalExtra[i] += v
	}
	if err := ar.round.Accept(site, e.o.Now()); err != nil {
		return err
	}
	e.o.Metrics.Results.WithLabelValues("evaluate", "accepted").Inc()
	ar.notify()
	return nil
}

// vectorSHA256 is protocol.ValuesSHA256 of v's values, read in chunks.
func vectorSHA256(v aggregation.Vector) ([32]byte, error) {
	var h protocol.ValuesHash
	err := v.Chunks(func(_ int, chunk []float64) error {
		h.Write(chunk)
		return nil
	})
	return h.Sum(), err
}

// l2Norm returns the Euclidean norm of v.
func l2Norm(v aggregation.Vector) (float64, error) {
	var ss float64
	err := v.Chunks(func(_ int, chunk []float64) error {
		for _, x := range chunk {
			ss += x * x
		}
		return nil
	})
	return math.Sqrt(ss), err
}

func validCounts(c model.Counts) error {
	if c.N < 0 || c.Correct < 0 || c.Correct > c.N {
		return fmt.Errorf("counts out of range: n=%d correct=%d", c.N, c.Correct)
	}
	if math.IsNaN(c.LossSum) || math.IsInf(c.LossSum, 0) || c.LossSum < 0 {
		return fmt.Errorf("loss sum %v is not a finite non-negative number: %w", c.LossSum, aggregation.ErrNotFinite)
	}
	if len(c.PosHist) == 0 && len(c.NegHist) == 0 {
		return nil // multi-class models report no score histograms
	}
	if len(c.PosHist) != EvalBins || len(c.NegHist) != EvalBins {
		return fmt.Errorf("score histograms have %d and %d bins, want %d: %w", len(c.PosHist), len(c.NegHist), EvalBins, aggregation.ErrWrongLength)
	}
	var total float64
	for i := range c.PosHist {
		p, n := c.PosHist[i], c.NegHist[i]
		if !(p >= 0 && n >= 0) || math.IsInf(p, 0) || math.IsInf(n, 0) {
			return fmt.Errorf("histogram bin %d holds %v/%v, want finite non-negative counts", i, p, n)
		}
		total += p + n
	}
	if math.Abs(total-float64(c.N)) > 0.5 {
		return fmt.Errorf("histograms hold %v examples but n=%d", total, c.N)
	}
	return nil
}

// activeSlot returns the active run if site holds an active slot in it.
func (e *Engine) activeSlot(site string) (*activeRun, error) {
	ar := e.cur
	if ar == nil || ar.round == nil {
		return nil, ErrNoActiveRun
	}
	if ar.round.Closed() {
		return nil, fmt.Errorf("%w: run %q round %d", ErrRoundClosed, ar.cfg.RunID, ar.round.Number)
	}
	return ar, nil
}

func (e *Engine) reject(ar *activeRun, site string, err error) error {
	ar.round.Reject(site, err.Error())
	e.noteDetail(audit.KindUpdateRejected, ar.cfg.RunID, ar.round.Number, site, site, map[string]any{"phase": ar.round.Phase.String(), "reason": err.Error()})
	e.o.Metrics.Results.WithLabelValues(ar.round.Phase.String(), "rejected").Inc()
	e.log.Warn("result rejected", "site", site, "round", ar.round.Number, "phase", ar.round.Phase, "err", err)
	ar.notify()
	return err
}

// SiteGone tells the engine that site disconnected, so the open round stops
// waiting for it.
func (e *Engine) SiteGone(site string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ar := e.cur; ar != nil && ar.round != nil {
		ar.round.Drop(site, "disconnected")
		ar.notify()
	}
}

// Params returns the parameters of model version v of run runID, and a
// function the caller must call once it is done with them (it may be
// called more than once). The current global model is served from memory,
// under a reference that keeps it valid even if the next round replaces
// it meanwhile; older versions come from the store. The slice must not be
// modified.
func (e *Engine) Params(ctx context.Context, runID string, v int) ([]float64, func(), error) {
	e.mu.Lock()
	ar := e.cur
	if ar != nil && ar.cfg.RunID == runID && ar.version == v && ar.model != nil {
		ref := ar.model.Retain()
		e.mu.Unlock()
		var once sync.Once
		return ref.Values(), func() { once.Do(ref.Release) }, nil
	}
	e.mu.Unlock()
	mv, err := e.o.Store.GetModel(ctx, runID, v)
	if err != nil {
		return nil, nil, fmt.Errorf("coordinator: model %d of run %q: %w", v, runID, err)
	}
	return mv.Params, func() {}, nil
}

// ActiveRun returns the id of the run in progress, if any.
func (e *Engine) ActiveRun() (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur == nil {
		return "", false
	}
	return e.cur.cfg.RunID, true
}

func seededRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }
