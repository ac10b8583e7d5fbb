package explain_test

import (
	"fmt"
	"math"

	"github.com/cohortfl/cohort/explain"
	"github.com/cohortfl/cohort/model"
)

func ExampleLinearSHAP() {
	// Logit of P(default): income lowers it, late payments raise it.
	m, _ := model.New(model.Spec{Name: model.LogReg, Features: 3, Classes: 2})
	params := []float64{-0.05, 1.2, 0.01, -1} // w, then b
	names := []string{"income", "late_payments", "age"}
	mean := []float64{50, 2, 40} // background mean
	x := []float64{40, 3, 30}
	e, _ := explain.LinearSHAP(m, params, 1, x, mean)
	fmt.Printf("phi=%.2f base=%.2f value=%.2f efficient=%v\n", e.Phi, e.Base, e.Value, math.Abs(e.EfficiencyGap()) < 1e-12)
	for _, r := range explain.ReasonCodesFor(e.Phi, x, names, 2, true) {
		fmt.Printf("%s = %g raises the default logit by %.2f\n", r.Name, r.Value, r.Phi)
	}
	// Output:
	// phi=[0.50 1.20 -0.10] base=-0.70 value=0.90 efficient=true
	// late_payments = 3 raises the default logit by 1.20
	// income = 40 raises the default logit by 0.50
}

func ExampleKernel() {
	// f(x) = x0·x1 against the background {(0,0), (2,2)}, explained at (3,1):
	// v(∅) = 2, v({0}) = 3, v({1}) = 1, v({0,1}) = 3, so the Shapley values are
	// φ0 = ((3−2) + (3−1))/2 = 1.5 and φ1 = ((1−2) + (3−3))/2 = −0.5.
	f := func(x []float64) float64 { return x[0] * x[1] }
	k, _ := explain.NewKernel(f, []float64{0, 0, 2, 2}, 2, explain.DefaultKernelConfig())
	e, _ := k.Explain([]float64{3, 1}, nil)
	fmt.Printf("phi=%.2f base=%.1f value=%.1f exact=%v\n", e.Phi, e.Base, e.Value, e.Exact)
	// Output:
	// phi=[1.50 -0.50] base=2.0 value=3.0 exact=true
}

func ExampleAggregate() {
	// Two sites accumulate |φ| and φ sums; the coordinator only sees the sum.
	a, _ := explain.NewAggregate(2, 1)
	b, _ := explain.NewAggregate(2, 1)
	_ = a.Add([]float64{0.4, -0.2}, 0)
	_ = b.Add([]float64{-0.2, 0.2}, explain.NoGroup)
	va, vb := a.Encode(), b.Encode()
	for i := range va {
		va[i] += vb[i] // stands in for the secure sum
	}
	total, _ := explain.DecodeAggregate(va, 2, 1)
	g := total.Global()
	fmt.Printf("n=%g meanAbs=%.2f mean=%.2f group0 n=%g meanAbs=%.2f\n", g.N, g.MeanAbs, g.Mean, g.GroupN[0], g.GroupMeanAbs[0])
	// Output:
	// n=2 meanAbs=[0.30 0.20] mean=[0.10 0.00] group0 n=1 meanAbs=[0.40 0.20]
}
