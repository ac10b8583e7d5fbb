package coordinator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/internal/offheap"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/internal/secwire"
	"github.com/cohortfl/cohort/model"
	"github.com/cohortfl/cohort/privacy"
	"github.com/cohortfl/cohort/registry"
)

// ErrNoActiveRun is returned to sites that submit when no run is in progress.
var ErrNoActiveRun = errors.New("coordinator: no active run")

// EvalBins is the number of score-histogram bins of federated evaluation; the
// pooled AUC is exact up to ties within a bin of width 1/EvalBins.
const EvalBins = 1000

// Options configure an Engine. Store and Dispatcher are required.
type Options struct {
	Store      *store.DB
	Dispatcher Dispatcher
	Logger     *slog.Logger     // nil: slog.Default()
	Metrics    *Metrics         // nil: unregistered instruments
	Now        func() time.Time // nil: time.Now
	Rand       io.Reader        // nonces; nil: crypto/rand
	// Noise draws standard normal variates for central DP noise; nil uses
	// crypto/rand. Simulations pass a seeded source for reproducibility.
	Noise func() float64
	// ReproducibleSampling derives DP client sampling from the run's seed
	// (simulations only). Otherwise it comes from crypto/rand, as privacy
	// amplification by sampling requires.
	ReproducibleSampling bool
	// Signer, if set, signs every published model version (registry); Roots
	// is then the consortium CA pool that site co-signatures must chain to.
	// Without a Signer, decisions are recorded but no artifact is sealed.
	Signer *registry.Signer
	Roots  *x509.CertPool
	// ScratchDir is where a fit phase keeps its running sum when the model
	// is 1 MiB or larger ("": the system's temporary directory).
	ScratchDir string
	// OnRound, if set, is called after each committed round (and its evaluation)
	// with the round's record. It runs on the engine's goroutine and must be quick.
	OnRound func(RoundReport)
}

// RoundReport summarises one committed round for progress displays.
type RoundReport struct {
	Round    int
	Attempt  int
	Accepted int
	Selected int
	Metrics  map[string]float64
	Duration time.Duration
	// EvalSeconds is the wall time of the round's evaluate phase (with the
	// fairness audit when it is on), from dispatch to decoded metrics.
	EvalSeconds float64
}

// RunResult is what Run returns when the run ends normally.
type RunResult struct {
	RunID           string
	RoundsCompleted int
	StoppedEarly    string // why the stop criteria ended the run, if they did
	Params          []float64
	Version         int
	Metrics         map[string]float64 // of the last round
	// Publication is the gate's decision on the final model (nil when the
	// run did not finish training).
	Publication *Publication
}

// Engine drives runs: it selects cohorts, dispatches tasks, validates and folds
// results into the round's aggregate, commits rounds to the store and evaluates.
// All I/O happens here; the per-round bookkeeping is the pure Round type.
//
// An Engine drives one run at a time. Submit* methods are called concurrently by
// the transport; everything they touch is guarded by one mutex, so the round's
// slot states and the aggregate always agree.
type Engine struct {
	o   Options
	log *slog.Logger

	mu  sync.Mutex
	cur *activeRun

	audit   *audit.Log
	amu     sync.Mutex
	pending []audit.Event // audit events awaiting the next flush

	refusalWindow                time.Time // rate limit of site_refused events
	refusalCount, refusalDropped int
}

type activeRun struct {
	cfg      RunConfig
	strategy aggregation.Strategy
	global   []float64       // current global parameters (read-only once published): model's values
	model    *offheap.Floats // owns global; Params hands out references (see setGlobal)
	version  int

	round     *Round
	agg       aggregation.Aggregator // fit phase
	statsSum  []float64              // statistics phase
	evalSum   model.Counts           // evaluate phase
	evalExtra []float64              // evaluate phase: fairness and explanation sums
	trainLoss float64
	trainW    float64
	wake      chan struct{}

	sec    *secState         // secure aggregation (nil for secure=none)
	dp     *dpState          // differential privacy (nil without DP)
	cosign *cosignState      // publication: co-signatures being collected
	blobs  map[string][]byte // task payloads of the open phase, by name

	scratch *tempFile // the fit phase's running sum, for large models (scratch.go)
}

