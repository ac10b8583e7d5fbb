package coordinator

import (
	"errors"
	"fmt"
	"io/fs"
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

// newScratch returns a scratch file for the running sum of a dim-parameter
// model, or nil if the model is small enough to sum in memory.
func (e *Engine) newScratch(dim int) (*tempFile, error) {
	if 8*dim < spoolMinBytes {
		return nil, nil
	}
	f, err := createTemp(e.o.ScratchDir, "cohort-sum-*")
	if err != nil {
		return nil, fmt.Errorf("coordinator: creating the scratch file for the round's running sum: %w", err)
	}
	return f, nil
}

// createTemp creates a temporary file in dir ("" is the system's temporary
// directory) and unlinks it at once: POSIX keeps an unlinked file's data
// until it is closed, and a crash leaves nothing behind. Where an open file
// cannot be removed (Windows), Close removes it.
func createTemp(dir, pattern string) (*tempFile, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &tempFile{File: f, linked: os.Remove(f.Name()) != nil}, nil
}

// tempFile is a file made by createTemp.
type tempFile struct {
	*os.File
	linked bool // still has a name: Close removes it
}

// Close closes the file, and removes it if it could not be unlinked.
func (t *tempFile) Close() error {
	err := t.File.Close()
	if t.linked {
		if rerr := os.Remove(t.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// newSum returns the weighted sum of a phase, in f if it is not nil.
func newSum(dim int, f *tempFile) *aggregation.WeightedSum {
	if f == nil {
		return aggregation.NewWeightedSum(dim)
	}
	return aggregation.NewWeightedSumIn(dim, f)
}

// dropScratch closes the fit phase's scratch file, if any. Callers hold e.mu
// (or own ar alone), and drop the sum that used it at the same time.
func (ar *activeRun) dropScratch() {
	if ar.scratch != nil {
		_ = ar.scratch.Close() // scratch: nothing to flush or keep
		ar.scratch = nil
	}
}
