package sim

import (
	"context"
	"runtime"
	"sort"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/coordinator"
)

// inproc is a coordinator.Dispatcher that runs sites in this process: a task
// becomes a call on the site's Trainer on a bounded worker pool, and the result
// goes through the engine's BeginResult/Submit* path exactly as a gRPC upload
// would (minus the wire encoding).
type inproc struct {
	ctx      context.Context
	engine   *coordinator.Engine
	names    []string
	trainers map[string]*client.ModelTrainer
	sem      chan struct{}
}

func newInproc(ctx context.Context, sites []site) (*inproc, error) {
	d := &inproc{ctx: ctx, trainers: map[string]*client.ModelTrainer{}, sem: make(chan struct{}, runtime.GOMAXPROCS(0))}
	for _, s := range sites {
		tr, err := client.NewModelTrainer(s.train, s.eval)
		if err != nil {
			return nil, err
		}
		d.trainers[s.name] = tr
		d.names = append(d.names, s.name)
	}
	sort.Strings(d.names)
	return d, nil
}

func (d *inproc) Connected() []string { return d.names }

func (d *inproc) Dispatch(name string, t coordinator.Task) error {
	if t.Done {
		return nil
	}
	go func() {
		select {
		case d.sem <- struct{}{}:
		case <-d.ctx.Done():
			return
		}
		defer func() { <-d.sem }()
		d.run(name, t)
	}()
	return nil
}

func (d *inproc) run(name string, t coordinator.Task) {
	tr, e := d.trainers[name], d.engine
	up := coordinator.Upload{RunID: t.RunID, Round: t.Round, Phase: t.Phase, Nonce: t.Nonce}
	fail := func(err error) { e.AbortResult(name, err.Error()) }
	switch t.Phase {
	case coordinator.PhaseStatistics:
		v, err := tr.Statistics(d.ctx)
		if _, berr := e.BeginResult(name, up); berr != nil {
			return
		}
		if err != nil {
			fail(err)
			return
		}
		_ = e.SubmitStatistics(name, v)
	case coordinator.PhaseFit:
		global, err := e.Params(d.ctx, t.RunID, t.ModelVersion)
		if err != nil {
			return
		}
		res, err := tr.Fit(d.ctx, client.FitTask{RunID: t.RunID, Round: t.Round, Global: global, Config: t.Config})
		var delta []float64
		if err == nil {
			delta, err = client.Delta(res.Params, global)
		}
		if _, berr := e.BeginResult(name, up); berr != nil {
			return
		}
		if err != nil {
			fail(err)
			return
		}
		_ = e.SubmitFit(name, coordinator.FitResult{NumExamples: res.NumExamples, Delta: delta, Metrics: res.Metrics})
	case coordinator.PhaseEvaluate:
		params, err := e.Params(d.ctx, t.RunID, t.ModelVersion)
		if err != nil {
			return
		}
		c, err := tr.Evaluate(d.ctx, client.EvalTask{RunID: t.RunID, Round: t.Round, Params: params, Config: t.Config})
		if _, berr := e.BeginResult(name, up); berr != nil {
			return
		}
		if err != nil {
			fail(err)
			return
		}
		_ = e.SubmitEvaluation(name, c)
	}
}
