package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// randomExamples draws n rows of d standard-normal features, labels uniform in
// [0,k) and, if weighted, weights uniform in [0.5, 2).
func randomExamples(rng *rand.Rand, n, d, k int, weighted bool) Examples {
	e := Examples{X: make([]float64, n*d), Y: make([]int, n), N: n, D: d}
	for i := range e.X {
		e.X[i] = rng.NormFloat64()
	}
	for i := range e.Y {
		e.Y[i] = rng.IntN(k)
	}
	if weighted {
		e.W = make([]float64, n)
		for i := range e.W {
			e.W[i] = 0.5 + 1.5*rng.Float64()
		}
	}
	return e
}

// linearExamples draws labels from a logistic model with true weights w and
// bias b, so the data are learnable but not separable.
func linearExamples(rng *rand.Rand, n int, w []float64, b float64) Examples {
	d := len(w)
	e := Examples{X: make([]float64, n*d), Y: make([]int, n), N: n, D: d}
	for i := 0; i < n; i++ {
		z := b
		for j := 0; j < d; j++ {
			x := rng.NormFloat64()
			e.X[i*d+j] = x
			z += w[j] * x
		}
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			e.Y[i] = 1
		}
	}
	return e
}

func mustNew(t testing.TB, s Spec) Model {
	t.Helper()
	m, err := New(s)
	if err != nil {
		t.Fatalf("New(%v): %v", s, err)
	}
	return m
}

func allRows(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func norm2(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}
