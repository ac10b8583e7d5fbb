package client

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/cohortfl/cohort/dataset"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/model"
	"github.com/cohortfl/cohort/privacy/accountant"
)

// EvalBins is the number of score-histogram bins in evaluation counts. It must
// match the coordinator's.
const EvalBins = 1000

// ModelTrainer is the ready-made Trainer for Cohort's own learners (package
// model) on a site's local data. Features must be encoded with the run's schema
// (dataset.Encoder) and not yet standardised: ModelTrainer standardises with
// the federated moments the coordinator sends, and imputes missing values.
type ModelTrainer struct {
	train, eval model.Examples // raw (unstandardised) copies

	// Policy, if set, is the site's own record-level privacy budget. It
	// overrides the run's: the site refuses to train when the next round's
	// DP-SGD steps would take its spent ε (over every run this trainer took
	// part in) past the policy, and says why.
	Policy *SitePolicy
	// Noise draws DP-SGD noise; nil uses crypto/rand (simulations seed it).
	Noise model.NoiseSource
	spent []accountant.Event

	mu       sync.Mutex
	momentsK []float64 // moments the cached standardised copies were made with
	stdTrain model.Examples
	stdEval  model.Examples

	protTrain, protEval map[string][]string // protected values by attribute (SetProtected)
	keyCache            map[string][]string // partition keys by split and spec (keys)
	protGen             uint64              // counts SetProtected calls, so keys never caches stale keys
}

// NewModelTrainer returns a Trainer over the site's training and held-out
// evaluation examples. It keeps its own copies.
func NewModelTrainer(train, eval model.Examples) (*ModelTrainer, error) {
	if train.N == 0 {
		return nil, fmt.Errorf("client: site has no training examples")
	}
	if eval.N > 0 && eval.D != train.D {
		return nil, fmt.Errorf("client: eval data has %d features, training data %d", eval.D, train.D)
	}
	return &ModelTrainer{train: clone(train), eval: clone(eval)}, nil
}

func clone(e model.Examples) model.Examples {
	e.X, e.Y, e.W = slices.Clone(e.X), slices.Clone(e.Y), slices.Clone(e.W)
	return e
}

// Statistics implements StatisticsProvider.
func (t *ModelTrainer) Statistics(context.Context) ([]float64, error) {
	return dataset.LocalMoments(t.train), nil
}

// data returns the standardised training and eval sets for the given moments.
func (t *ModelTrainer) data(moments []float64) (model.Examples, model.Examples, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stdTrain.X != nil && slices.Equal(moments, t.momentsK) {
		return t.stdTrain, t.stdEval, nil
	}
	tr, ev := clone(t.train), clone(t.eval)
	if moments != nil {
		st, err := dataset.NewStandardizer(moments, t.train.D)
		if err != nil {
			return model.Examples{}, model.Examples{}, fmt.Errorf("client: federated moments: %w", err)
		}
		if err := st.Apply(&tr); err != nil {
			return model.Examples{}, model.Examples{}, fmt.Errorf("client: standardising training data: %w", err)
		}
		if err := st.Apply(&ev); err != nil {
			return model.Examples{}, model.Examples{}, fmt.Errorf("client: standardising eval data: %w", err)
		}
	} else {
		imputeZero(tr.X)
		imputeZero(ev.X)
	}
	t.momentsK, t.stdTrain, t.stdEval = slices.Clone(moments), tr, ev
	return tr, ev, nil
}

func buildModel(c protocol.TaskConfig, features int) (model.Model, error) {
	if c.Features != features {
		return nil, fmt.Errorf("client: the run expects %d features, this site's data has %d (different schema?)", c.Features, features)
	}
	return model.New(model.Spec{Name: c.Model, Features: c.Features, Classes: c.Classes, Hidden: c.Hidden})
}

