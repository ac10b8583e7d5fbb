package offheap

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// MinBytes is the size from which New maps a vector outside the heap: below
// it, the collector's overhead is small next to the rest of the process and
// a mapping (a system call, a whole number of pages) is not worth it.
const MinBytes = 1 << 20

// Floats is a reference-counted vector of float64s. The zero value is not
// usable; make one with New or Copy. Its methods are safe for concurrent use.
type Floats struct {
	v    []float64
	mem  []byte // the mapping; nil for a heap vector
	refs atomic.Int64
}

// New returns n zeroed values with one reference.
func New(n int) (*Floats, error) {
	if n < 0 {
		return nil, fmt.Errorf("offheap: negative length %d", n)
	}
	f := &Floats{}
	f.refs.Store(1)
	if 8*n < MinBytes {
		f.v = make([]float64, n)
		return f, nil
	}
	v, mem, err := mapFloats(n)
	if err != nil {
		return nil, fmt.Errorf("offheap: mapping %d values (%d bytes): %w", n, 8*n, err)
	}
	f.v, f.mem = v, mem
	return f, nil
}

// Copy returns a new vector holding p's values, with one reference.
func Copy(p []float64) (*Floats, error) {
	f, err := New(len(p))
	if err != nil {
		return nil, err
	}
	copy(f.v, p)
	return f, nil
}

// Values returns the vector's storage. It is valid until the reference under
// which it was obtained is released.
func (f *Floats) Values() []float64 { return f.v }

// Len returns the number of values.
func (f *Floats) Len() int { return len(f.v) }

// Mapped reports whether the values live outside the Go heap.
func (f *Floats) Mapped() bool { return f.mem != nil }

// Retain adds a reference and returns f. It panics if f was already freed:
// that is a use after free, which must not go unnoticed.
func (f *Floats) Retain() *Floats {
	if f.refs.Add(1) <= 1 {
		panic("offheap: Retain of a released vector")
	}
	return f
}

// Release drops a reference. The last one frees the storage (unmapping it
// at once if it is mapped). It panics on a release without a reference.
func (f *Floats) Release() {
	switch n := f.refs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panic("offheap: Release of a released vector")
	}
	mem := f.mem
	f.v, f.mem = nil, nil
	if mem != nil {
		if err := unmap(mem); err != nil {
			// The pages stay mapped (a leak, not corruption); the process
			// cannot do better than report it.
			panic(fmt.Sprintf("offheap: unmapping %d bytes: %v", len(mem), err))
		}
	}
}

// Bytes views p's memory as bytes, in the machine's byte order, without
// copying: for writing a vector to a file or hash as it lies in memory. The
// view aliases p and is valid as long as p is.
func Bytes(p []float64) []byte {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(p))), 8*len(p))
}
