package aggregation

import (
	"fmt"
)

// A Vector is an update's values that can be visited in order, in chunks,
// any number of times. It lets an aggregator fold an update that is not held
// in memory whole: the coordinator keeps large uploads in a spool file
// between receipt and folding.
type Vector interface {
	// Len is the number of values.
	Len() int
	// Chunks calls fn with consecutive chunks that together cover
	// [0, Len()) in order; off is the index of chunk[0]. fn must not retain
	// or modify chunk. Chunks returns fn's first error unchanged, an error
	// if the values cannot be read, or one wrapping ErrWrongLength if they
	// do not add up to Len().
	Chunks(fn func(off int, chunk []float64) error) error
}

// A BoundedVector is a Vector that knows, without reading its values, that
// every one of them is finite and at most MaxAbs() in magnitude (the
// coordinator's spool learns both while it receives an upload). A
// WeightedSum uses the bound to skip its validation read when no coordinate
// of the sum can overflow. A vector that breaks this promise cannot corrupt
// a sum silently: a non-finite coordinate met while folding breaks the sum
// (see WeightedSum.AddVector), so the round fails.
type BoundedVector interface {
	Vector
	MaxAbs() float64
}

// Values is a Vector held in memory: one chunk, the slice itself.
type Values []float64

// Len returns len(v).
func (v Values) Len() int { return len(v) }

// Chunks calls fn once with the whole slice.
func (v Values) Chunks(fn func(off int, chunk []float64) error) error { return fn(0, v) }

// A VectorAdder is an Aggregator that folds an update from a Vector without
// materialising it. AddVector has Add's contract (on error the state is
// unchanged), with the values read from v, possibly more than once.
type VectorAdder interface {
	AddVector(client string, v Vector, numExamples int64) error
}

// AddVector folds v into a on behalf of client: directly if a is a
// VectorAdder, otherwise by reading v into one slice and calling Add (the
// buffering aggregators keep a copy of every update anyway).
func AddVector(a Aggregator, client string, v Vector, numExamples int64) error {
	if va, ok := a.(VectorAdder); ok {
		return va.AddVector(client, v, numExamples)
	}
	if vs, ok := v.(Values); ok {
		return a.Add(Update{Client: client, Delta: vs, NumExamples: numExamples})
	}
	buf, err := Collect(v)
	if err != nil {
		return updateErr(client, -1, err, "")
	}
	return a.Add(Update{Client: client, Delta: buf, NumExamples: numExamples})
}

// Collect reads v into a new slice. The error wraps ErrWrongLength if the
// chunks do not cover exactly v.Len() values in order.
func Collect(v Vector) ([]float64, error) {
	if vs, ok := v.(Values); ok {
		return append([]float64(nil), vs...), nil
	}
	out := make([]float64, v.Len())
	err := eachChunk(v, func(off int, chunk []float64) error {
		copy(out[off:], chunk)
		return nil
	})
	return out, err
}

// eachChunk is v.Chunks with the chunks' offsets and lengths checked, so a
// faulty Vector cannot index past the state it is folded into.
func eachChunk(v Vector, fn func(off int, chunk []float64) error) error {
	n, next := v.Len(), 0
	err := v.Chunks(func(off int, chunk []float64) error {
		if off != next || off+len(chunk) > n {
			return fmt.Errorf("%w: chunk of %d values at %d, expected one at %d within %d values", ErrWrongLength, len(chunk), off, next, n)
		}
		next = off + len(chunk)
		return fn(off, chunk)
	})
	if err == nil && next != n {
		err = fmt.Errorf("%w: chunks ended after %d of %d values", ErrWrongLength, next, n)
	}
	return err
}
