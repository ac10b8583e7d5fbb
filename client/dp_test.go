package client_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/model"
	"github.com/cohortfl/cohort/privacy"
	"github.com/cohortfl/cohort/privacy/accountant"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// still is a Trainer whose local training changes nothing, so a fit result
// carries only the site's DP noise.
type still struct{}

func (still) Fit(_ context.Context, t client.FitTask) (client.FitResult, error) {
	return client.FitResult{Params: slices.Clone(t.Global), NumExamples: 10, Metrics: map[string]float64{"loss": 1}}, nil
}
func (still) Evaluate(context.Context, client.EvalTask) (model.Counts, error) {
	return model.Counts{}, nil
}

// TestDistributedNoiseSurvivesDropout: with n = 10 selected sites each adding
// N(0, σ²C²/t_min) and n − t_min of them dropping out, the t_min remaining
// contributions still carry total noise N(0, σ²C²) per coordinate. Over P
// coordinates (P−1)·s²/(σC)² follows χ²(P−1); the test requires it inside the
// central 99.98% interval — in particular never below it (noise short).
func TestDistributedNoiseSurvivesDropout(t *testing.T) {
	const (
		n, tMin = 10, 4
		sigma   = 1.3
		clip    = 0.7
		p       = 20000
	)
	cfg := protocol.TaskConfig{Model: "logreg", Classes: 2, Features: p - 1, ClientClip: clip,
		ClientNoiseStd: sigma * clip / math.Sqrt(tMin)}
	global := make([]float64, p)
	sum := make([]float64, p)
	for site := 0; site < n; site++ {
		x := client.NewExecutor("s", still{}, client.Credentials{})
		x.Noise = privacy.SeededNormal(uint64(100 + site))
		res, err := x.Execute(context.Background(), client.Task{RunID: "r", Round: 1, Kind: cohortv1.TaskKind_TASK_KIND_FIT, Config: cfg},
			func() ([]float64, error) { return global, nil }, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.NumExamples != 1 {
			t.Fatalf("client-level DP result weight = %d, want 1", res.NumExamples)
		}
		if site >= tMin {
			continue // dropped after being selected: its noise never reaches the sum
		}
		for i, v := range res.Floats {
			sum[i] += v
		}
	}
	var mean, ss float64
	for _, v := range sum {
		mean += v
	}
	mean /= p
	for _, v := range sum {
		ss += (v - mean) * (v - mean)
	}
	target := sigma * clip
	stat := ss / (target * target) // (P−1)·s²/σ_target²
	chi := distuv.ChiSquared{K: p - 1}
	lo, hi := chi.Quantile(1e-4), chi.Quantile(1-1e-4)
	if stat < lo || stat > hi {
		t.Fatalf("(P−1)s²/(σC)² = %.1f, want within [%.1f, %.1f]: the noise in the sum is not N(0, (σC)²)", stat, lo, hi)
	}
	if math.Abs(mean) > 5*target/math.Sqrt(p) {
		t.Fatalf("noise mean %v is more than 5 standard errors from 0", mean)
	}
}

func TestClipL2(t *testing.T) {
	v := []float64{3, 4}
	if n := client.ClipL2(v, 1); n != 5 || math.Abs(v[0]-0.6) > 1e-15 || math.Abs(v[1]-0.8) > 1e-15 {
		t.Fatalf("ClipL2([3 4], 1) = %v (norm %v), want [0.6 0.8] (norm 5)", v, n)
	}
	w := []float64{0.3, 0.4}
	client.ClipL2(w, 1)
	if w[0] != 0.3 || w[1] != 0.4 {
		t.Fatalf("ClipL2 changed a vector within the bound: %v", w)
	}
}

// TestSitePolicyOverridesTheRun: the run asks for record-level DP-SGD rounds
// the site's own policy cannot afford; the site trains while its ε (computed
// here independently with the accountant) stays within its policy and then
// refuses with ErrSiteBudget, naming the ε it would reach.
func TestSitePolicyOverridesTheRun(t *testing.T) {
	acc, err := accountant.NewRDP(accountant.DefaultOrders())
	if err != nil {
		t.Fatal(err)
	}
	const q, sigma, epochs = 0.1, 3.0, 1
	steps := model.DPSteps(epochs, q)
	affordable := 0
	for k := 1; k < 50; k++ {
		eps, _ := acc.Epsilon([]accountant.Event{{Q: q, Sigma: sigma, Steps: k * steps}}, 1e-5)
		if eps > 2 {
			break
		}
		affordable = k
	}
	if affordable < 1 {
		t.Fatal("test setup: no round fits ε=2")
	}
	tr, err := client.NewModelTrainer(exampleData(200, 1), exampleData(20, 2))
	if err != nil {
		t.Fatal(err)
	}
	tr.Policy = &client.SitePolicy{Epsilon: 2, Delta: 1e-5}
	tr.Noise = model.NewSeededNoise(1)
	cfg := protocol.TaskConfig{Model: "logreg", Classes: 2, Features: 1, Epochs: epochs, BatchSize: 20, LearningRate: 0.1,
		Optimizer: "sgd", RecordClip: 1, RecordSigma: sigma, RecordQ: q}
	for r := 1; r <= affordable+1; r++ {
		_, err := tr.Fit(context.Background(), client.FitTask{RunID: "r", Round: r, Global: []float64{0, 0}, Config: cfg})
		switch {
		case r <= affordable && err != nil:
			t.Fatalf("round %d within the policy refused: %v", r, err)
		case r > affordable && !errors.Is(err, client.ErrSiteBudget):
			t.Fatalf("round %d beyond the policy: err = %v, want ErrSiteBudget", r, err)
		}
	}
}
