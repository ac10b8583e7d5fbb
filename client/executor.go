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
	Sealed      []byte // secure aggregation: a serialised SecAggMessage
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
			log := x.Logger
			if log == nil {
				log = slog.Default()
			}
			log.Warn("refused to help decrypt: the request is not a sum of enough distinct signed contributions",
				"site", x.name, "run", t.RunID, "round", t.Round, "err", err)
		}
		return Result{Sealed: b}, err
	case cohortv1.TaskKind_TASK_KIND_STATISTICS:
		sp, ok := x.trainer.(StatisticsProvider)
		if !ok {
			return Result{}, errors.New("client: the run standardises features but this Trainer is not a StatisticsProvider")
		}
		v, err := sp.Statistics(ctx)
		if err != nil {
			return Result{}, err
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
		n := res.NumExamples
		if c.ClientClip > 0 {
			// Client-level DP: clip to the bound, weigh 1, and in distributed
			// mode add this site's share of the noise before anything leaves.
			ClipL2(delta, c.ClientClip)
			if c.ClientNoiseStd > 0 {
				noise := x.Noise
				if noise == nil {
					noise = privacy.CryptoNormal
				}
				for i := range delta {
					delta[i] += c.ClientNoiseStd * noise()
				}
			}
			n = 1
		}
		if !c.Secure {
			return Result{Floats: delta, NumExamples: n, Metrics: res.Metrics}, nil
		}
		b, err := x.sec.seal(t.RunID, c.SecAggEpoch, c.SecAggRound, secwire.FitVector(delta, n, res.Metrics["loss"]))
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
		if !c.Secure {
			return Result{Counts: &cnt}, nil
		}
		b, err := x.sec.seal(t.RunID, c.SecAggEpoch, c.SecAggRound, secwire.CountsVector(cnt))
		return Result{Sealed: b}, err
	}
	return Result{}, fmt.Errorf("client: unknown task kind %v", t.Kind)
}
