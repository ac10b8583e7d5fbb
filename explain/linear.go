package explain

import (
	"fmt"

	"github.com/cohortfl/cohort/model"
)

// Explanation is an additive attribution of one prediction:
//
//	Value = Base + Σ_i Phi[i]
//
// up to floating-point rounding (EfficiencyGap measures the residual).
type Explanation struct {
	Phi   []float64 // attribution per feature
	Base  float64   // value with every feature "missing": E[f(background)] (KernelSHAP) or f(E[x]) (LinearSHAP)
	Value float64   // f(x)

	// StdErr is the estimated standard error of each Phi when the values were
	// estimated from sampled coalitions; nil when they are exact.
	StdErr []float64
	// Exact reports whether Phi are the exact Shapley values of the game
	// (LinearSHAP and enumerated KernelSHAP) rather than a sampled estimate.
	Exact bool
	// Coalitions is the number of coalitions whose value was evaluated,
	// including the empty and the full coalition (0 for LinearSHAP).
	Coalitions int
}

// EfficiencyGap returns Σφ − (Value − Base); it is zero up to rounding for
// every explanation this package returns.
func (e Explanation) EfficiencyGap() float64 {
	s := 0.0
	for _, p := range e.Phi {
		s += p
	}
	return s - (e.Value - e.Base)
}

// LinearSHAP returns the exact SHAP values of x for a logreg or softmax model
// on the logit scale of class (the value function of LogitFunc), with
// features taken as independent and the background summarised by its mean:
//
//	φ_i = w_i · (x_i − mean_i),   Base = f(mean),   Value = f(x).
//
// For logreg, class 1 explains w·x + b and class 0 its negation; for softmax,
// class k explains w_k·x + b_k, so calling it once per class gives the
// per-class attributions. Efficiency Σφ = f(x) − f(mean) holds exactly in
// real arithmetic, and f(mean) = E[f(background)] because f is affine. The
// result equals KernelSHAP with LogitFunc against any background whose column
// means are mean. Probabilities are not linear in x; explain them with
// KernelSHAP and ProbaFunc instead.
func LinearSHAP(m model.Model, params []float64, class int, x, mean []float64) (Explanation, error) {
	w, b, err := linearBlock(m, params, class)
	if err != nil {
		return Explanation{}, fmt.Errorf("linear shap: %w", err)
	}
	if err := checkRow("x", x, len(w)); err != nil {
		return Explanation{}, fmt.Errorf("linear shap: %w", err)
	}
	if err := checkRow("background mean", mean, len(w)); err != nil {
		return Explanation{}, fmt.Errorf("linear shap: %w", err)
	}
	e := Explanation{Phi: make([]float64, len(w)), Base: b, Value: b, Exact: true}
	for i, wi := range w {
		e.Phi[i] = wi * (x[i] - mean[i])
		e.Base += wi * mean[i]
		e.Value += wi * x[i]
	}
	return e, nil
}
