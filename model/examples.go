package model

import "fmt"

// Examples is a dense, row-major design matrix with integer class labels and
// optional per-example weights. It is the only data type the learners accept.
//
// Invariants (checked by Validate): len(X) == N*D, len(Y) == N, every Y[i] is a
// class index in [0, classes), and W is either nil (all weights 1) or of length N
// with finite, non-negative entries.
type Examples struct {
	X    []float64 // N rows of D features, row-major
	Y    []int     // class index per row
	W    []float64 // optional sample weights; nil means 1 for every row
	N, D int
}

// Row returns the i-th feature row. The slice aliases X; callers must not modify it.
func (e Examples) Row(i int) []float64 { return e.X[i*e.D : (i+1)*e.D] }

// Weight returns the sample weight of row i (1 when W is nil).
func (e Examples) Weight(i int) float64 {
	if e.W == nil {
		return 1
	}
	return e.W[i]
}

// Subset returns the rows at idx as a new Examples that shares no memory with e.
func (e Examples) Subset(idx []int) Examples {
	out := Examples{X: make([]float64, 0, len(idx)*e.D), Y: make([]int, 0, len(idx)), N: len(idx), D: e.D}
	if e.W != nil {
		out.W = make([]float64, 0, len(idx))
	}
	for _, i := range idx {
		out.X = append(out.X, e.Row(i)...)
		out.Y = append(out.Y, e.Y[i])
		if e.W != nil {
			out.W = append(out.W, e.W[i])
		}
	}
	return out
}

// Validate checks the invariants above for a task with the given number of classes.
func (e Examples) Validate(classes int) error {
	if e.N < 0 || e.D <= 0 {
		return fmt.Errorf("model: examples have %d rows and %d features", e.N, e.D)
	}
	if len(e.X) != e.N*e.D {
		return fmt.Errorf("model: len(X)=%d, want N*D=%d", len(e.X), e.N*e.D)
	}
	if len(e.Y) != e.N {
		return fmt.Errorf("model: len(Y)=%d, want N=%d", len(e.Y), e.N)
	}
	for i, y := range e.Y {
		if y < 0 || y >= classes {
			return fmt.Errorf("model: label %d of row %d is outside [0,%d)", y, i, classes)
		}
	}
	if e.W != nil {
		if len(e.W) != e.N {
			return fmt.Errorf("model: len(W)=%d, want N=%d", len(e.W), e.N)
		}
		for i, w := range e.W {
			if !(w >= 0) || w > 1e300 {
				return fmt.Errorf("model: weight %v of row %d is not a finite non-negative number", w, i)
			}
		}
	}
	return nil
}
