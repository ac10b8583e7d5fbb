package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/internal/offheap"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/model"
)

// phaseOpts describe one phase to play.
type phaseOpts struct {
	phase          Phase
	round, attempt int
	// sites to task; nil selects a cohort (fit) or, with allConnected, every
	// connected site.
	sites        []string
	allConnected bool
	minResults   int
	// blob names the payload each site downloads ("" for none).
	blob func(site string) string
	// explainRows asks each site of an evaluate phase to explain that many
	// held-out records (the publication audit).
	explainRows int
}

// playPhase opens one phase of one round, dispatches tasks, waits until every
// selected site has answered or the deadline passes, and closes it. The record
// it returns lists every selected site and what became of it.
func (e *Engine) playPhase(ctx context.Context, ar *activeRun, o phaseOpts) (store.RoundRecord, error) {
	cfg := ar.cfg
	phase, r, attempt := o.phase, o.round, o.attempt
	rec := store.RoundRecord{RunID: cfg.RunID, Round: r, Attempt: attempt, StartedAt: e.o.Now()}
	selected := o.sites
	if selected == nil {
		available, err := e.waitForSites(ctx, o.minResults, time.Duration(cfg.WaitForClients), ar.keyHolder)
		if err != nil {
			rec.EndedAt = e.o.Now()
			return rec, err
		}
		selected = available
		if !o.allConnected {
			if selected, err = SelectCohort(available, cfg.FractionFit, cfg.MinClients, cfg.Seed, r, attempt); err != nil {
				return rec, err
			}
		}
	}
	nonces := make([][]byte, len(selected))
	for i := range nonces {
		nonces[i] = make([]byte, 16)
		if _, err := io.ReadFull(e.o.Rand, nonces[i]); err != nil {
			return rec, fmt.Errorf("coordinator: generating nonce: %w", err)
		}
	}
	deadline := e.o.Now().Add(time.Duration(cfg.RoundTimeout))
	round, err := NewRound(cfg.RunID, r, attempt, phase, selected, nonces, deadline, o.minResults)
	if err != nil {
		return rec, err
	}

	var scratch *tempFile
	if phase == PhaseFit && !ar.secure() {
		if scratch, err = e.newScratch(len(ar.global)); err != nil {
			return rec, err
		}
	}

	e.mu.Lock()
	ar.round = round
	switch phase {
	case PhaseFit:
		ar.agg = nil
		ar.dropScratch()
		ar.scratch = scratch
		if cfg.DP.clientDP() != nil && !ar.secure() {
			ar.dp.sum = newSum(len(ar.global), scratch)
		} else if !ar.secure() {
			ar.agg = ar.strategy.NewAggregator(r, ar.global)
			if sp, ok := ar.agg.(aggregation.Spiller); ok && scratch != nil {
				if err := sp.Spill(scratch); err != nil {
					e.mu.Unlock()
					return rec, fmt.Errorf("coordinator: round %d: %w", r, err)
				}
			}
		}
		ar.trainLoss, ar.trainW = 0, 0
	case PhaseStatistics:
		ar.statsSum = nil
	case PhaseEvaluate:
		ar.evalSum = model.Counts{PosHist: make([]float64, EvalBins), NegHist: make([]float64, EvalBins)}
		ar.evalExtra = make([]float64, evalExtraLen(cfg, o.explainRows))
	}
	if ar.secure() && (phase == PhaseFit || phase == PhaseStatistics || phase == PhaseEvaluate) {
		ar.sec.acc = nil
	}
	version, global := ar.version, ar.global
	blobs := ar.blobs
	e.mu.Unlock()

	fitCfg := ar.strategy.ConfigureFit(r)
	for i, site := range selected {
		t := Task{RunID: cfg.RunID, Round: r, Phase: phase, Nonce: nonces[i], ModelVersion: version,
			NumParams: len(global), Deadline: deadline, Config: protocol.TaskConfig{
				Model: cfg.Model, Hidden: cfg.Hidden, Classes: cfg.Classes, Features: cfg.Features,
				Epochs: cfg.LocalEpochs, BatchSize: cfg.BatchSize, LearningRate: cfg.LearningRate,
				Optimizer: cfg.Optimizer, L2: cfg.L2, ProximalMu: fitCfg.ProximalMu,
				Seed: siteSeed(cfg.Seed, site, r, attempt), Moments: cfg.FeatureMoments,
			}}
		if cd := cfg.DP.clientDP(); cd != nil && phase == PhaseFit {
			t.Config.ClientClip = ar.dp.clip
			if cd.Mode == DPDistributed {
				t.Config.ClientNoiseStd = ar.dp.sigma * ar.dp.clip / math.Sqrt(float64(cfg.MinClients))
			}
			if cd.Adaptive {
				t.Config.ClientAdaptive = 1
				if cd.Mode == DPDistributed {
					t.Config.ClientCountNoiseStd = ar.dp.sigmaB / math.Sqrt(float64(cfg.MinClients))
				}
			}
		}
		if rd := cfg.DP.recordDP(); rd != nil && phase == PhaseFit {
			t.Config.RecordClip, t.Config.RecordSigma, t.Config.RecordQ = rd.Clip, ar.dp.rsigma, ar.dp.rq
		}
		if spec := cfg.fairSpec(); spec != nil {
			t.Config.Fairness = spec
			switch phase {
			case PhaseStatistics:
				t.Config.FairLabelCounts = cfg.reweighs()
			case PhaseFit:
				if cfg.reweighs() {
					t.Config.FairWeights = cfg.Fairness.Weights
				}
			case PhaseEvaluate:
				t.Config.FairAudit = true
			}
		}
		if phase == PhaseEvaluate {
			t.Config.ExplainRows = o.explainRows
		}
		if ar.secure() {
			t.Config.Secure, t.Config.SecAggEpoch = true, 1
			t.Config.SecAggRound = secRound(r, attempt, phase == PhaseEvaluate)
		}
		if o.blob != nil {
			t.Blob = o.blob(site)
			t.BlobBytes = len(blobs[t.Blob])
		}
		if err := e.o.Dispatcher.Dispatch(site, t); err != nil {
			e.log.Warn("dispatch failed", "site", site, "round", r, "phase", phase, "err", err)
			e.mu.Lock()
			round.Drop(site, "dispatch failed: "+err.Error())
			e.mu.Unlock()
		}
	}

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
wait:
	for {
		e.mu.Lock()
		settled := round.Settled()
		e.mu.Unlock()
		if settled {
			break
		}
		select {
		case <-ar.wake:
		case <-timer.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	e.mu.Lock()
	closeErr := round.Close(e.o.Now())
	slots := round.Slots()
	e.mu.Unlock()
	rec.EndedAt = e.o.Now()
	announced := e.announcedExamples()
	for _, s := range slots {
		rec.Participants = append(rec.Participants, store.Participant{Client: s.Site, Status: s.State.String(), Reason: s.Reason,
			NumExamples: announced[s.Site]})
	}
	if ctx.Err() != nil {
		return rec, ctx.Err()
	}
	return rec, closeErr
}

// fitRound plays the fit phase of one attempt and returns the new global
// parameters (nil: keep), with one reference the caller owns, and the mean
// training loss.
func (e *Engine) fitRound(ctx context.Context, ar *activeRun, r, attempt int) (store.RoundRecord, *offheap.Floats, float64, error) {
	cfg := ar.cfg
	rec := store.RoundRecord{RunID: cfg.RunID, Round: r, Attempt: attempt, StartedAt: e.o.Now()}
	available, err := e.waitForSites(ctx, cfg.MinClients, time.Duration(cfg.WaitForClients), ar.keyHolder)
	if err != nil {
		return rec, nil, 0, err
	}
	var selected []string
	if cd := cfg.DP.clientDP(); cd != nil {
		var uniform func() float64
		if e.o.ReproducibleSampling {
			uniform = seededUniform(cfg.Seed, r, attempt)
		}
		selected = poissonSample(available, ar.dp.q, uniform)
		if len(selected) < cfg.MinClients {
			return rec, nil, 0, fmt.Errorf("%w: Poisson sampling at q=%v chose %d of %d sites, need %d", ErrTooFewClient, ar.dp.q, len(selected), len(available), cfg.MinClients)
		}
		e.mu.Lock()
		ar.dp.cands = len(available)
		e.mu.Unlock()
	} else if selected, err = SelectCohort(available, cfg.FractionFit, cfg.MinClients, cfg.Seed, r, attempt); err != nil {
		return rec, nil, 0, err
	}
	e.noteDetail(audit.KindRoundStarted, cfg.RunID, r, audit.ActorCoordinator, cfg.RunID,
		map[string]any{"attempt": attempt, "selected": selected})
	// The ledger row is written (and the budget checked) before any noisy
	// value of this round exists.
	if err := e.reserve(ctx, ar, r, attempt, selected); err != nil {
		return rec, nil, 0, err
	}
	rec, err = e.playPhase(ctx, ar, phaseOpts{phase: PhaseFit, round: r, attempt: attempt, sites: selected, minResults: cfg.MinClients})
	if err != nil {
		return rec, nil, 0, err
	}
	p := len(ar.global)
	var sum []float64 // Σ weight·Δ (p values), Σ weight, Σ weight·loss
	switch {
	case ar.secure():
		if sum, err = e.decryptSum(ctx, ar, r, attempt); err != nil {
			return rec, nil, 0, err
		}
		if len(sum) != ar.fitDim() || (cfg.DP.clientDP() == nil && !(sum[p] > 0)) {
			return rec, nil, 0, fmt.Errorf("coordinator: decrypted fit sum has %d values and total weight %v", len(sum), sum[min(p, len(sum)-1)])
		}
	case cfg.DP.clientDP() != nil:
		e.mu.Lock()
		s, err := ar.dp.sum.Sum() // fails if the sum is broken (Err) or unreadable
		if err == nil {
			sum = append(s, ar.dp.sum.TotalWeight(), ar.trainLoss, ar.dp.unclip)
		}
		ar.dp.sum, ar.dp.unclip = nil, 0
		ar.dropScratch()
		e.mu.Unlock()
		if err != nil {
			return rec, nil, 0, fmt.Errorf("coordinator: aggregating round %d: %w", r, err)
		}
	default:
		e.mu.Lock()
		defer e.mu.Unlock()
		params, err := aggregateResult(ar.agg, len(ar.global))
		ar.agg = nil
		ar.dropScratch()
		if err != nil {
			return rec, nil, 0, fmt.Errorf("coordinator: aggregating round %d: %w", r, err)
		}
		return rec, params, ar.trainLoss / ar.trainW, nil
	}
	divisor, trainLoss := sum[p], sum[p+1]/sum[p]
	if cd := cfg.DP.clientDP(); cd != nil {
		if ar.secure() {
			trainLoss = math.NaN() // not released: sites leave the loss slot empty under client-level DP
		}
		if cd.Mode == DPCentral {
			std := ar.dp.sigma * ar.dp.clip
			for i := 0; i < p; i++ {
				sum[i] += std * ar.dp.noise()
			}
		}
		if cd.Adaptive {
			count := sum[p+2]
			if cd.Mode == DPCentral {
				count += ar.dp.sigmaB * ar.dp.noise()
			}
			used, next := ar.dp.adaptClip(cd, count)
			rec.Metrics = map[string]float64{"dp_clip": used, "dp_next_clip": next}
		}
		// Fixed denominator: the expected cohort size, so that one site's
		// presence changes the mean by at most C/(q·N).
		divisor = ar.dp.q * float64(ar.dp.cands)
	}
	mean := make([]float64, p)
	for i := range mean {
		mean[i] = sum[i] / divisor
	}
	params, err := ar.strategy.(aggregation.MeanStrategy).ApplyMean(r, ar.global, mean)
	if err != nil {
		return rec, nil, 0, fmt.Errorf("coordinator: applying round %d: %w", r, err)
	}
	held, err := holdParams(params)
	if err != nil {
		return rec, nil, 0, err
	}
	return rec, held, trainLoss, nil
}

// retryable reports failures a retry can fix: too few results or decryptors.
func retryable(err error) bool {
	return errors.Is(err, ErrTooFewClient) || errors.Is(err, ErrTooFewDecryptors)
}

// waitForSites waits up to wait for at least min connected sites that pass
// eligible (nil: every site).
func (e *Engine) waitForSites(ctx context.Context, min int, wait time.Duration, eligible func(string) bool) ([]string, error) {
	deadline := time.Now().Add(wait)
	for {
		av := e.o.Dispatcher.Connected()
		if eligible != nil {
			av = slices.DeleteFunc(slices.Clone(av), func(s string) bool { return !eligible(s) })
		}
		e.o.Metrics.ConnectedSites.Set(float64(len(av)))
		if len(av) >= min {
			return av, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %d sites connected after waiting %s, need %d", ErrTooFewClient, len(av), wait, min)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
