package aggregation

import (
	"errors"
	"fmt"
	"math"
)

// WeightedSum is the streaming primitive behind every mean-based strategy: it
// folds client vectors into Σ w_k·Δ_k and Σ w_k as they arrive, so its memory is
// O(dim) for the vector state whatever the number of clients (plus one map entry
// per client id, to reject duplicates). It never retains the slices passed to Add.
//
// # Determinism
//
// Each coordinate is accumulated with compensated summation (Knuth's TwoSum: the
// running sum s and the exact rounding error of every addition, gathered in c).
// The products w_k·Δ_k are rounded identically whatever the arrival order, and
// s+c equals the exact sum of those products to within about one ulp of the sum
// plus O(K²·ε²)·Σ|w_k·Δ_k|. Two arrival orders therefore give results that agree
// to a few ulps (far below 1e-12 relative) unless the coordinate's sum cancels
// catastrophically (condition number above ~1e12). Results are not promised to
// be bit-identical across orders; feed updates in a canonical order (for example
// sorted by client id) when bit-for-bit reproducibility is required. Weights
// that are integers below 2^53 (example counts) are summed exactly.
//
// The state lives in memory, or in a Scratch (NewWeightedSumIn) for models
// large enough that two more model-sized vectors in memory matter.
//
// A WeightedSum is not safe for concurrent use.
type WeightedSum struct {
	dim        int
	st         sumState // nil once takeMean has handed over the storage
	wSum, wErr float64
	bound      float64 // ≥ every |sum coordinate|: Σ w_k·max|Δ_k|
	count      int
	seen       map[string]struct{}
	broken     error // see AddVector
}

// NewWeightedSum returns an empty sum of dim-dimensional vectors, held in
// memory. A negative dim gives a sum that rejects every vector with
// ErrWrongLength.
func NewWeightedSum(dim int) *WeightedSum {
	n := max(dim, 0)
	return &WeightedSum{
		dim:  dim,
		st:   &memState{sum: make([]float64, n), comp: make([]float64, n)},
		seen: make(map[string]struct{}),
	}
}

// NewWeightedSumIn is NewWeightedSum with the state (16·dim bytes) kept in
// f, which must be empty, instead of memory; the sum then holds only two
// 256 KiB buffers. Every Add reads and writes f, about 32·dim bytes of I/O
// (40·dim when it must validate first), which the page cache usually
// absorbs. An I/O error while folding breaks the sum (see AddVector). The
// sum never closes f.
func NewWeightedSumIn(dim int, f Scratch) *WeightedSum {
	n := max(dim, 0)
	return &WeightedSum{dim: dim, st: newFileState(f, n), seen: make(map[string]struct{})}
}

// Add folds weight·delta into the sum on behalf of client. It returns an
// *UpdateError wrapping ErrNoClient, ErrWrongLength, ErrBadWeight (weight not a
// finite positive number), ErrDuplicate, or ErrNotFinite (a NaN or ±Inf value, or
// a weighted value that would overflow the sum). On error the sum is unchanged.
// delta is only read during the call.
func (ws *WeightedSum) Add(client string, delta []float64, weight float64) error {
	return ws.AddVector(client, Values(delta), weight)
}

