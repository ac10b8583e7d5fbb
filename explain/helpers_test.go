package explain_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cohortfl/cohort/explain"
)

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func randRows(rng *rand.Rand, n, d int) []float64 {
	v := make([]float64, n*d)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// coalitionValue is the interventional game, written independently of the
// package: v(S) = mean over background rows of f(x on S, background elsewhere).
func coalitionValue(f explain.ValueFunc, x, bg []float64, in []bool) float64 {
	d := len(x)
	n := len(bg) / d
	row := make([]float64, d)
	s := 0.0
	for b := 0; b < n; b++ {
		for j := range row {
			if in[j] {
				row[j] = x[j]
			} else {
				row[j] = bg[b*d+j]
			}
		}
		s += f(row)
	}
	return s / float64(n)
}

// bruteShapley averages marginal contributions over all M! orderings.
func bruteShapley(f explain.ValueFunc, x, bg []float64) []float64 {
	m := len(x)
	phi := make([]float64, m)
	perm := make([]int, m)
	for i := range perm {
		perm[i] = i
	}
	count := 0
	var rec func(k int)
	rec = func(k int) {
		if k == m {
			count++
			in := make([]bool, m)
			prev := coalitionValue(f, x, bg, in)
			for _, i := range perm {
				in[i] = true
				cur := coalitionValue(f, x, bg, in)
				phi[i] += cur - prev
				prev = cur
			}
			return
		}
		for i := k; i < m; i++ {
			perm[k], perm[i] = perm[i], perm[k]
			rec(k + 1)
			perm[k], perm[i] = perm[i], perm[k]
		}
	}
	rec(0)
	for i := range phi {
		phi[i] /= float64(count)
	}
	return phi
}

// nonlinear is a hand-written function with interactions, a kink and a
// saturation, defined for any number of features ≥ 2.
func nonlinear(x []float64) float64 {
	m := len(x)
	s := 0.3*x[0] + x[0]*x[1] + math.Max(x[m-1], 0.2*x[m-2])
	for i := 2; i < m; i++ {
		s += math.Sin(float64(i)*x[i]) * x[i-1] / float64(i)
	}
	return math.Tanh(s)
}

func assertClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol {
			t.Errorf("%s[%d] = %.12g, want %.12g (|diff| %.3g > %g)", what, i, got[i], want[i], math.Abs(got[i]-want[i]), tol)
		}
	}
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}
