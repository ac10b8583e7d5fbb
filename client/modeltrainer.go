package client

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/cohortfl/cohort/dataset"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/model"
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

	mu       sync.Mutex
	momentsK []float64 // moments the cached standardised copies were made with
	stdTrain model.Examples
	stdEval  model.Examples
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
	rng := rand.New(rand.NewPCG(task.Config.Seed, 0x5eed))
	st, err := model.Train(m, params, tr, cfg, rng)
	if err != nil {
		return FitResult{}, fmt.Errorf("client: local training, round %d: %w", task.Round, err)
	}
	return FitResult{Params: params, NumExamples: int64(tr.N), Metrics: map[string]float64{"loss": st.FinalLoss}}, nil
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
