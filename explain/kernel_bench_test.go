package explain_test

import (
	"testing"

	"github.com/cohortfl/cohort/explain"
	"github.com/cohortfl/cohort/model"
)

// KernelSHAP throughput on the sizes of issue 5: P(class 1) of an MLP
// (14 features, one hidden layer of 16 ReLU units, seeded random weights)
// against 100 background rows, one Explain per op, cycling over 8 rows.
// `cohort bench --only shap` measures the same comparison on real data and
// also reports the sampled mode's error against the exact values.
const (
	benchFeatures   = 14
	benchBackground = 100
	benchRows       = 8
)

func benchKernel(b *testing.B, cfg explain.KernelConfig, wantExact bool) {
	rng := newRNG(14)
	m, err := model.New(model.Spec{Name: model.MLP, Features: benchFeatures, Classes: 2, Hidden: []int{16}})
	if err != nil {
		b.Fatal(err)
	}
	f, err := explain.ProbaFunc(m, m.Init(rng), 1)
	if err != nil {
		b.Fatal(err)
	}
	k, err := explain.NewKernel(f, randRows(rng, benchBackground, benchFeatures), benchFeatures, cfg)
	if err != nil {
		b.Fatal(err)
	}
	rows := randRows(rng, benchRows, benchFeatures)
	sampler := newRNG(15)
	i := 0
	for b.Loop() {
		x := rows[i%benchRows*benchFeatures : (i%benchRows+1)*benchFeatures]
		e, err := k.Explain(x, sampler)
		if err != nil {
			b.Fatal(err)
		}
		if e.Exact != wantExact {
			b.Fatalf("Exact = %v, want %v", e.Exact, wantExact)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "expl/s")
}

// BenchmarkKernelExact14 enumerates all 2^14 coalitions (MaxExact raised to
// 14 from the default 12): 16,382 × 100 model calls per explanation.
func BenchmarkKernelExact14(b *testing.B) {
	cfg := explain.DefaultKernelConfig()
	cfg.MaxExact = benchFeatures
	benchKernel(b, cfg, true)
}

// BenchmarkKernelSampled14 draws 2,048 coalitions (1,024 complementary pairs)
// in 16 batches for the standard errors: 2,048 × 100 model calls and 17
// least-squares solves per explanation.
func BenchmarkKernelSampled14(b *testing.B) {
	cfg := explain.DefaultKernelConfig()
	cfg.Samples = 2048
	benchKernel(b, cfg, false)
}
