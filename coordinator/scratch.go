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

// scratchFile is a round's scratch file.
type scratchFile struct {
	*os.File
	linked bool // removing it while open failed (Windows): close removes it
}

// newScratch returns a scratch file for the running sum of a dim-parameter
// model, or nil if the model is small enough to sum in memory.
func (e *Engine) newScratch(dim int) (*scratchFile, error) {
	if 8*dim < spoolMinBytes {
		return nil, nil
	}
	f, err := os.CreateTemp(e.o.ScratchDir, "cohort-sum-*")
	if err != nil {
		return nil, fmt.Errorf("coordinator: creating the scratch file for the round's running sum: %w", err)
	}
	// POSIX keeps an unlinked file's data until it is closed.
	return &scratchFile{File: f, linked: os.Remove(f.Name()) != nil}, nil
}

// close closes the file, and removes it if it could not be unlinked.
func (s *scratchFile) close() {
	_ = s.Close() // scratch: nothing to flush or keep
	if s.linked {
		_ = os.Remove(s.Name())
	}
}

// newSum returns the weighted sum of a phase, in f if it is not nil.
func newSum(dim int, f *scratchFile) *aggregation.WeightedSum {
	if f == nil {
		return aggregation.NewWeightedSum(dim)
	}
	return aggregation.NewWeightedSumIn(dim, f)
}

// dropScratch closes the fit phase's scratch file, if any. Callers hold e.mu
// (or own ar alone), and drop the sum that used it at the same time.
func (ar *activeRun) dropScratch() {
	if ar.scratch != nil {
		ar.scratch.close()
		ar.scratch = nil
	}
}
