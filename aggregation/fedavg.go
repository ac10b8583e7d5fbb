package aggregation

import (
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// meanApplier is implemented by the strategies whose aggregators stream through
// a WeightedSum (it is MeanStrategy's ApplyMean); on error the strategy's state
// is unchanged.
type meanApplier interface {
	ApplyMean(round int, global, meanDelta []float64) ([]float64, error)
}

// meanAggregator folds updates into a WeightedSum weighted by example counts and
// hands the mean to the strategy. Memory: 2·dim floats (sum and compensation),
// or two 256 KiB buffers once spilled to a Scratch; global is read, never
// copied or written, so the caller must not modify it while the aggregator
// is in use (the coordinator never modifies a published model).
type meanAggregator struct {
	strategy meanApplier
	round    int
	global   []float64
	sum      *WeightedSum // made by the first Add or Spill
	result   []float64    // set by the first successful Result
	written  bool         // set by a successful ResultTo
}

func newMeanAggregator(s meanApplier, round int, global []float64) *meanAggregator {
	return &meanAggregator{strategy: s, round: round, global: global}
}

// weightedSum returns the running sum, in memory unless Spill chose a file.
func (a *meanAggregator) weightedSum() *WeightedSum {
	if a.sum == nil {
		a.sum = NewWeightedSum(len(a.global))
	}
	return a.sum
}

// Spill implements Spiller.
func (a *meanAggregator) Spill(s Scratch) error {
	if a.sum != nil || a.result != nil || a.written {
		return errors.New("aggregation: Spill after the first Add or the result")
	}
	a.sum = NewWeightedSumIn(len(a.global), s)
	return nil
}

// Add validates u and folds NumExamples·Delta into the running sum. Delta is not
// retained.
func (a *meanAggregator) Add(u Update) error {
	if a.result != nil || a.written {
		return updateErr(u.Client, -1, ErrClosed, "")
	}
	return a.weightedSum().Add(u.Client, u.Delta, float64(u.NumExamples))
}

// AddVector is Add for an update read from v (once or twice, see
// WeightedSum.AddVector; it is not retained).
func (a *meanAggregator) AddVector(client string, v Vector, numExamples int64) error {
	if a.result != nil || a.written {
		return updateErr(client, -1, ErrClosed, "")
	}
	return a.weightedSum().AddVector(client, v, float64(numExamples))
}

// meanApplierInPlace is implemented by strategies that can write the next
// global model over the mean delta's storage (FedAvg and FedProx), which
// meanAggregator owns once the sum is taken. It has ApplyMean's contract;
// on error meanDelta's contents are unspecified (no caller reads them).
type meanApplierInPlace interface {
	applyMeanInPlace(round int, global, meanDelta []float64) ([]float64, error)
}

// Result applies the example-weighted mean delta. The mean is computed in the
// sum's own storage, and FedAvg writes the next model there too, so the
// result costs no model-sized allocation for it and one at most otherwise.
// The first call's slice belongs to the caller; a second call returns a copy
// of the result without touching the strategy's state again.
func (a *meanAggregator) Result() ([]float64, error) {
	if a.result != nil {
		return clone(a.result), nil
	}
	if a.written {
		return nil, fmt.Errorf("aggregation: the result was written by ResultTo: %w", ErrClosed)
	}
	mean, err := a.weightedSum().takeMean()
	if err != nil {
		return nil, err
	}
	out, err := a.apply(mean)
	if err != nil {
		return nil, err
	}
	a.result = out
	return out, nil
}

// apply hands the mean delta to the strategy, in place if it can.
func (a *meanAggregator) apply(mean []float64) ([]float64, error) {
	if ip, ok := a.strategy.(meanApplierInPlace); ok {
		return ip.applyMeanInPlace(a.round, a.global, mean)
	}
	return a.strategy.ApplyMean(a.round, a.global, mean)
}

// ResultTo implements ResultWriter. The mean is computed into dst and
// FedAvg writes the next model over it, so no model-sized slice is
// allocated at all.
func (a *meanAggregator) ResultTo(dst []float64) error {
	if a.result != nil || a.written {
		return fmt.Errorf("aggregation: the result was already taken: %w", ErrClosed)
	}
	if len(dst) != len(a.global) {
		return fmt.Errorf("aggregation: result buffer has %d values, the model %d: %w", len(dst), len(a.global), ErrWrongLength)
	}
	if err := a.weightedSum().takeMeanInto(dst); err != nil {
		return err
	}
	out, err := a.apply(dst)
	if err != nil {
		return err
	}
	if unsafe.SliceData(out) != unsafe.SliceData(dst) {
		copy(dst, out)
	}
	a.written = true
	return nil
}

// fedAvg is FedAvg (McMahan et al. 2017) with a server learning rate η:
// x ← x + η·Σ n_kΔ_k/Σ n_k. With mu > 0 it is FedProx (Li et al. 2020), whose
// server side is identical; only the clients' local objective changes.
type fedAvg struct {
	name string
	lr   float64
	mu   float64
}

var _ MeanStrategy = (*fedAvg)(nil)

func (s *fedAvg) Name() string { return s.name }

// ConfigureFit asks clients for the proximal term μ (0 for plain FedAvg).
func (s *fedAvg) ConfigureFit(int) FitConfig { return FitConfig{ProximalMu: s.mu} }

// NewAggregator returns a streaming aggregator; it reads global, never
// copies or writes it.
func (s *fedAvg) NewAggregator(round int, global []float64) Aggregator {
	return newMeanAggregator(s, round, global)
}

// ApplyMean returns global + η·meanDelta. It fails with ErrWrongLength if the
// lengths differ and with ErrNotFinite if meanDelta or the result is not finite.
// FedAvg keeps no state, so an error changes nothing.
func (s *fedAvg) ApplyMean(round int, global, meanDelta []float64) ([]float64, error) {
	return s.applyMeanInPlace(round, global, clone(meanDelta))
}

// applyMeanInPlace is ApplyMean writing global + η·meanDelta over meanDelta
// (whose contents are unspecified on error).
func (s *fedAvg) applyMeanInPlace(_ int, global, meanDelta []float64) ([]float64, error) {
	if err := checkMean(s.name, global, meanDelta); err != nil {
		return nil, err
	}
	for i, g := range global {
		meanDelta[i] = g + s.lr*meanDelta[i]
	}
	if err := checkResult(s.name, meanDelta); err != nil {
		return nil, err
	}
	return meanDelta, nil
}

// checkMean validates ApplyMean's arguments: equal lengths and a finite mean
// delta.
func checkMean(name string, global, meanDelta []float64) error {
	if len(global) != len(meanDelta) {
		return fmt.Errorf("aggregation: %s: mean delta has %d values, global %d: %w",
			name, len(meanDelta), len(global), ErrWrongLength)
	}
	for i, v := range meanDelta {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("aggregation: %s: mean delta coordinate %d is %v: %w", name, i, v, ErrNotFinite)
		}
	}
	return nil
}

// checkResult rejects a next global model with NaN or ±Inf.
func checkResult(name string, out []float64) error {
	for i, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("aggregation: %s: next global coordinate %d is %v: %w", name, i, v, ErrNotFinite)
		}
	}
	return nil
}

func clone(x []float64) []float64 {
	return append(make([]float64, 0, len(x)), x...)
}
