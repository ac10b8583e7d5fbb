package aggregation

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// aggregate runs one round of s from global over deltas (client i has id "c<i>"
// and weight weights[i], or 1 when weights is nil).
func aggregate(t *testing.T, s Strategy, global []float64, deltas [][]float64, weights []int64) []float64 {
	t.Helper()
	agg := s.NewAggregator(1, global)
	for i, d := range deltas {
		w := int64(1)
		if weights != nil {
			w = weights[i]
		}
		if err := agg.Add(Update{Client: fmt.Sprintf("c%d", i), Delta: d, NumExamples: w}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := agg.Result()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMedianHandValues(t *testing.T) {
	s, _ := New(NameMedian, Options{})
	global := []float64{10, 20}
	// Odd count: the middle value per coordinate, whatever the weights.
	odd := [][]float64{{1, -5}, {100, 0}, {3, 2}, {-7, 9}, {2, 1}}
	got := aggregate(t, s, global, odd, []int64{1000, 1, 1, 1, 1})
	if want := []float64{10 + 2, 20 + 1}; !slices.Equal(got, want) {
		t.Errorf("median of odd count = %v, want %v", got, want)
	}
	// Even count: midpoint of the two middle values.
	even := [][]float64{{1, -5}, {100, 0}, {3, 2}, {-7, 9}}
	got = aggregate(t, s, global, even, nil)
	if want := []float64{10 + 2, 20 + 1}; !slices.Equal(got, want) {
		t.Errorf("median of even count = %v, want %v", got, want)
	}
}

func TestTrimmedMeanMatchesSortAndAverage(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct {
		beta float64
		n, k int // k = ⌊β·n⌋ worked out by hand
	}{
		{0.1, 10, 1}, {0.2, 10, 2}, {0.25, 9, 2}, {0.49, 7, 3}, {0.1, 5, 0},
	} {
		s, err := New(NameTrimmedMean, Options{TrimFraction: tc.beta})
		if err != nil {
			t.Fatal(err)
		}
		const dim = 6
		global := randVec(r, dim, 1)
		deltas := make([][]float64, tc.n)
		for i := range deltas {
			deltas[i] = randVec(r, dim, 1)
		}
		deltas[0][0] = 1e6 // an outlier that must be trimmed when k ≥ 1
		got := aggregate(t, s, global, deltas, nil)
		for j := range dim {
			col := make([]float64, tc.n)
			for i := range col {
				col[i] = deltas[i][j]
			}
			slices.Sort(col)
			var sum float64
			for _, x := range col[tc.k : tc.n-tc.k] {
				sum += x
			}
			want := global[j] + sum/float64(tc.n-2*tc.k)
			if !closeRel(got[j], want, 1e-12) {
				t.Errorf("β=%v n=%d coordinate %d = %v, want %v", tc.beta, tc.n, j, got[j], want)
			}
		}
	}
}

// Robust rules are unweighted and move to global+Δ for identical updates.
func TestRobustIdenticalAndUnweighted(t *testing.T) {
	global := []float64{1, 2, 3}
	d := []float64{0.5, -0.25, 0}
	for _, name := range []string{NameMedian, NameTrimmedMean, NameKrum, NameMultiKrum} {
		s, _ := New(name, Options{})
		got := aggregate(t, s, global, [][]float64{d, d, d, d}, []int64{1, 5, 9, 1000})
		if want := []float64{1.5, 1.75, 3}; !slices.Equal(got, want) {
			t.Errorf("%s identical updates = %v, want %v", name, got, want)
		}
	}
}
