// Package offheap holds large float64 vectors outside the Go heap.
//
// The Go collector lets the heap grow to about twice what it found live
// (GOGC=100) before it collects again. For a coordinator whose only large,
// long-lived object is the global model, that doubles the model's cost in
// resident memory: the model's bytes are live, and as many bytes of
// short-lived garbage (upload chunks, protobuf messages) accumulate on top of
// them between collections. A vector mapped outside the heap costs its own
// size and nothing more, and its memory returns to the system the moment it
// is released.
//
// The price is manual lifetime management, which this package makes explicit
// with reference counts: New returns a vector with one reference, Retain adds
// one, Release drops one, and the last Release unmaps the memory. A slice
// obtained from Values must not be used after the reference it was read
// under is released; doing so faults (the program crashes) rather than
// reading freed memory silently.
//
// Vectors smaller than MinBytes, and all vectors on platforms without mmap,
// are ordinary heap slices with the same API.
package offheap
