package client_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/model"
)

// For logistic regression the explanation is exact on the logit scale: the
// attributions sum to logit(x) − logit(mean), each is w_i·(x_i − mean_i), and
// the reasons are the features pushing hardest towards the adverse class.
func TestExplainLogRegIsExactAndRanksReasons(t *testing.T) {
	m, err := model.New(model.Spec{Name: model.LogReg, Features: 3, Classes: 2})
	if err != nil {
		t.Fatal(err)
	}
	params := []float64{2, -1, 0.5, 0.1} // w, b
	r := rand.New(rand.NewPCG(1, 1))
	bg := make([]float64, 3*50)
	for i := range bg {
		bg[i] = r.NormFloat64()
	}
	mean := make([]float64, 3)
	for i := 0; i < 50; i++ {
		for j := 0; j < 3; j++ {
			mean[j] += bg[3*i+j] / 50
		}
	}
	x := []float64{1, 1, 1}
	e, err := client.Explain(m, params, x, bg, []string{"a", "b", "c"}, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for j, phi := range e.Phi {
		if want := params[j] * (x[j] - mean[j]); math.Abs(phi-want) > 1e-12 {
			t.Errorf("φ_%d = %v, want %v", j, phi, want)
		}
		sum += phi
	}
	logit := func(v []float64) float64 { return params[0]*v[0] + params[1]*v[1] + params[2]*v[2] + params[3] }
	if math.Abs(sum-(logit(x)-logit(mean))) > 1e-12 {
		t.Errorf("Σφ = %v, want logit(x) − logit(mean) = %v", sum, logit(x)-logit(mean))
	}
	if want := 1 / (1 + math.Exp(-logit(x))); math.Abs(e.Score-want) > 1e-12 {
		t.Errorf("score = %v, want %v", e.Score, want)
	}
	// The features pushing towards class 1 (the adverse one) are a (φ≈2) then c (φ≈0.5); b pushes away.
	if len(e.Reasons) != 2 || e.Reasons[0].Name != "a" || e.Reasons[1].Name != "c" {
		t.Fatalf("reasons = %+v, want a then c", e.Reasons)
	}
}
