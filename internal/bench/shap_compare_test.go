package bench

import (
	"math"
	"slices"
	"testing"

	"github.com/cohortfl/cohort/explain"
)

// shapCompare on known inputs: exact values compared with themselves give
// zero error, and a known perturbation gives known figures.
func TestShapCompare(t *testing.T) {
	exact := []explain.Explanation{
		{Phi: []float64{0.5, -0.25, 0.25}, Base: 0.1, Value: 0.6, Exact: true, Coalitions: 8},
		{Phi: []float64{-1, 0.5, 0}, Base: 0.2, Value: -0.3, Exact: true, Coalitions: 8},
	}
	same := func(e explain.Explanation) explain.Explanation {
		e.Phi, e.StdErr, e.Exact = slices.Clone(e.Phi), make([]float64, len(e.Phi)), false
		return e
	}
	var r ShapResult
	n, err := shapCompare(&r, exact, [][]explain.Explanation{{same(exact[0])}, {same(exact[1])}})
	if err != nil {
		t.Fatal(err)
	}
	if n != 8 || r.MeanAbsError != 0 || r.MaxAbsError != 0 || r.RelMaxError != 0 || r.WithinTwoSE != 1 || r.MaxEfficiencyGap != 0 {
		t.Errorf("exact against itself: coalitions %d, %+v; want 8 and zero errors, all within 2 SE", n, r)
	}
	if want := 2.5 / 6; math.Abs(r.MeanAbsPhi-want) > 1e-15 {
		t.Errorf("mean |φ| = %v; want %v", r.MeanAbsPhi, want)
	}

	// Row 0, two repeats: errors +0.1/−0.1 on features 0/1 (SE 0.1 and 0.04)
	// and 0 on feature 2; row 1 exact. Efficiency holds in every repeat.
	a := same(exact[0])
	a.Phi[0], a.Phi[1] = 0.6, -0.35
	a.StdErr = []float64{0.1, 0.04, 0.01}
	b := same(exact[0])
	b.StdErr = []float64{0.1, 0.1, 0.1}
	r = ShapResult{}
	if _, err := shapCompare(&r, exact, [][]explain.Explanation{{a, b}, {same(exact[1])}}); err != nil {
		t.Fatal(err)
	}
	// 9 sampled values, errors 0.1, 0.1 and seven zeros; 8 within 2 SE.
	if math.Abs(r.MeanAbsError-0.2/9) > 1e-15 || math.Abs(r.MaxAbsError-0.1) > 1e-15 ||
		math.Abs(r.RelMaxError-0.1/(2.5/6)) > 1e-12 || r.WithinTwoSE != 8.0/9 ||
		math.Abs(r.MeanStdErr-0.45/9) > 1e-15 {
		t.Errorf("perturbed: %+v; want mean error 0.2/9, max 0.1, 8/9 within 2 SE, mean SE 0.05", r)
	}

	// A sampled explanation of a different game is refused.
	c := same(exact[0])
	c.Base = 0.2
	if _, err := shapCompare(&ShapResult{}, exact[:1], [][]explain.Explanation{{c}}); err == nil {
		t.Errorf("different base: no error")
	}
	// So is one without standard errors.
	c = same(exact[0])
	c.StdErr = nil
	if _, err := shapCompare(&ShapResult{}, exact[:1], [][]explain.Explanation{{c}}); err == nil {
		t.Errorf("no standard errors: no error")
	}
}
