package aggregation

import (
	"errors"
	"fmt"
	"io"

	"github.com/cohortfl/cohort/internal/offheap"
)

// A Scratch is storage outside memory for an aggregator's running state
// (a WeightedSum's sum and compensation terms: two model-sized vectors).
// The coordinator passes an unlinked temporary file (*os.File) for large
// models, so that the state costs page cache, which the kernel can write
// back and reclaim, rather than resident memory.
//
// ReadAt and WriteAt have the io.ReaderAt and io.WriterAt contracts. Bytes
// never written read as zeros or return io.EOF; the aggregator treats the
// two alike. The layout is private to the aggregator (native byte order),
// so a Scratch must start empty and must not be shared or reused.
type Scratch interface {
	io.ReaderAt
	io.WriterAt
}

// A Spiller is an Aggregator that can keep its running state in a Scratch.
type Spiller interface {
	// Spill moves the running state to s. It must be called before the
	// first Add; afterwards it fails. The aggregator reads and writes s
	// until Result returns (or the aggregator is dropped) and never closes
	// it: the caller does, after that.
	Spill(s Scratch) error
}

// A ResultWriter is an Aggregator that can write its result into storage
// the caller provides (the coordinator keeps large models outside the Go
// heap, see internal/offheap).
type ResultWriter interface {
	// ResultTo is Result with the next global parameters written into dst,
	// whose length must be the model's dimension; it never means "keep the
	// previous model". Afterwards Add, Result and ResultTo fail with
	// ErrClosed. On error dst's contents are unspecified and the round's
	// aggregate may be spent, as after a failed Result.
	ResultTo(dst []float64) error
}

// sumState holds a WeightedSum's running sum and compensation terms.
type sumState interface {
	// window returns the sum and compensation terms of coordinates
	// [off, off+n), with n ≤ maxWindow(). The slices are valid until the
	// next call; changes to them persist only after put. Without comp,
	// c may hold anything (a reader that needs only the sum saves the I/O).
	window(off, n int, comp bool) (s, c []float64, err error)
	// put stores back the window last returned.
	put(off int, s, c []float64) error
	// maxWindow is the largest n window accepts.
	maxWindow() int
}

// memState keeps the state in two slices; windows are views of them.
type memState struct{ sum, comp []float64 }

func (m *memState) window(off, n int, _ bool) ([]float64, []float64, error) {
	return m.sum[off : off+n], m.comp[off : off+n], nil
}
func (m *memState) put(int, []float64, []float64) error { return nil }
func (m *memState) maxWindow() int                      { return max(len(m.sum), 1) }

// fileWindow is the number of coordinates a fileState moves per read or
// write: 256 KiB of sum and as much of compensation terms.
const fileWindow = 1 << 15

// fileState keeps the state in a Scratch: the dim sums, then the dim
// compensation terms, as native float64s.
type fileState struct {
	f    Scratch
	dim  int
	s, c []float64 // window buffers
}

func newFileState(f Scratch, dim int) *fileState {
	w := min(dim, fileWindow)
	return &fileState{f: f, dim: dim, s: make([]float64, w), c: make([]float64, w)}
}

func (fs *fileState) maxWindow() int { return fileWindow }

func (fs *fileState) window(off, n int, comp bool) ([]float64, []float64, error) {
	s, c := fs.s[:n], fs.c[:n]
	if err := readFloats(fs.f, s, 8*int64(off)); err != nil {
		return nil, nil, fmt.Errorf("aggregation: reading the running sum at coordinate %d: %w", off, err)
	}
	if !comp {
		return s, c, nil
	}
	if err := readFloats(fs.f, c, 8*int64(fs.dim+off)); err != nil {
		return nil, nil, fmt.Errorf("aggregation: reading the running sum at coordinate %d: %w", off, err)
	}
	return s, c, nil
}

func (fs *fileState) put(off int, s, c []float64) error {
	if _, err := fs.f.WriteAt(offheap.Bytes(s), 8*int64(off)); err != nil {
		return fmt.Errorf("aggregation: writing the running sum at coordinate %d: %w", off, err)
	}
	if _, err := fs.f.WriteAt(offheap.Bytes(c), 8*int64(fs.dim+off)); err != nil {
		return fmt.Errorf("aggregation: writing the running sum at coordinate %d: %w", off, err)
	}
	return nil
}

// readFloats fills p from f at byte offset at; what lies past the end of
// f reads as zeros (never written yet).
func readFloats(f Scratch, p []float64, at int64) error {
	b := offheap.Bytes(p)
	n, err := f.ReadAt(b, at)
	if errors.Is(err, io.EOF) {
		clear(b[n:])
		return nil
	}
	return err
}

// eachWindow calls fn for consecutive windows of st covering [0, dim).
func eachWindow(st sumState, dim int, fn func(off int, s, c []float64) error) error {
	for off := 0; off < dim; off += st.maxWindow() {
		n := min(st.maxWindow(), dim-off)
		s, c, err := st.window(off, n, true)
		if err != nil {
			return err
		}
		if err := fn(off, s, c); err != nil {
			return err
		}
	}
	return nil
}