// AddVector is Add with the values read from v, twice: once to validate
// every coordinate before the state is touched, once to fold (once only if
// v is a BoundedVector whose bound rules out an overflow). If v fails on
// the second read (an I/O error on a spooled upload), or the state cannot be
// written back (a Scratch), the sum holds part of the update and cannot be
// repaired: it is then broken, and every later call, Mean and Err return
// that error, so the round is abandoned rather than published with a
// partial update. A failure to read the state during validation leaves the
// sum unchanged and usable.
func (ws *WeightedSum) AddVector(client string, v Vector, weight float64) error {
	if ws.broken != nil {
		return ws.broken
	}
	if err := checkHeader(ws.dim, client, v.Len(), weight, ws.seen); err != nil {
		return err
	}
	newW, _ := twoSum(ws.wSum, weight)
	if math.IsInf(newW, 0) {
		return updateErr(client, -1, ErrBadWeight, "total weight overflows")
	}
	// The validation pass reads the sum and the update. It is skipped when
	// the update's bound shows that no coordinate can overflow: |s_i| ≤
	// bound, and bound + weight·max|Δ| ≤ MaxFloat64/4 leaves room for the
	// rounding of every later addition.
	var maxAbs float64
	bv, bounded := v.(BoundedVector)
	if bounded {
		maxAbs = bv.MaxAbs()
		bounded = maxAbs >= 0 && ws.bound+weight*maxAbs <= math.MaxFloat64/4 // false for NaN and +Inf
	}
	if !bounded {
		maxAbs = 0
		err := ws.windows(v, false, func(off int, chunk, s, _ []float64) error {
			for i, x := range chunk {
				if t := s[i] + weight*x; t-t != 0 { // NaN or ±Inf
					if math.IsNaN(x) || math.IsInf(x, 0) {
						return updateErr(client, off+i, ErrNotFinite, "value %v", x)
					}
					return updateErr(client, off+i, ErrNotFinite, "weighted value %v overflows the sum", weight*x)
				}
				maxAbs = max(maxAbs, math.Abs(x))
			}
			return nil
		})
		if err != nil {
			return asUpdateErr(client, err)
		}
	}
	err := ws.windows(v, true, func(off int, chunk, s, c []float64) error {
		for i, x := range chunk {
			y := weight * x
			t := s[i] + y
			if t-t != 0 { // only a vector that broke its bound gets here
				return updateErr(client, off+i, ErrNotFinite, "value %v is outside the update's announced bound %v", x, maxAbs)
			}
			bp := t - s[i]
			c[i] += (s[i] - (t - bp)) + (y - bp)
			s[i] = t
		}
		return ws.st.put(off, s, c)
	})
	if err != nil {
		ws.broken = fmt.Errorf("aggregation: the sum holds part of client %q's update, whose values could not be read again or stored: %w", client, err)
		return ws.broken
	}
	var e float64
	ws.wSum, e = twoSum(ws.wSum, weight)
	ws.wErr += e
	ws.bound += weight * maxAbs
	ws.count++
	ws.seen[client] = struct{}{}
	return nil
}

