package aggregation

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestFedAvgMatchesNaiveWeightedMean(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const dim, k = 30, 12
	global := randVec(r, dim, 1)
	for _, lr := range []float64{1, 0.5} {
		for _, name := range []string{NameFedAvg, NameFedProx} {
			s, err := New(name, Options{ServerLR: lr})
			if err != nil {
				t.Fatal(err)
			}
			agg := s.NewAggregator(1, global)
			num := make([]float64, dim)
			var den float64
			for c := range k {
				d := randVec(r, dim, 0.1)
				n := int64(1 + r.IntN(500))
				if err := agg.Add(Update{Client: fmt.Sprint(c), Delta: d, NumExamples: n}); err != nil {
					t.Fatal(err)
				}
				den += float64(n)
				for i := range d {
					num[i] += float64(n) * d[i]
				}
			}
			got, err := agg.Result()
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				want := global[i] + lr*num[i]/den
				if !closeRel(got[i], want, 1e-12) {
					t.Errorf("%s η=%v: coordinate %d = %v, want %v", name, lr, i, got[i], want)
				}
			}
		}
	}
}

// With η = 1 and every client sending the same Δ, FedAvg lands on global + Δ.
func TestFedAvgIdenticalUpdates(t *testing.T) {
	global := []float64{1, -2, 0.5}
	d := []float64{0.25, 0.5, -0.125}
	s, _ := New(NameFedAvg, Options{})
	agg := s.NewAggregator(1, global)
	for c, n := range []int64{3, 100, 7} {
		if err := agg.Add(Update{Client: fmt.Sprint(c), Delta: d, NumExamples: n}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := agg.Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{1.25, -1.5, 0.375}; !slices.Equal(got, want) {
		t.Errorf("Result() = %v, want %v", got, want)
	}
	// A second Result returns the same model; Add after Result is refused.
	again, err := agg.Result()
	if err != nil || !slices.Equal(again, got) {
		t.Errorf("second Result() = %v, %v; want %v", again, err, got)
	}
	if err := agg.Add(Update{Client: "late", Delta: d, NumExamples: 1}); err == nil {
		t.Error("Add after Result succeeded")
	}
}

func TestApplyMeanErrors(t *testing.T) {
	for _, name := range []string{NameFedAvg, NameFedProx} {
		s, _ := New(name, Options{})
		ms := s.(MeanStrategy)
		for _, tc := range []struct {
			global, mean []float64
			want         error
		}{
			{[]float64{1, 2}, []float64{1}, ErrWrongLength},
			{[]float64{1}, []float64{1, 2}, ErrWrongLength},
			{[]float64{1, 2}, nil, ErrWrongLength},
			{[]float64{1, 2}, []float64{0, math.NaN()}, ErrNotFinite},
			{[]float64{1, 2}, []float64{math.Inf(-1), 0}, ErrNotFinite},
			{[]float64{math.MaxFloat64, 0}, []float64{math.MaxFloat64, 0}, ErrNotFinite}, // overflows
		} {
			got, err := ms.ApplyMean(1, tc.global, tc.mean)
			if got != nil || !errors.Is(err, tc.want) {
				t.Errorf("%s: ApplyMean(%v, %v) = %v, %v; want nil and an error wrapping %v",
					name, tc.global, tc.mean, got, err, tc.want)
			} else if !strings.Contains(err.Error(), name) {
				t.Errorf("%s: error %q does not name the strategy", name, err)
			}
		}
	}
}
