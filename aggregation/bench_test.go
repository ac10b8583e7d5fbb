package aggregation

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkWeightedSumAdd folds one 1M-dimensional delta per iteration.
func BenchmarkWeightedSumAdd(b *testing.B) {
	const dim = 1 << 20
	r := rand.New(rand.NewPCG(1, 1))
	delta := randVec(r, dim, 1)
	names := make([]string, 1024)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	ws := NewWeightedSum(dim)
	b.SetBytes(8 * dim)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%len(names) == 0 && i > 0 {
			b.StopTimer()
			ws = NewWeightedSum(dim)
			b.StartTimer()
		}
		if err := ws.Add(names[i%len(names)], delta, 3); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*dim/b.Elapsed().Seconds(), "values/s")
}

// benchRound aggregates k clients × dim per iteration with strategy name.
func benchRound(b *testing.B, name string, k, dim int) {
	r := rand.New(rand.NewPCG(2, 2))
	global := randVec(r, dim, 1)
	ups := make([]Update, k)
	for i := range ups {
		ups[i] = Update{Client: fmt.Sprint(i), Delta: randVec(r, dim, 0.1), NumExamples: int64(1 + r.IntN(100))}
	}
	s, err := New(name, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(8 * k * dim))
	for b.Loop() {
		agg := s.NewAggregator(1, global)
		for _, u := range ups {
			if err := agg.Add(u); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := agg.Result(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(k*dim)/b.Elapsed().Seconds(), "values/s")
}

func BenchmarkFedAvg100x10k(b *testing.B)      { benchRound(b, NameFedAvg, 100, 10_000) }
func BenchmarkFedAdam100x10k(b *testing.B)     { benchRound(b, NameFedAdam, 100, 10_000) }
func BenchmarkMedian100x10k(b *testing.B)      { benchRound(b, NameMedian, 100, 10_000) }
func BenchmarkTrimmedMean100x10k(b *testing.B) { benchRound(b, NameTrimmedMean, 100, 10_000) }
func BenchmarkKrum100x10k(b *testing.B)        { benchRound(b, NameKrum, 100, 10_000) }
