package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// TrainConfig configures local training. The zero value is invalid; start from
// DefaultTrainConfig.
type TrainConfig struct {
	Epochs       int     // passes over the data, >= 1
	BatchSize    int     // rows per minibatch, >= 1; values >= N mean full batch
	LearningRate float64 // step size η > 0
	Optimizer    string  // SGD (default when empty) or Adam

	// L2 adds L2/2·‖w‖² to every batch objective. It applies to ALL parameters,
	// biases included, so the penalty is layout-agnostic.
	L2 float64
	// ProximalMu and ProximalCenter add the FedProx term μ/2·‖w − w_center‖².
	// ProximalCenter (usually the global model of the round) must have
	// len NumParams when ProximalMu > 0 and is ignored otherwise. Train only reads it.
	ProximalMu     float64
	ProximalCenter []float64

	// Adam hyper-parameters; zero selects DefaultBeta1, DefaultBeta2,
	// DefaultEpsilon. Ignored by SGD.
	Beta1, Beta2, Epsilon float64
}

// DefaultTrainConfig returns one epoch of SGD with batch size 32 and η = 0.1.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Epochs: 1, BatchSize: 32, LearningRate: 0.1, Optimizer: SGD}
}

// Validate checks the configuration on its own (the length of ProximalCenter
// is checked by Train against the model).
func (c TrainConfig) Validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("%w: epochs must be >= 1, got %d", ErrInvalidConfig, c.Epochs)
	case c.BatchSize < 1:
		return fmt.Errorf("%w: batch size must be >= 1, got %d", ErrInvalidConfig, c.BatchSize)
	case !(c.LearningRate > 0) || !finite(c.LearningRate):
		return fmt.Errorf("%w: learning rate must be finite and > 0, got %v", ErrInvalidConfig, c.LearningRate)
	case c.Optimizer != "" && c.Optimizer != SGD && c.Optimizer != Adam:
		return fmt.Errorf("%w: unknown optimizer %q (want %q or %q)", ErrInvalidConfig, c.Optimizer, SGD, Adam)
	case !(c.L2 >= 0) || !finite(c.L2):
		return fmt.Errorf("%w: L2 must be finite and >= 0, got %v", ErrInvalidConfig, c.L2)
	case !(c.ProximalMu >= 0) || !finite(c.ProximalMu):
		return fmt.Errorf("%w: proximal mu must be finite and >= 0, got %v", ErrInvalidConfig, c.ProximalMu)
	case c.ProximalMu > 0 && c.ProximalCenter == nil:
		return fmt.Errorf("%w: proximal mu %v > 0 needs a proximal center", ErrInvalidConfig, c.ProximalMu)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("%w: beta1 must be in [0,1), got %v", ErrInvalidConfig, c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("%w: beta2 must be in [0,1), got %v", ErrInvalidConfig, c.Beta2)
	case !(c.Epsilon >= 0) || !finite(c.Epsilon):
		return fmt.Errorf("%w: epsilon must be finite and >= 0, got %v", ErrInvalidConfig, c.Epsilon)
	}
	return nil
}

// Penalty returns L2/2·‖w‖² + μ/2·‖w − center‖² at params and, if grad is
// non-nil, adds its gradient L2·w + μ·(w − center) into grad. When ProximalMu > 0,
// len(ProximalCenter) must equal len(params) (Train checks this).
func (c TrainConfig) Penalty(params, grad []float64) float64 {
	pen := 0.0
	if c.L2 > 0 {
		s := 0.0
		for i, w := range params {
			s += w * w
			if grad != nil {
				grad[i] += c.L2 * w
			}
		}
		pen += c.L2 / 2 * s
	}
	if c.ProximalMu > 0 {
		ctr := c.ProximalCenter[:len(params)]
		s := 0.0
		for i, w := range params {
			d := w - ctr[i]
			s += d * d
			if grad != nil {
				grad[i] += c.ProximalMu * d
			}
		}
		pen += c.ProximalMu / 2 * s
	}
	return pen
}

// TrainStats summarises one call to Train.
type TrainStats struct {
	Steps     int     // optimizer steps taken (epochs × batches per epoch)
	FinalLoss float64 // mean batch objective over the last epoch, each measured before its step
	Examples  int     // number of local rows N (the FedAvg weight)
	WeightSum float64 // sum of sample weights over the local rows
}

