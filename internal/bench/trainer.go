package bench

import (
	"context"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/model"
)

// instantDelta is the value instantTrainer adds to every parameter.
const instantDelta = 1e-3

// instantTrainer is a client.Trainer that does no training: Fit returns the
// global parameters plus a small constant and Evaluate one correctly scored
// example. It isolates what the platform costs (transfer, decoding,
// validation, aggregation) from what learning costs.
type instantTrainer struct{ examples int64 }

// Fit implements client.Trainer.
func (t instantTrainer) Fit(_ context.Context, task client.FitTask) (client.FitResult, error) {
	p := make([]float64, len(task.Global))
	for i, g := range task.Global {
		p[i] = g + instantDelta
	}
	return client.FitResult{Params: p, NumExamples: t.examples, Metrics: map[string]float64{"loss": 0.5}}, nil
}

// Evaluate implements client.Trainer.
func (t instantTrainer) Evaluate(context.Context, client.EvalTask) (model.Counts, error) {
	c := model.Counts{N: 1, LossSum: 0.5, Correct: 1,
		PosHist: make([]float64, client.EvalBins), NegHist: make([]float64, client.EvalBins)}
	c.PosHist[client.EvalBins-1] = 1
	return c, nil
}