// Fit implements Trainer: local minibatch training from the global parameters.
func (t *ModelTrainer) Fit(ctx context.Context, task FitTask) (FitResult, error) {
	tr, _, err := t.data(task.Config.Moments)
	if err != nil {
		return FitResult{}, err
	}
	m, err := buildModel(task.Config, tr.D)
	if err != nil {
		return FitResult{}, err
	}
	if len(task.Global) != m.NumParams() {
		return FitResult{}, fmt.Errorf("client: global model has %d parameters, %s with %d features needs %d", len(task.Global), m.Name(), tr.D, m.NumParams())
	}
	params := slices.Clone(task.Global)
	cfg := model.TrainConfig{Epochs: task.Config.Epochs, BatchSize: task.Config.BatchSize,
		LearningRate: task.Config.LearningRate, Optimizer: task.Config.Optimizer, L2: task.Config.L2,
		ProximalMu: task.Config.ProximalMu}
	if cfg.ProximalMu > 0 {
		cfg.ProximalCenter = task.Global
	}
	if tr.W, err = t.reweigh(task.Config.Fairness, task.Config.FairWeights); err != nil {
		return FitResult{}, err
	}
	rng := rand.New(rand.NewPCG(task.Config.Seed, 0x5eed))
	if c := task.Config; c.RecordClip > 0 {
		if tr.W != nil {
			return FitResult{}, errors.New("client: record-level DP-SGD with reweighing sample weights is not supported (weights change the per-record sensitivity)")
		}
		return t.fitDP(m, params, tr, cfg, task, rng)
	}
	st, err := model.Train(m, params, tr, cfg, rng)
	if err != nil {
		return FitResult{}, fmt.Errorf("client: local training, round %d: %w", task.Round, err)
	}
	return FitResult{Params: params, NumExamples: int64(tr.N), Metrics: map[string]float64{"loss": st.FinalLoss}}, nil
}

// SitePolicy is a site's own record-level (ε, δ) budget.
type SitePolicy struct {
	Epsilon, Delta float64
}

// ErrSiteBudget reports that a site refused to train beyond its own policy.
var ErrSiteBudget = errors.New("client: the site's privacy policy refuses this round")

// fitDP trains with record-level DP-SGD after checking the site's policy.
func (t *ModelTrainer) fitDP(m model.Model, params []float64, tr model.Examples, cfg model.TrainConfig, task FitTask, rng *rand.Rand) (FitResult, error) {
	c := task.Config
	dp := model.DPConfig{Clip: c.RecordClip, NoiseMult: c.RecordSigma, SampleRate: c.RecordQ}
	ev := accountant.Event{Q: c.RecordQ, Sigma: c.RecordSigma, Steps: model.DPSteps(cfg.Epochs, c.RecordQ)}
	if t.Policy != nil {
		acc, err := accountant.NewRDP(accountant.DefaultOrders())
		if err != nil {
			return FitResult{}, err
		}
		t.mu.Lock()
		events := append(append([]accountant.Event(nil), t.spent...), ev)
		t.mu.Unlock()
		eps, err := acc.Epsilon(events, t.Policy.Delta)
		if err != nil {
			return FitResult{}, fmt.Errorf("client: accounting round %d: %w", task.Round, err)
		}
		if eps > t.Policy.Epsilon {
			return FitResult{}, fmt.Errorf("%w: round %d would bring this site's record-level ε to %.4f, above its policy ε=%g at δ=%g",
				ErrSiteBudget, task.Round, eps, t.Policy.Epsilon, t.Policy.Delta)
		}
	}
	noise := t.Noise
	if noise == nil {
		// A deployment: noise and Poisson batch sampling both from crypto/rand.
		// The task's seed is known to the coordinator, so sampling from it
		// would void the amplification the accountant assumes.
		noise = model.NewCryptoNoise()
		var key [32]byte
		if _, err := crand.Read(key[:]); err != nil {
			return FitResult{}, fmt.Errorf("client: seeding DP-SGD sampling: %w", err)
		}
		rng = rand.New(rand.NewChaCha8(key))
	}
	_, err := model.TrainDP(m, params, tr, cfg, dp, rng, noise)
	if err != nil {
		return FitResult{}, fmt.Errorf("client: DP-SGD, round %d: %w", task.Round, err)
	}
	t.mu.Lock()
	t.spent = append(t.spent, ev)
	t.mu.Unlock()
	// The training loss is computed from the data without noise and is not
	// covered by the DP guarantee, so it is not reported.
	return FitResult{Params: params, NumExamples: int64(tr.N)}, nil
}

// Evaluate implements Trainer on the site's held-out data.
func (t *ModelTrainer) Evaluate(ctx context.Context, task EvalTask) (model.Counts, error) {
	_, ev, err := t.data(task.Config.Moments)
	if err != nil {
		return model.Counts{}, err
	}
	m, err := buildModel(task.Config, ev.D)
	if err != nil {
		return model.Counts{}, err
	}
	if len(task.Params) != m.NumParams() {
		return model.Counts{}, fmt.Errorf("client: model has %d parameters, want %d", len(task.Params), m.NumParams())
	}
	return model.EvalCounts(m, task.Params, ev, EvalBins)
}

// imputeZero replaces missing (NaN) features by 0. Without federated moments
// there is no global mean to impute with; runs that standardise never get here.
func imputeZero(x []float64) {
	for i, v := range x {
		if math.IsNaN(v) {
			x[i] = 0
		}
	}
}
