package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/internal/secwire"
	"github.com/cohortfl/cohort/model"
	"github.com/cohortfl/cohort/privacy"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/secagg"
)

// UnclippedMetric is the fit metric carrying the adaptive-clipping indicator
// in runs without secure aggregation.
const UnclippedMetric = "dp_unclipped"

// Task is a transport-independent task, as the gRPC session and the
// in-process simulator hand it to an Executor.
type Task struct {
	RunID  string
	Round  int
	Kind   cohortv1.TaskKind
	Config protocol.TaskConfig
}

// Result is what executing a task produced, ready for the transport.
// Exactly one of Floats, Counts and Sealed is set.
type Result struct {
	Floats      []float64 // plaintext: fit delta or feature moments
	Counts      *model.Counts
	Extra       []float64 // plaintext evaluation: fairness and explanation sums after Counts
	Sealed      []byte    // secure aggregation: a serialised SecAggMessage
	NumExamples int64
	Metrics     map[string]float64
}

// Executor executes tasks for one site: it calls the Trainer and, in runs with
// secure aggregation, holds the site's key material, seals its results and
// answers key-ceremony and decryption tasks. Safe for use by one goroutine at
// a time per task kind; the SDK runs tasks one after another.
type Executor struct {
	name    string
	trainer Trainer
	sec     *secureSite
	// Logger records refusals to decrypt (nil: slog.Default()).
	Logger *slog.Logger
	// Noise draws N(0, 1) for distributed DP noise; nil uses crypto/rand.
	// Only simulations and tests set a seeded source.
	Noise func() float64
}

// NewExecutor returns an Executor for the site called name (its certificate's
// common name). creds may be zero for runs without secure aggregation.
func NewExecutor(name string, tr Trainer, creds Credentials) *Executor {
	return &Executor{name: name, trainer: tr, sec: newSecureSite(name, creds)}
}

// Execute runs t. params fetches the task's model parameters; blob fetches
// its payload (key-ceremony material, decrypt requests). Either is called only
// when the task needs it.
func (x *Executor) Execute(ctx context.Context, t Task, params func() ([]float64, error), blob func() ([]byte, error)) (Result, error) {
	c := t.Config
	switch t.Kind {
	case cohortv1.TaskKind_TASK_KIND_KEYGEN_REGISTER:
		b, err := x.sec.register(t.RunID, c.SecAggEpoch)
		return Result{Sealed: b}, err
	case cohortv1.TaskKind_TASK_KIND_KEYGEN_SHARES:
		in, err := blob()
		if err != nil {
			return Result{}, err
		}
		b, err := x.sec.shares(in)
		return Result{Sealed: b}, err
	case cohortv1.TaskKind_TASK_KIND_KEYGEN_FINISH:
		in, err := blob()
		if err != nil {
			return Result{}, err
		}
		b, err := x.sec.finish(t.RunID, c.SecAggEpoch, in)
		return Result{Sealed: b}, err
	case cohortv1.TaskKind_TASK_KIND_DECRYPT:
		in, err := blob()
		if err != nil {
			return Result{}, err
		}
		b, err := x.sec.decrypt(t.RunID, c.SecAggEpoch, in)
		if errors.Is(err, secagg.ErrRefused) {
			x.logger().Warn("refused to help decrypt: the request is not a sum of enough distinct signed contributions",
				"site", x.name, "run", t.RunID, "round", t.Round, "err", err)
		}
		return Result{Sealed: b}, err
	case cohortv1.TaskKind_TASK_KIND_COSIGN:
		return x.cosign(t, params, blob)
	case cohortv1.TaskKind_TASK_KIND_STATISTICS:
		sp, ok := x.trainer.(StatisticsProvider)
		if !ok {
			return Result{}, errors.New("client: the run standardises features but this Trainer is not a StatisticsProvider")
		}
		v, err := sp.Statistics(ctx)
		if err != nil {
			return Result{}, err
		}
		if c.FairLabelCounts {
			fp, ok := x.trainer.(FairnessProvider)
			if !ok {
				return Result{}, errors.New("client: the run reweighs for fairness but this Trainer is not a FairnessProvider")
			}
			lc, err := fp.LabelCounts(ctx, *c.Fairness)
			if err != nil {
				return Result{}, err
			}
			v = append(v, lc...)
		}
		if !c.Secure {
			return Result{Floats: v}, nil
		}
		bound, err := x.sec.clipBound(t.RunID, c.SecAggEpoch)
		if err != nil {
			return Result{}, err
		}
		wide, err := secwire.SplitWide(v, bound)
		if err != nil {
			return Result{}, fmt.Errorf("client: feature moments: %w", err)
		}
		b, err := x.sec.seal(t.RunID, c.SecAggEpoch, c.SecAggRound, wide)
		return Result{Sealed: b}, err
	case cohortv1.TaskKind_TASK_KIND_FIT:
		global, err := params()
		if err != nil {
			return Result{}, err
		}
		res, err := x.trainer.Fit(ctx, FitTask{RunID: t.RunID, Round: t.Round, Global: global, Config: c})
		if err != nil {
			return Result{}, err
		}
		delta, err := Delta(res.Params, global)
		if err != nil {
			return Result{}, err
		}
		if c.ClientClip > 0 {
			return x.fitClientDP(t, c, delta, res)
		}
		if !c.Secure {
			return Result{Floats: delta, NumExamples: res.NumExamples, Metrics: res.Metrics}, nil
		}
		b, err := x.sec.seal(t.RunID, c.SecAggEpoch, c.SecAggRound, secwire.FitVector(delta, res.NumExamples, res.Metrics["loss"]))
		return Result{Sealed: b}, err
	case cohortv1.TaskKind_TASK_KIND_EVALUATE:
		p, err := params()
		if err != nil {
			return Result{}, err
		}
		cnt, err := x.trainer.Evaluate(ctx, EvalTask{RunID: t.RunID, Round: t.Round, Params: p, Config: c})
		if err != nil {
			return Result{}, err
		}
		extra, err := x.evalExtra(ctx, t, p)
		if err != nil {
			return Result{}, err
		}
		if !c.Secure {
			return Result{Counts: &cnt, Extra: extra}, nil
		}
		v := secwire.CountsVector(cnt)
		if len(extra) > 0 {
			bound, err := x.sec.clipBound(t.RunID, c.SecAggEpoch)
			if err != nil {
				return Result{}, err
			}
			wide, err := secwire.SplitWide(extra, bound)
			if err != nil {
				return Result{}, fmt.Errorf("client: fairness and explanation sums: %w", err)
			}
			v = append(v, wide...)
		}
		b, err := x.sec.seal(t.RunID, c.SecAggEpoch, c.SecAggRound, v)
		return Result{Sealed: b}, err
	}
	return Result{}, fmt.Errorf("client: unknown task kind %v", t.Kind)
}

