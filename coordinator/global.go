package coordinator

import (
	"fmt"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/internal/offheap"
)

// The current global model is the coordinator's one large, long-lived
// object. It is held in an offheap.Floats (outside the Go heap from 1 MiB),
// so the collector's headroom does not double its cost, and is
// reference-counted: the run holds one reference, and each download of it
// holds another until its last chunk is sent, so a model replaced by the
// next round stays valid for the downloads still reading it.

// holdGlobal makes a copy of p, at the given version, the run's model.
// Callers hold e.mu once the run is shared.
func (ar *activeRun) holdGlobal(p []float64, version int) error {
	f, err := holdParams(p)
	if err != nil {
		return err
	}
	ar.setGlobal(f, version)
	return nil
}

// setGlobal replaces the run's model by f (nil at the end of the run),
// taking over the caller's reference, and drops the run's reference to the
// previous one. Callers hold e.mu once the run is shared.
func (ar *activeRun) setGlobal(f *offheap.Floats, version int) {
	old := ar.model
	ar.model, ar.global, ar.version = f, nil, version
	if f != nil {
		ar.global = f.Values()
	}
	if old != nil {
		old.Release()
	}
}

// aggregateResult takes the round's result from agg into a new held
// vector, written there directly when agg can (no model-sized slice on the
// heap). It returns nil, nil when the strategy keeps the previous model.
func aggregateResult(agg aggregation.Aggregator, dim int) (*offheap.Floats, error) {
	if rw, ok := agg.(aggregation.ResultWriter); ok {
		f, err := offheap.New(dim)
		if err != nil {
			return nil, fmt.Errorf("coordinator: holding the next global model: %w", err)
		}
		if err := rw.ResultTo(f.Values()); err != nil {
			f.Release()
			return nil, err
		}
		return f, nil
	}
	p, err := agg.Result()
	if err != nil || p == nil {
		return nil, err
	}
	return holdParams(p)
}

// holdParams copies a global model computed on the heap into a held
// vector.
func holdParams(p []float64) (*offheap.Floats, error) {
	f, err := offheap.Copy(p)
	if err != nil {
		return nil, fmt.Errorf("coordinator: holding a global model: %w", err)
	}
	return f, nil
}
