package coordinator

import (
	"fmt"
	"os"

	"github.com/cohortfl/cohort/aggregation"
)

// A round's running sum holds two model-sized vectors (the sum and its
// compensation terms). For a model of at least spoolMinBytes they are kept
// in a scratch file in Options.ScratchDir instead of memory: the page cache
// absorbs the reads and writes, and the coordinator's resident memory stays
// near one copy of the model. The file is unlinked as soon as it is created,
// so a crash leaves nothing behind, and it is closed when the phase's sum is
// consumed or abandoned.

// newScratch returns an unlinked scratch file for the running sum of a
// dim-parameter model, or nil if the model is small enough to sum in memory.
func (e *Engine) newScratch(dim int) (*os.File, error) {
	if 8*dim < spoolMinBytes {
		return nil, nil
	}
	f, err := os.CreateTemp(e.o.ScratchDir, "cohort-sum-*")
	if err != nil {
		return nil, fmt.Errorf("coordinator: creating the scratch file for the round's running sum: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("coordinator: unlinking the scratch file %s: %w", f.Name(), err)
	}
	return f, nil
}

// newSum returns the weighted sum of a phase, in f if it is not nil.
func newSum(dim int, f *os.File) *aggregation.WeightedSum {
	if f == nil {
		return aggregation.NewWeightedSum(dim)
	}
	return aggregation.NewWeightedSumIn(dim, f)
}

// dropScratch closes the fit phase's scratch file, if any. Callers hold e.mu
// (or own ar alone), and drop the sum that used it at the same time.
func (ar *activeRun) dropScratch() {
	if ar.scratch != nil {
		_ = ar.scratch.Close() // unlinked: nothing to flush or keep
		ar.scratch = nil
	}
}
