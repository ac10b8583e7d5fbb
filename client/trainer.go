package client

import (
	"context"

	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/model"
)

// FitTask asks a site to train from the global parameters.
type FitTask struct {
	RunID  string
	Round  int
	Global []float64 // read-only: the Trainer must not modify it
	Config protocol.TaskConfig
}

// FitResult is a site's trained model.
type FitResult struct {
	// Params are the site's new local parameters (same length as FitTask.Global).
	// The SDK turns them into the delta it uploads.
	Params      []float64
	NumExamples int64
	Metrics     map[string]float64 // e.g. "loss": mean training loss
}

// EvalTask asks a site to evaluate the global parameters on its held-out data.
type EvalTask struct {
	RunID  string
	Round  int
	Params []float64 // read-only
	Config protocol.TaskConfig
}

// Trainer is what a partner app implements to take part in federated runs. The
// SDK calls at most one method at a time per Trainer.
//
// Fit must not modify task.Global and must return parameters of the same
// length. Evaluate returns summable counts (see model.Counts; histograms must
// have model.EvalBins bins via model.EvalCounts).
type Trainer interface {
	Fit(ctx context.Context, task FitTask) (FitResult, error)
	Evaluate(ctx context.Context, task EvalTask) (model.Counts, error)
}

// StatisticsProvider is an optional capability of a Trainer: it returns the
// site's feature moments (see dataset.LocalMoments), which the coordinator sums
// across sites to standardise features with global statistics. A Trainer
// without it cannot join runs that standardise.
type StatisticsProvider interface {
	Statistics(ctx context.Context) ([]float64, error)
}
