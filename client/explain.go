package client

import (
	"fmt"
	"math/rand/v2"

	"github.com/cohortfl/cohort/explain"
	"github.com/cohortfl/cohort/model"
)

// Explanation is one prediction explained: the SHAP attribution of every
// feature and the top reason codes, as banks need for adverse-action notices.
type Explanation struct {
	Score   float64          `json:"score"` // P(class 1 | x)
	Base    float64          `json:"base"`  // the value the attributions start from
	Scale   string           `json:"scale"` // "logit" (exact linear SHAP) or "probability" (KernelSHAP)
	Phi     []float64        `json:"phi"`
	Reasons []explain.Reason `json:"reasons"`
}

// Explain explains the model's prediction for one standardised feature row x
// against background rows (row-major, the site's own data): exact linear SHAP
// on the logit for logistic and softmax regression, KernelSHAP on the
// probability otherwise. It returns the top k reason codes, ranked towards the
// adverse outcome (class 1 when adverseIsPositive, else class 0).
func Explain(m model.Model, params, x, background []float64, names []string, k int, adverseIsPositive bool) (Explanation, error) {
	out := make([]float64, m.NumClasses())
	m.PredictProba(params, x, out)
	e := Explanation{Score: out[len(out)-1]}
	var ex explain.Explanation
	var err error
	switch m.Name() {
	case model.LogReg, model.Softmax:
		var mean []float64
		if mean, err = explain.BackgroundMean(background, m.NumFeatures()); err != nil {
			return Explanation{}, err
		}
		ex, err = explain.LinearSHAP(m, params, m.NumClasses()-1, x, mean)
		e.Scale = "logit"
	default:
		var f explain.ValueFunc
		if f, err = explain.ProbaFunc(m, params, m.NumClasses()-1); err != nil {
			return Explanation{}, err
		}
		var kern *explain.Kernel
		if kern, err = explain.NewKernel(f, background, m.NumFeatures(), explain.DefaultKernelConfig()); err != nil {
			return Explanation{}, err
		}
		ex, err = kern.Explain(x, rand.New(rand.NewPCG(1, 2)))
		e.Scale = "probability"
	}
	if err != nil {
		return Explanation{}, fmt.Errorf("client: explaining a prediction: %w", err)
	}
	e.Base, e.Phi = ex.Base, ex.Phi
	e.Reasons = explain.ReasonCodesFor(ex.Phi, x, names, k, adverseIsPositive)
	return e, nil
}
