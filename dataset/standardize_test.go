package dataset

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cohortfl/cohort/model"
)

// pooledStats computes mean and population std of every column directly,
// with the two-pass formula, skipping NaN.
func pooledStats(x model.Examples) (mean, std []float64) {
	mean, std = make([]float64, x.D), make([]float64, x.D)
	for j := 0; j < x.D; j++ {
		n, s := 0.0, 0.0
		for i := 0; i < x.N; i++ {
			if v := x.X[i*x.D+j]; !math.IsNaN(v) {
				n++
				s += v
			}
		}
		mean[j] = s / n
		ss := 0.0
		for i := 0; i < x.N; i++ {
			if v := x.X[i*x.D+j]; !math.IsNaN(v) {
				ss += (v - mean[j]) * (v - mean[j])
			}
		}
		std[j] = math.Sqrt(ss / n)
	}
	return mean, std
}

func TestStandardizerFederatedEqualsPooled(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	const n, d = 997, 4
	x := model.Examples{X: make([]float64, n*d), Y: make([]int, n), N: n, D: d}
	for i := 0; i < n; i++ {
		x.X[i*d+0] = 1000 + 50*r.NormFloat64()
		x.X[i*d+1] = r.ExpFloat64()
		x.X[i*d+2] = float64(r.IntN(2))
		x.X[i*d+3] = -3 + r.Float64()
		if r.Float64() < 0.2 {
			x.X[i*d+r.IntN(d)] = math.NaN()
		}
	}
	parts, err := IID(n, 7, 3)
	if err != nil {
		t.Fatal(err)
	}
	total := make([]float64, 3*d)
	for _, p := range parts {
		for k, v := range LocalMoments(x.Subset(p)) {
			total[k] += v
		}
	}
	st, err := NewStandardizer(total, d)
	if err != nil {
		t.Fatal(err)
	}
	wantMean, wantStd := pooledStats(x)
	gotMean, gotStd := st.Mean(), st.Std()
	for j := 0; j < d; j++ {
		if math.Abs(gotMean[j]-wantMean[j]) > 1e-9*math.Max(1, math.Abs(wantMean[j])) ||
			math.Abs(gotStd[j]-wantStd[j]) > 1e-6*wantStd[j] {
			t.Errorf("feature %d: mean, std = %v, %v; pooled %v, %v", j, gotMean[j], gotStd[j], wantMean[j], wantStd[j])
		}
	}

	y := x.Subset(seq(n))
	if err := st.Apply(&y); err != nil {
		t.Fatal(err)
	}
	for i := range y.X {
		if math.IsNaN(x.X[i]) && y.X[i] != 0 {
			t.Fatalf("missing value %d imputed as %v, want 0", i, y.X[i])
		}
	}
	// Non-missing values now have mean 0 and std 1.
	m2, s2 := pooledStats(withMissing(y, x))
	for j := 0; j < d; j++ {
		if math.Abs(m2[j]) > 1e-9 || math.Abs(s2[j]-1) > 1e-6 {
			t.Errorf("feature %d after Apply: mean %v std %v, want 0 and 1", j, m2[j], s2[j])
		}
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// withMissing copies y and restores NaN where orig had NaN.
func withMissing(y, orig model.Examples) model.Examples {
	c := y.Subset(seq(y.N))
	for i, v := range orig.X {
		if math.IsNaN(v) {
			c.X[i] = math.NaN()
		}
	}
	return c
}

func TestStandardizerConstantAndEmpty(t *testing.T) {
	// Feature 0 constant 5 over 4 rows; feature 1 never observed.
	st, err := NewStandardizer([]float64{4, 0, 20, 0, 100, 0}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if m, s := st.Mean(), st.Std(); m[0] != 5 || s[0] != 1 || m[1] != 0 || s[1] != 1 {
		t.Errorf("Mean, Std = %v, %v; want [5 0], [1 1]", m, s)
	}
	x := model.Examples{X: []float64{5, math.NaN(), 7, 3}, Y: []int{0, 1}, N: 2, D: 2}
	if err := st.Apply(&x); err != nil {
		t.Fatal(err)
	}
	if x.X[0] != 0 || x.X[1] != 0 || x.X[2] != 2 || x.X[3] != 3 {
		t.Errorf("Apply = %v, want [0 0 2 3]", x.X)
	}
	if err := st.Apply(&model.Examples{X: []float64{1}, Y: []int{0}, N: 1, D: 1}); !errors.Is(err, ErrMoments) {
		t.Errorf("Apply wrong D error = %v, want ErrMoments", err)
	}
	if err := st.Apply(nil); !errors.Is(err, ErrMoments) {
		t.Errorf("Apply(nil) error = %v, want ErrMoments", err)
	}
}

func TestNewStandardizerErrors(t *testing.T) {
	bad := []struct {
		m []float64
		d int
	}{
		{[]float64{1, 2}, 1},
		{nil, 0},
		{[]float64{-1, 0, 0}, 1},
		{[]float64{1, 0, -1}, 1},
		{[]float64{math.NaN(), 0, 0}, 1},
		{[]float64{1, math.Inf(1), 0}, 1},
		{[]float64{0, 3, 0}, 1},
	}
	for _, b := range bad {
		if _, err := NewStandardizer(b.m, b.d); !errors.Is(err, ErrMoments) {
			t.Errorf("NewStandardizer(%v, %d) error = %v, want ErrMoments", b.m, b.d, err)
		}
	}
}