// windows calls fn with v's values in pieces no longer than the state's
// window, each with the state's window over the same coordinates (with the
// compensation terms read only if comp).
func (ws *WeightedSum) windows(v Vector, comp bool, fn func(off int, chunk, s, c []float64) error) error {
	w := ws.st.maxWindow()
	return eachChunk(v, func(off int, chunk []float64) error {
		for lo := 0; lo < len(chunk); lo += w {
			part := chunk[lo:min(lo+w, len(chunk))]
			s, c, err := ws.st.window(off+lo, len(part), comp)
			if err != nil {
				return err
			}
			if err := fn(off+lo, part, s, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// Err returns nil, or the error that broke the sum (see AddVector).
func (ws *WeightedSum) Err() error { return ws.broken }

// asUpdateErr returns err if it is an *UpdateError, otherwise err as one
// (with its sentinel if it wraps ErrWrongLength).
func asUpdateErr(client string, err error) error {
	var ue *UpdateError
	if errors.As(err, &ue) {
		return err
	}
	if errors.Is(err, ErrWrongLength) {
		return &UpdateError{Client: client, Index: -1, Detail: err.Error(), Err: ErrWrongLength}
	}
	return fmt.Errorf("aggregation: reading client %q's update: %w", client, err)
}

// twoSum returns a+b rounded and the exact rounding error (Knuth).
func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bp := s - a
	e = (a - (s - bp)) + (b - bp)
	return s, e
}

// Count returns the number of vectors added.
func (ws *WeightedSum) Count() int { return ws.count }

// TotalWeight returns Σ w_k.
func (ws *WeightedSum) TotalWeight() float64 { return ws.wSum + ws.wErr }

// Sum returns a new slice holding Σ w_k·Δ_k (all zeros before the first Add).
// It fails only if the state cannot be read (a Scratch), or the sum is broken.
func (ws *WeightedSum) Sum() ([]float64, error) {
	if ws.broken != nil {
		return nil, ws.broken
	}
	if ws.st == nil {
		return nil, fmt.Errorf("aggregation: the sum's storage was handed over with its mean: %w", ErrClosed)
	}
	out := make([]float64, max(ws.dim, 0))
	err := eachWindow(ws.st, len(out), func(off int, s, c []float64) error {
		for i := range s {
			out[off+i] = s[i] + c[i]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// takeMean returns the mean, ending the sum's use: further Adds fail. In
// memory, it is computed into the sum's own storage, which saves a
// model-sized allocation for aggregators that need the mean only once.
func (ws *WeightedSum) takeMean() ([]float64, error) {
	m, ok := ws.st.(*memState)
	if !ok || ws.meanReady() != nil {
		out, err := ws.Mean()
		if err == nil {
			ws.st, ws.dim = nil, -1 // released; Add now fails with ErrWrongLength
		}
		return out, err
	}
	w := ws.TotalWeight()
	for i := range m.sum { // check first, so an error leaves the sum intact
		if v := (m.sum[i] + m.comp[i]) / w; math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("aggregation: mean of coordinate %d: %w", i, ErrNotFinite)
		}
	}
	for i := range m.sum {
		m.sum[i] = (m.sum[i] + m.comp[i]) / w
	}
	ws.st, ws.dim = nil, -1 // released; Add now fails with ErrWrongLength
	return m.sum, nil
}

// meanReady returns the error Mean reports before looking at the values.
func (ws *WeightedSum) meanReady() error {
	switch {
	case ws.broken != nil:
		return ws.broken
	case ws.st == nil:
		return fmt.Errorf("aggregation: the sum's storage was handed over with its mean: %w", ErrClosed)
	case ws.count == 0:
		return ErrNoUpdates
	}
	return nil
}

// Mean returns a new slice holding Σ w_k·Δ_k / Σ w_k. It returns ErrNoUpdates
// before the first Add, an error wrapping ErrNotFinite if a coordinate of
// the mean overflows (possible only with weights below 1), and an I/O error
// if the state cannot be read (a Scratch).
func (ws *WeightedSum) Mean() ([]float64, error) {
	if err := ws.meanReady(); err != nil {
		return nil, err
	}
	out := make([]float64, ws.dim)
	if err := ws.meanInto(out); err != nil {
		return nil, err
	}
	return out, nil
}

// takeMeanInto is Mean written into dst (len ws.dim), ending the sum's use
// as takeMean does. On error dst's contents are unspecified and the sum is
// left as it was.
func (ws *WeightedSum) takeMeanInto(dst []float64) error {
	if err := ws.meanReady(); err != nil {
		return err
	}
	if len(dst) != ws.dim {
		return fmt.Errorf("aggregation: mean buffer has %d values, the sum %d: %w", len(dst), ws.dim, ErrWrongLength)
	}
	if err := ws.meanInto(dst); err != nil {
		return err
	}
	ws.st, ws.dim = nil, -1 // released; Add now fails with ErrWrongLength
	return nil
}

// meanInto writes the mean into out (len ws.dim); the caller has checked
// meanReady.
func (ws *WeightedSum) meanInto(out []float64) error {
	w := ws.TotalWeight()
	return eachWindow(ws.st, len(out), func(off int, s, c []float64) error {
		for i := range s {
			v := (s[i] + c[i]) / w
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return fmt.Errorf("aggregation: mean of coordinate %d: %w", off+i, ErrNotFinite)
			}
			out[off+i] = v
		}
		return nil
	})
}