// Train runs minibatch training of m on data, updating params in place.
//
// Each epoch shuffles the row order with rng (Fisher–Yates via rng.Shuffle) and
// walks it in consecutive batches of cfg.BatchSize (the last may be short).
// The objective minimised on a batch B is
//
//	Σ_{i∈B} w_i·ℓ_i / Σ_{i∈B} w_i  +  L2/2·‖θ‖²  +  μ/2·‖θ − θ_center‖²
//
// (a batch whose weights are all zero contributes only the penalties).
// Given the same model, inputs, config and rng state the result is bit-for-bit
// identical on every run of the same build on the same architecture (across
// architectures the compiler may fuse multiply-adds and math.Exp may differ in
// the last bit). Train consumes rng only for shuffling.
//
// Inputs are validated first (see Check). If the objective becomes non-finite,
// Train restores params to their values on entry and returns an error wrapping
// ErrDiverged; on any error params are unchanged and the stats are zero.
// Train allocates O(NumParams + N) scratch per call, never per example.
func Train(m Model, params []float64, data Examples, cfg TrainConfig, rng *rand.Rand) (TrainStats, error) {
	if m == nil {
		return TrainStats{}, fmt.Errorf("%w: nil model", ErrInvalidSpec)
	}
	if rng == nil {
		return TrainStats{}, fmt.Errorf("%w: nil rng", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return TrainStats{}, err
	}
	if err := Check(m, params, data); err != nil {
		return TrainStats{}, fmt.Errorf("train %s: %w", m.Name(), err)
	}
	if data.N == 0 {
		return TrainStats{}, fmt.Errorf("train %s: %w: no examples", m.Name(), ErrInvalidData)
	}
	wsum := float64(data.N)
	if data.W != nil {
		wsum = 0
		for _, w := range data.W {
			wsum += w
		}
		if !(wsum > 0) || math.IsInf(wsum, 0) {
			return TrainStats{}, fmt.Errorf("train %s: %w: sample weights sum to %v", m.Name(), ErrInvalidData, wsum)
		}
	}
	if cfg.ProximalMu > 0 {
		if len(cfg.ProximalCenter) != len(params) {
			return TrainStats{}, fmt.Errorf("train %s: %w: proximal center has %d entries, want %d", m.Name(), ErrInvalidConfig, len(cfg.ProximalCenter), len(params))
		}
		for i, v := range cfg.ProximalCenter {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return TrainStats{}, fmt.Errorf("train %s: %w: proximal center entry %d is %v", m.Name(), ErrInvalidConfig, i, v)
			}
		}
	}
	opt, err := NewOptimizer(cfg, len(params))
	if err != nil {
		return TrainStats{}, err
	}

	backup := slices.Clone(params)
	grad := make([]float64, len(params))
	perm := make([]int, data.N)
	for i := range perm {
		perm[i] = i
	}
	diverged := func(epoch, step int, loss float64) (TrainStats, error) {
		copy(params, backup)
		return TrainStats{}, fmt.Errorf("train %s: %w: objective is %v at epoch %d, step %d (learning rate %v too large?)",
			m.Name(), ErrDiverged, loss, epoch, step, cfg.LearningRate)
	}

	stats := TrainStats{Examples: data.N, WeightSum: wsum}
	for epoch := 0; epoch < cfg.Epochs; epoch++ {
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		epochLoss, batches := 0.0, 0
		for start := 0; start < len(perm); start += cfg.BatchSize {
			batch := perm[start:min(start+cfg.BatchSize, len(perm))]
			clear(grad)
			lossSum, ws := m.LossGrad(params, data, batch, grad)
			loss := 0.0
			if ws > 0 {
				loss = lossSum / ws
				inv := 1 / ws
				for i := range grad {
					grad[i] *= inv
				}
			}
			loss += cfg.Penalty(params, grad)
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return diverged(epoch, stats.Steps, loss)
			}
			opt.Step(params, grad)
			stats.Steps++
			epochLoss += loss
			batches++
		}
		stats.FinalLoss = epochLoss / float64(batches)
	}
	for _, p := range params {
		if math.IsNaN(p) || math.IsInf(p, 0) {
			return diverged(cfg.Epochs-1, stats.Steps, p)
		}
	}
	return stats, nil
}
