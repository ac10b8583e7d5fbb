package model

import "testing"

// benchTrain measures one simulated client update: Train for one epoch,
// including input validation and per-call scratch.
func benchTrain(b *testing.B, spec Spec, n, batch int, opt string) {
	m := mustNew(b, spec)
	rng := newRNG(61)
	data := randomExamples(rng, n, spec.Features, spec.Classes, true)
	init := m.Init(rng)
	params := make([]float64, len(init))
	cfg := TrainConfig{Epochs: 1, BatchSize: batch, LearningRate: 0.05, Optimizer: opt, L2: 1e-4}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		copy(params, init)
		if _, err := Train(m, params, data, cfg, rng); err != nil {
			b.Fatal(err)
		}
	}
}

// One client's local update in the simulator: 200 rows × 12 features, one
// epoch, batch 32. The project target is ≥ 5,000 updates/s on 2 cores.
func BenchmarkLogRegEpoch(b *testing.B) {
	benchTrain(b, Spec{Name: LogReg, Features: 12, Classes: 2}, 200, 32, SGD)
}

func BenchmarkLogRegEpochAdam(b *testing.B) {
	benchTrain(b, Spec{Name: LogReg, Features: 12, Classes: 2}, 200, 32, Adam)
}

func BenchmarkSoftmaxEpoch(b *testing.B) {
	benchTrain(b, Spec{Name: Softmax, Features: 12, Classes: 4}, 200, 32, SGD)
}

func BenchmarkMLPEpoch(b *testing.B) {
	benchTrain(b, Spec{Name: MLP, Features: 12, Classes: 2, Hidden: []int{32, 16}}, 200, 32, SGD)
}

// The simulator's shape: many client updates in parallel over a shared model.
func BenchmarkLogRegEpochParallel(b *testing.B) {
	m := mustNew(b, Spec{Name: LogReg, Features: 12, Classes: 2})
	data := randomExamples(newRNG(62), 200, 12, 2, true)
	cfg := TrainConfig{Epochs: 1, BatchSize: 32, LearningRate: 0.05}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rng := newRNG(63)
		params := make([]float64, m.NumParams())
		for pb.Next() {
			clear(params)
			if _, err := Train(m, params, data, cfg, rng); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkLogRegLossGrad(b *testing.B) {
	m := mustNew(b, Spec{Name: LogReg, Features: 12, Classes: 2})
	data := randomExamples(newRNG(64), 32, 12, 2, true)
	params, grad, idx := make([]float64, 13), make([]float64, 13), allRows(32)
	b.ReportAllocs()
	for b.Loop() {
		m.LossGrad(params, data, idx, grad)
	}
}

func BenchmarkExactAUC(b *testing.B) {
	rng := newRNG(65)
	scores, labels := make([]float64, 10000), make([]int, 10000)
	for i := range scores {
		scores[i], labels[i] = rng.Float64(), rng.IntN(2)
	}
	b.ReportAllocs()
	for b.Loop() {
		ExactAUC(scores, labels)
	}
}
