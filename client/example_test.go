package client_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/model"
)

// A site's training data: y = 1 when x > 0.
func exampleData(n int, seed uint64) model.Examples {
	r := rand.New(rand.NewPCG(seed, 1))
	e := model.Examples{N: n, D: 1}
	for i := 0; i < n; i++ {
		x := r.NormFloat64()
		y := 0
		if x > 0 {
			y = 1
		}
		e.X, e.Y = append(e.X, x), append(e.Y, y)
	}
	return e
}

// Example shows the Trainer a site hands to client.Run. ModelTrainer is the
// ready implementation for Cohort's learners; the coordinator's fit task says
// which model and hyperparameters to use. Here the task is built by hand to
// show what Fit does with it.
func Example() {
	tr, err := client.NewModelTrainer(exampleData(200, 1), exampleData(50, 2))
	if err != nil {
		panic(err)
	}
	task := client.FitTask{RunID: "demo", Round: 1, Global: []float64{0, 0},
		Config: protocol.TaskConfig{Model: "logreg", Classes: 2, Features: 1, Epochs: 5, BatchSize: 16,
			LearningRate: 0.5, Optimizer: "sgd", Seed: 7}}
	res, err := tr.Fit(context.Background(), task)
	if err != nil {
		panic(err)
	}
	fmt.Printf("trained on %d examples; weight is positive: %v\n", res.NumExamples, res.Params[0] > 0)

	c, err := tr.Evaluate(context.Background(), client.EvalTask{RunID: "demo", Round: 1, Params: res.Params, Config: task.Config})
	if err != nil {
		panic(err)
	}
	fmt.Printf("held-out accuracy above 0.9: %v\n", float64(c.Correct)/float64(c.N) > 0.9)

	// In a deployment the site would now serve tasks until the run ends:
	//
	//	err = client.Run(ctx, client.Options{Address: "coordinator.example:7443", TLS: tlsCfg, Trainer: tr})

	// Output:
	// trained on 200 examples; weight is positive: true
	// held-out accuracy above 0.9: true
}