// fitClientDP prepares a client-level DP contribution: the update clipped to
// the bound and weighted 1, this site's share of the noise in distributed
// mode, and with adaptive clipping the indicator ‖Δ‖ ≤ C. Sealed for secure
// aggregation it is [Δ + noise, 0, 0, (b − ½) + noise]: the weight and loss
// slots stay zero, because an exact participant count or loss sum would be
// an unnoised release; the coordinator divides by the expected cohort size.
func (x *Executor) fitClientDP(t Task, c protocol.TaskConfig, delta []float64, res FitResult) (Result, error) {
	noise := x.Noise
	if noise == nil {
		noise = privacy.CryptoNormal
	}
	norm := ClipL2(delta, c.ClientClip)
	for i := range delta {
		if c.ClientNoiseStd > 0 {
			delta[i] += c.ClientNoiseStd * noise()
		}
	}
	b := 0.0
	if norm <= c.ClientClip {
		b = 1
	}
	if !c.Secure {
		m := map[string]float64{"loss": res.Metrics["loss"]}
		if c.ClientAdaptive != 0 {
			m[UnclippedMetric] = b
		}
		return Result{Floats: delta, NumExamples: 1, Metrics: m}, nil
	}
	v := append(delta, 0, 0)
	if c.ClientAdaptive != 0 {
		centred := b - 0.5
		if c.ClientCountNoiseStd > 0 {
			centred += c.ClientCountNoiseStd * noise()
		}
		v = append(v, centred)
	}
	sealed, err := x.sec.seal(t.RunID, c.SecAggEpoch, c.SecAggRound, v)
	return Result{Sealed: sealed}, err
}

// evalExtra computes what an evaluation result carries after the counts: the
// fairness audit vector and then the explanation and proxy sums, as the task
// asks (see protocol.TaskConfig).
func (x *Executor) evalExtra(ctx context.Context, t Task, params []float64) ([]float64, error) {
	c := t.Config
	if !c.FairAudit && c.ExplainRows == 0 {
		return nil, nil
	}
	fp, ok := x.trainer.(FairnessProvider)
	if !ok {
		return nil, errors.New("client: the run audits fairness or explanations but this Trainer is not a FairnessProvider")
	}
	task := EvalTask{RunID: t.RunID, Round: t.Round, Params: params, Config: c}
	var extra []float64
	if c.FairAudit {
		v, err := fp.Audit(ctx, task, *c.Fairness)
		if err != nil {
			return nil, err
		}
		extra = append(extra, v...)
	}
	if c.ExplainRows > 0 {
		v, err := fp.Explain(ctx, task, c.Fairness, c.ExplainRows)
		if err != nil {
			return nil, err
		}
		extra = append(extra, v...)
	}
	return extra, nil
}