// NewEngine validates o and returns an Engine.
func NewEngine(o Options) (*Engine, error) {
	if o.Store == nil || o.Dispatcher == nil {
		return nil, errors.New("coordinator: engine needs a Store and a Dispatcher")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Noise == nil {
		o.Noise = privacy.CryptoNormal
	}
	if err := o.Store.Migrate(context.Background(), "coordinator", coordinatorMigrations); err != nil {
		return nil, err
	}
	lg, err := audit.Open(context.Background(), o.Store, audit.WithClock(o.Now))
	if err != nil {
		return nil, err
	}
	return &Engine{o: o, log: o.Logger, audit: lg}, nil
}

// Run drives the run described by cfg to its end. If the store already holds a
// run with this id, Run resumes it after its last committed round with the
// stored configuration (cfg is then only used for its RunID); a completed run
// returns at once.
func (e *Engine) Run(ctx context.Context, cfg RunConfig) (RunResult, error) {
	ar, start, err := e.openRun(ctx, cfg)
	if err != nil {
		// What was noted before the failure (a ledger row, rejections) is
		// written now, with the failure, not under the next run.
		e.noteDetail(audit.KindRunFinished, cfg.RunID, 0, audit.ActorCoordinator, cfg.RunID,
			map[string]any{"state": "not started", "reason": err.Error()})
		_ = e.flushAudit(context.WithoutCancel(ctx))
		e.mu.Lock()
		if e.cur != nil {
			e.cur.setGlobal(nil, 0)
		}
		e.cur = nil
		e.mu.Unlock()
		return RunResult{}, err
	}
	defer func() {
		e.mu.Lock()
		e.cur = nil
		ar.agg = nil
		ar.dropScratch()
		ar.setGlobal(nil, ar.version)
		e.mu.Unlock()
		e.broadcastDone(ar.cfg.RunID)
	}()
	res, err := e.drive(ctx, ar, start)
	if err == nil {
		var pub Publication
		if pub, err = e.publish(ctx, ar, res); err == nil {
			res.Publication = &pub
		}
	}
	st, msg := store.RunState("completed"), ""
	switch {
	case errors.Is(err, context.Canceled):
		// The operator stopped the process: leave the run "running" so a restart resumes it.
		_ = e.flushAudit(context.WithoutCancel(ctx))
		return res, err
	case err != nil:
		st, msg = "failed", err.Error()
	}
	e.noteDetail(audit.KindRunFinished, ar.cfg.RunID, res.RoundsCompleted, audit.ActorCoordinator, ar.cfg.RunID,
		map[string]any{"state": st, "reason": msg, "rounds_completed": res.RoundsCompleted})
	if ferr := e.flushAudit(context.WithoutCancel(ctx)); ferr != nil {
		err = errors.Join(err, ferr)
	}
	if serr := e.o.Store.SetRunState(context.WithoutCancel(ctx), ar.cfg.RunID, st, msg); serr != nil {
		err = errors.Join(err, fmt.Errorf("coordinator: recording run state: %w", serr))
	}
	return res, err
}

// openRun creates or reloads the run and returns the first round to play.
func (e *Engine) openRun(ctx context.Context, cfg RunConfig) (*activeRun, int, error) {
	existing, err := e.o.Store.GetRun(ctx, cfg.RunID)
	switch {
	case err == nil:
		var stored RunConfig
		if err := json.Unmarshal([]byte(existing.ConfigJSON), &stored); err != nil {
			return nil, 0, fmt.Errorf("coordinator: run %q has an unreadable stored config: %w", cfg.RunID, err)
		}
		if existing.State != "running" {
			return nil, 0, fmt.Errorf("coordinator: run %q is already %s", cfg.RunID, existing.State)
		}
		latest, err := e.o.Store.LatestModel(ctx, cfg.RunID)
		if err != nil {
			return nil, 0, fmt.Errorf("coordinator: resuming run %q: %w", cfg.RunID, err)
		}
		strat, err := aggregation.New(stored.Strategy, stored.StrategyOptions)
		if err != nil {
			return nil, 0, err
		}
		e.log.Info("resuming run", "run", cfg.RunID, "after_round", latest.Round, "model_version", latest.Version)
		ar := &activeRun{cfg: stored, strategy: strat, wake: make(chan struct{}, 1)}
		if ar.secure() {
			if ar.sec, err = restoreSecure(stored); err != nil {
				return nil, 0, err
			}
		}
		if err := e.restoreStrategy(ctx, ar, latest.Round); err != nil {
			return nil, 0, err
		}
		if err := e.setupDP(ctx, ar); err != nil {
			return nil, 0, err
		}
		// Held from here on: Run releases e.cur's model if opening fails.
		if err := ar.holdGlobal(latest.Params, latest.Version); err != nil {
			return nil, 0, err
		}
		e.setActive(ar)
		if err := e.awaitStartSites(ctx, stored); err != nil {
			return nil, 0, err
		}
		return ar, latest.Round + 1, nil
	case errors.Is(err, store.ErrNotFound):
	default:
		return nil, 0, fmt.Errorf("coordinator: looking up run %q: %w", cfg.RunID, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, 0, err
	}
	strat, err := aggregation.New(cfg.Strategy, cfg.StrategyOptions)
	if err != nil {
		return nil, 0, err
	}
	ar := &activeRun{cfg: cfg, strategy: strat, wake: make(chan struct{}, 1)}
	e.setActive(ar)
	if err := e.awaitStartSites(ctx, cfg); err != nil {
		return nil, 0, err
	}
	if err := e.setupDP(ctx, ar); err != nil {
		return nil, 0, err
	}
	if ar.secure() {
		if err := e.keyCeremony(ctx, ar); err != nil {
			return nil, 0, err
		}
	}
	if cfg.Standardize || cfg.Features == 0 || cfg.reweighs() {
		if err := e.statisticsPhase(ctx, ar); err != nil {
			return nil, 0, err
		}
	}
	m, err := model.New(model.Spec{Name: ar.cfg.Model, Features: ar.cfg.Features, Classes: ar.cfg.Classes, Hidden: ar.cfg.Hidden})
	if err != nil {
		return nil, 0, fmt.Errorf("coordinator: run %q: %w", cfg.RunID, err)
	}
	e.mu.Lock() // ar is shared already
	err = ar.holdGlobal(m.Init(seededRand(ar.cfg.Seed, 0)), 0)
	e.mu.Unlock()
	if err != nil {
		return nil, 0, err
	}
	cfgJSON, err := json.Marshal(ar.cfg)
	if err != nil {
		return nil, 0, err
	}
	now := e.o.Now()
	if err := e.o.Store.CreateRun(ctx, store.Run{ID: cfg.RunID, ConfigJSON: string(cfgJSON), State: "running",
		CreatedAt: now, UpdatedAt: now, RoundsTotal: cfg.Rounds},
		store.ModelVersion{RunID: cfg.RunID, Version: 0, Round: 0, Params: ar.global, NumParams: len(ar.global), CreatedAt: now}); err != nil {
		return nil, 0, fmt.Errorf("coordinator: creating run %q: %w", cfg.RunID, err)
	}
	fairMode := FairnessOff
	if ar.cfg.fairSpec() != nil {
		fairMode = ar.cfg.Fairness.Mode
	}
	e.noteDetail(audit.KindRunStarted, cfg.RunID, 0, audit.ActorCoordinator, cfg.RunID, map[string]any{
		"config_sha256": hexDigest(sha256.Sum256(cfgJSON)), "rounds": cfg.Rounds, "secure": ar.cfg.Secure,
		"dp": ar.cfg.DP != nil, "fairness": fairMode, "policy": ar.cfg.Policy != nil})
	if err := e.flushAudit(ctx); err != nil {
		return nil, 0, err
	}
	return ar, 1, nil
}

// awaitStartSites waits up to WaitForClients for StartSites connected sites
// before a run starts or resumes, so that every expected site — including those
// still reconnecting after a coordinator restart — takes part. With fewer, the
// run goes on and each phase enforces MinClients.
func (e *Engine) awaitStartSites(ctx context.Context, cfg RunConfig) error {
	want := max(cfg.StartSites, cfg.MinClients)
	if _, err := e.waitForSites(ctx, want, time.Duration(cfg.WaitForClients), nil); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.log.Warn("starting with fewer sites than start_sites", "run", cfg.RunID,
			"connected", len(e.o.Dispatcher.Connected()), "start_sites", want)
	}
	return nil
}

func (e *Engine) setActive(ar *activeRun) {
	e.mu.Lock()
	e.cur = ar
	e.mu.Unlock()
}

// statisticsPhase asks every connected site for its feature moments and sums
// them. It fixes cfg.Features (from the moments' length) and cfg.FeatureMoments.
func (e *Engine) statisticsPhase(ctx context.Context, ar *activeRun) error {
	var lastErr error
	for attempt := 0; attempt <= ar.cfg.MaxRetries; attempt++ {
		_, err := e.playPhase(ctx, ar, phaseOpts{phase: PhaseStatistics, attempt: attempt, allConnected: true, minResults: ar.cfg.MinClients})
		var sum []float64
		if err == nil && ar.secure() {
			var wide []float64
			if wide, err = e.decryptSum(ctx, ar, 0, attempt); err == nil {
				sum, err = secwire.JoinWide(wide, ar.sec.params.Encoding().ClipBound)
			}
		} else if err == nil {
			e.mu.Lock()
			sum = ar.statsSum
			e.mu.Unlock()
		}
		if err == nil && ar.cfg.reweighs() {
			lc := 2 * len(ar.cfg.Fairness.Groups())
			if len(sum) < lc {
				return fmt.Errorf("coordinator: statistics have %d values, fewer than the %d label counts", len(sum), lc)
			}
			if err := e.applyLabelCounts(ctx, ar, sum[len(sum)-lc:]); err != nil {
				return err
			}
			sum = sum[:len(sum)-lc]
		}
		if err == nil {
			if len(sum)%3 != 0 || len(sum) == 0 {
				return fmt.Errorf("coordinator: feature moments have length %d, not a positive multiple of 3", len(sum))
			}
			ar.cfg.Features = len(sum) / 3
			if ar.cfg.Standardize {
				ar.cfg.FeatureMoments = sum
			}
			return nil
		}
		lastErr = err
		if ctx.Err() != nil || ar.cfg.OnFailure == OnFailureStop || !retryable(err) {
			break
		}
	}
	return fmt.Errorf("coordinator: statistics phase failed: %w", lastErr)
}

// drive plays rounds start..cfg.Rounds.
func (e *Engine) drive(ctx context.Context, ar *activeRun, start int) (RunResult, error) {
	res := RunResult{RunID: ar.cfg.RunID, RoundsCompleted: start - 1}
	best, sinceBest, err := e.stopState(ctx, ar, start)
	if err != nil {
		return res, err
	}
	for r := start; r <= ar.cfg.Rounds; r++ {
		e.o.Metrics.CurrentRound.Set(float64(r))
		rep, err := e.playRound(ctx, ar, r)
		if err != nil {
			return res, err
		}
		res.RoundsCompleted, res.Metrics = r, rep.Metrics
		if e.o.OnRound != nil {
			e.o.OnRound(rep)
		}
		acc := rep.Metrics["eval_accuracy"]
		if t := ar.cfg.TargetAccuracy; t > 0 && acc >= t {
			res.StoppedEarly = fmt.Sprintf("eval accuracy %.4f reached target %.4f", acc, t)
			break
		}
		if acc > best+ar.cfg.MinDelta {
			best, sinceBest = acc, 0
		} else if sinceBest++; ar.cfg.Patience > 0 && sinceBest >= ar.cfg.Patience {
			res.StoppedEarly = fmt.Sprintf("eval accuracy did not improve by %g for %d rounds", ar.cfg.MinDelta, ar.cfg.Patience)
			break
		}
	}
	e.mu.Lock()
	// A copy: the caller keeps it after the run releases its model.
	res.Params, res.Version = slices.Clone(ar.global), ar.version
	e.mu.Unlock()
	return res, nil
}

// stopState replays the stop criteria over the rounds committed before start,
// so that a resumed run counts patience from where it stopped.
func (e *Engine) stopState(ctx context.Context, ar *activeRun, start int) (best float64, sinceBest int, err error) {
	best = math.Inf(-1)
	if start <= 1 {
		return best, 0, nil
	}
	rounds, err := e.o.Store.Rounds(ctx, ar.cfg.RunID)
	if err != nil {
		return 0, 0, fmt.Errorf("coordinator: reading past rounds: %w", err)
	}
	for _, r := range rounds {
		acc, ok := r.Metrics["eval_accuracy"]
		if r.Status != "committed" || !ok || math.IsNaN(acc) {
			continue
		}
		if acc > best+ar.cfg.MinDelta {
			best, sinceBest = acc, 0
		} else {
			sinceBest++
		}
	}
	return best, sinceBest, nil
}

// playRound runs the fit phase (with retries), commits, then evaluates.
func (e *Engine) playRound(ctx context.Context, ar *activeRun, r int) (RoundReport, error) {
	var lastErr error
	// Attempts already recorded for this round (before a crash) keep their
	// numbers; a resumed coordinator continues after them.
	first, err := e.o.Store.NextAttempt(ctx, ar.cfg.RunID, r)
	if err != nil {
		return RoundReport{}, fmt.Errorf("coordinator: round %d: %w", r, err)
	}
	if ar.dp != nil {
		// An attempt that crashed after reserving its privacy release left
		// a pending ledger row but no round record: continue after it, so
		// the retry gets fresh sampling and training seeds too.
		if n, err := ar.dp.ledger.NextAttempt(ctx, ar.cfg.RunID, r); err == nil && n > first {
			e.log.Warn("an earlier attempt of this round reserved a privacy release and did not commit; it stays counted",
				"run", ar.cfg.RunID, "round", r, "attempts", n)
			first = n
		}
	}
	for attempt := first; attempt <= first+ar.cfg.MaxRetries; attempt++ {
		began := e.o.Now()
		rec, newParams, trainLoss, err := e.fitRound(ctx, ar, r, attempt)
		if err != nil {
			lastErr = err
			e.o.Metrics.Rounds.WithLabelValues("fit", "failed").Inc()
			e.log.Warn("round failed", "run", ar.cfg.RunID, "round", r, "attempt", attempt, "err", err)
			rec.Status, rec.Reason, rec.EndedAt = "failed", err.Error(), e.o.Now()
			e.noteDetail(audit.KindRoundFailed, ar.cfg.RunID, r, audit.ActorCoordinator, ar.cfg.RunID,
				map[string]any{"attempt": attempt, "reason": err.Error()})
			_ = e.flushAudit(context.WithoutCancel(ctx))
			if serr := e.o.Store.RecordFailedRound(context.WithoutCancel(ctx), rec); serr != nil {
				return RoundReport{}, errors.Join(err, fmt.Errorf("coordinator: recording failed round: %w", serr))
			}
			if ctx.Err() != nil || ar.cfg.OnFailure == OnFailureStop || !retryable(err) {
				return RoundReport{}, err
			}
			continue
		}
		if newParams == nil {
			e.mu.Lock()
			newParams = ar.model.Retain() // the previous model, again
			e.mu.Unlock()
		}
		rec.Status, rec.EndedAt = "committed", e.o.Now()
		if rec.Metrics == nil {
			rec.Metrics = map[string]float64{}
		}
		rec.Metrics["train_loss"] = trainLoss
		mv := store.ModelVersion{RunID: ar.cfg.RunID, Version: r, Round: r, Params: newParams.Values(), NumParams: newParams.Len(), CreatedAt: e.o.Now()}
		if err := e.commitRound(context.WithoutCancel(ctx), ar, rec, mv); err != nil {
			newParams.Release()
			return RoundReport{}, fmt.Errorf("coordinator: committing round %d: %w", r, err)
		}
		e.mu.Lock()
		ar.setGlobal(newParams, r)
		e.mu.Unlock()
		e.o.Metrics.Rounds.WithLabelValues("fit", "committed").Inc()
		e.o.Metrics.RoundSeconds.Observe(e.o.Now().Sub(began).Seconds())

		metrics := map[string]float64{"train_loss": trainLoss}
		for k, v := range e.spent(ctx, ar) {
			metrics[k] = v
		}
		evalBegan := e.o.Now()
		evalMetrics, err := e.evaluate(ctx, ar, r)
		evalSeconds := e.o.Now().Sub(evalBegan).Seconds()
		if err != nil {
			if ctx.Err() != nil {
				return RoundReport{}, err
			}
			e.log.Warn("evaluation failed", "run", ar.cfg.RunID, "round", r, "err", err)
		}
		for k, v := range evalMetrics {
			metrics[k] = v
		}
		// ε spent so far is stored with the round too, for reports.
		stored := maps.Clone(evalMetrics)
		if stored == nil {
			stored = map[string]float64{}
		}
		for k, v := range metrics {
			if strings.HasPrefix(k, "epsilon_") {
				stored[k] = v
			}
		}
		if len(stored) > 0 {
			if err := e.o.Store.RecordMetrics(context.WithoutCancel(ctx), ar.cfg.RunID, r, stored); err != nil {
				return RoundReport{}, fmt.Errorf("coordinator: recording metrics of round %d: %w", r, err)
			}
		}
		accepted := len(acceptedSites(rec))
		return RoundReport{Round: r, Attempt: attempt, Accepted: accepted, Selected: len(rec.Participants),
			Metrics: metrics, Duration: e.o.Now().Sub(began), EvalSeconds: evalSeconds}, nil
	}
	return RoundReport{}, fmt.Errorf("coordinator: round %d failed after %d attempts: %w", r, ar.cfg.MaxRetries+1, lastErr)
}

// evalOutcome is what one evaluation phase learned.
type evalOutcome struct {
	metrics map[string]float64
	audit   []FamilyReport // nil when fairness is off
	explain []float64      // summed explanation and proxy vector (explainRows > 0)
}

// evaluate asks every connected site to evaluate the current global model on
// its held-out data and pools the counts (and, with fairness on, the
// per-group audit statistics).
func (e *Engine) evaluate(ctx context.Context, ar *activeRun, r int) (map[string]float64, error) {
	out, err := e.evaluatePhase(ctx, ar, r, 0, 0)
	if err != nil {
		return nil, err
	}
	return out.metrics, nil
}

// evaluatePhase plays one evaluate phase; explainRows > 0 also asks for
// explanation and proxy sums.
func (e *Engine) evaluatePhase(ctx context.Context, ar *activeRun, r, attempt, explainRows int) (evalOutcome, error) {
	minResults := 1
	if ar.secure() {
		minResults = ar.cfg.MinClients
	}
	if _, err := e.playPhase(ctx, ar, phaseOpts{phase: PhaseEvaluate, round: r, attempt: attempt, allConnected: true,
		minResults: minResults, explainRows: explainRows}); err != nil {
		return evalOutcome{}, err
	}
	nExtra := evalExtraLen(ar.cfg, explainRows)
	var c model.Counts
	var extra []float64
	if ar.secure() {
		sum, err := e.decryptSum(ctx, ar, r, attempt)
		if err != nil {
			return evalOutcome{}, err
		}
		nc := secwire.CountsLen(ar.cfg.Classes == 2, EvalBins)
		if nExtra > 0 {
			if extra, err = secwire.JoinWide(sum[min(nc, len(sum)):], ar.sec.params.Encoding().ClipBound); err != nil {
				return evalOutcome{}, err
			}
			if len(extra) != nExtra {
				return evalOutcome{}, fmt.Errorf("coordinator: evaluation sum carries %d fairness/explanation values, want %d", len(extra), nExtra)
			}
			sum = sum[:nc]
		}
		if c, err = countsFromSum(sum); err != nil {
			return evalOutcome{}, err
		}
	} else {
		e.mu.Lock()
		c, extra = ar.evalSum, ar.evalExtra
		e.mu.Unlock()
	}
	if c.N == 0 {
		return evalOutcome{}, errors.New("coordinator: evaluation returned no examples")
	}
	out := evalOutcome{metrics: map[string]float64{
		"eval_loss":     c.LossSum / float64(c.N),
		"eval_accuracy": float64(c.Correct) / float64(c.N),
		"eval_examples": float64(c.N),
	}}
	if auc := model.HistAUC(c.PosHist, c.NegHist); !math.IsNaN(auc) {
		out.metrics["eval_auc"] = auc
	}
	if spec := ar.cfg.fairSpec(); spec != nil {
		n := protocol.AuditLen(*spec)
		fams, err := AuditReports(*spec, extra[:n])
		if err != nil {
			return evalOutcome{}, err
		}
		out.audit = fams
		maps.Copy(out.metrics, fairnessMetrics(fams))
		extra = extra[n:]
	}
	if explainRows > 0 {
		out.explain = extra
	}
	return out, nil
}

func (e *Engine) broadcastDone(runID string) {
	for _, s := range e.o.Dispatcher.Connected() {
		_ = e.o.Dispatcher.Dispatch(s, Task{RunID: runID, Done: true})
	}
}

func (ar *activeRun) notify() {
	select {
	case ar.wake <- struct{}{}:
	default:
	}
}

// siteSeed derives the training seed of one site in one round attempt, so a
// simulation is reproducible whatever the order in which sites run.
func siteSeed(seed uint64, site string, round, attempt int) uint64 {
	h := sha256.New()
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], seed)
	binary.LittleEndian.PutUint64(b[8:], uint64(round))
	binary.LittleEndian.PutUint64(b[16:], uint64(attempt))
	h.Write(b[:])
	h.Write([]byte(site))
	return binary.LittleEndian.Uint64(h.Sum(nil))
}
