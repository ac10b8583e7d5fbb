package aggregation

import (
	"fmt"
	"math"
)

type fedOptKind int

const (
	adam fedOptKind = iota
	yogi
	adagrad
)

// fedOpt is FedAdam, FedYogi or FedAdagrad, Algorithm 2 of Reddi et al. 2021
// "Adaptive Federated Optimization". The pseudo-gradient is the round's
// example-weighted mean delta Δ (the paper averages unweighted; weighting by
// examples is what FedAvg does and what secure aggregation delivers):
//
//	m ← β1·m + (1−β1)·Δ
//	v ← v + Δ²                               (Adagrad)
//	v ← v − (1−β2)·Δ²·sign(v − Δ²)           (Yogi)
//	v ← β2·v + (1−β2)·Δ²                     (Adam)
//	x ← x + η·m / (√v + τ)
//
// with m₀ = 0 and v₀ = τ² (the paper requires v₋₁ ≥ τ²), coordinate-wise and
// without bias correction, as in the paper. m and v persist across rounds; they
// are sized by the first round and a later round of another dimension is an
// error. fedOpt is a StatefulStrategy: MarshalState and UnmarshalState (see
// fedopt_state.go) let the coordinator persist m and v with every committed
// round and restore them when it resumes a run.
type fedOpt struct {
	name            string
	kind            fedOptKind
	lr, b1, b2, tau float64
	m, v            []float64
}

func newFedOpt(name string, kind fedOptKind, o Options) *fedOpt {
	return &fedOpt{name: name, kind: kind, lr: o.ServerLR, b1: o.Beta1, b2: o.Beta2, tau: o.Tau}
}

func (s *fedOpt) Name() string { return s.name }

// ConfigureFit asks for plain local training.
func (s *fedOpt) ConfigureFit(int) FitConfig { return FitConfig{} }

// NewAggregator returns a streaming aggregator; it copies global. The optimiser
// state changes only when its Result succeeds.
func (s *fedOpt) NewAggregator(round int, global []float64) Aggregator {
	return newMeanAggregator(s, round, global)
}

// ApplyMean takes one optimiser step. It fails with ErrWrongLength if the
// lengths disagree with each other or with the state, and with ErrNotFinite if
// delta is not finite or the step or the moments m, v would not be (|Δ| near
// 1e154 makes Δ² overflow). On error m and v are unchanged.
func (s *fedOpt) ApplyMean(_ int, global, delta []float64) ([]float64, error) {
	if err := checkMean(s.name, global, delta); err != nil {
		return nil, err
	}
	d := len(global)
	if s.m != nil && len(s.m) != d {
		return nil, fmt.Errorf("aggregation: %s: optimiser state has %d values, global %d: %w",
			s.name, len(s.m), d, ErrWrongLength)
	}
	m, v := make([]float64, d), make([]float64, d)
	if s.m != nil {
		copy(m, s.m)
		copy(v, s.v)
	} else {
		for i := range v {
			v[i] = s.tau * s.tau
		}
	}
	out := make([]float64, d)
	for i, g := range delta {
		m[i] = s.b1*m[i] + (1-s.b1)*g
		g2 := g * g
		switch s.kind {
		case adagrad:
			v[i] += g2
		case yogi:
			v[i] -= (1 - s.b2) * g2 * sign(v[i]-g2)
		default:
			v[i] = s.b2*v[i] + (1-s.b2)*g2
		}
		if math.IsInf(v[i], 0) || math.IsNaN(v[i]) || math.IsInf(m[i], 0) || math.IsNaN(m[i]) {
			// Δ² overflowed (Δ itself was checked finite above): an infinite v
			// would freeze this coordinate for the rest of the run.
			return nil, fmt.Errorf("aggregation: %s: optimiser state of coordinate %d overflows (Δ = %v): %w",
				s.name, i, g, ErrNotFinite)
		}
		out[i] = global[i] + s.lr*m[i]/(math.Sqrt(max(v[i], 0))+s.tau)
	}
	if err := checkResult(s.name, out); err != nil {
		return nil, err
	}
	s.m, s.v = m, v
	return out, nil
}

func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}
