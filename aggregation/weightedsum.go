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
// A WeightedSum is not safe for concurrent use.
type WeightedSum struct {
	dim        int
	sum, comp  []float64
	wSum, wErr float64
	count      int
	seen       map[string]struct{}
	broken     error // see AddVector
}

// NewWeightedSum returns an empty sum of dim-dimensional vectors. A negative dim
// gives a sum that rejects every vector with ErrWrongLength.
func NewWeightedSum(dim int) *WeightedSum {
	n := max(dim, 0)
	return &WeightedSum{
		dim:  dim,
		sum:  make([]float64, n),
		comp: make([]float64, n),
		seen: make(map[string]struct{}),
	}
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
// every coordinate before the state is touched, once to fold. If v fails on
// the second read (an I/O error on a spooled upload), the sum holds part of
// the update and cannot be repaired: it is then broken, and every later
// call, Mean and Err return that error, so the round is abandoned rather
// than published with a partial update.
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
	err := eachChunk(v, func(off int, chunk []float64) error {
		s := ws.sum[off : off+len(chunk)]
		for i, x := range chunk {
			if t := s[i] + weight*x; t-t != 0 { // NaN or ±Inf
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return updateErr(client, off+i, ErrNotFinite, "value %v", x)
				}
				return updateErr(client, off+i, ErrNotFinite, "weighted value %v overflows the sum", weight*x)
			}
		}
		return nil
	})
	if err != nil {
		return asUpdateErr(client, err)
	}
	err = eachChunk(v, func(off int, chunk []float64) error {
		s, c := ws.sum[off:off+len(chunk)], ws.comp[off:off+len(chunk)]
		for i, x := range chunk {
			y := weight * x
			t := s[i] + y
			bp := t - s[i]
			c[i] += (s[i] - (t - bp)) + (y - bp)
			s[i] = t
		}
		return nil
	})
	if err != nil {
		ws.broken = fmt.Errorf("aggregation: the sum holds part of client %q's update, whose values could not be read again: %w", client, err)
		return ws.broken
	}
	var e float64
	ws.wSum, e = twoSum(ws.wSum, weight)
	ws.wErr += e
	ws.count++
	ws.seen[client] = struct{}{}
	return nil
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
func (ws *WeightedSum) Sum() []float64 {
	out := make([]float64, len(ws.sum))
	for i := range out {
		out[i] = ws.sum[i] + ws.comp[i]
	}
	return out
}

// takeMean computes the mean into the sum's own storage and returns it, ending
// the sum's use: further Adds fail. It saves a model-sized allocation for
// aggregators that need the mean only once.
func (ws *WeightedSum) takeMean() ([]float64, error) {
	if ws.broken != nil {
		return nil, ws.broken
	}
	if ws.count == 0 {
		return nil, ErrNoUpdates
	}
	w := ws.TotalWeight()
	for i := range ws.sum { // check first, so an error leaves the sum intact
		if v := (ws.sum[i] + ws.comp[i]) / w; math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("aggregation: mean of coordinate %d: %w", i, ErrNotFinite)
		}
	}
	for i := range ws.sum {
		ws.sum[i] = (ws.sum[i] + ws.comp[i]) / w
	}
	out := ws.sum
	ws.sum, ws.comp, ws.dim = nil, nil, -1 // released; Add now fails with ErrWrongLength
	return out, nil
}

// Mean returns a new slice holding Σ w_k·Δ_k / Σ w_k. It returns ErrNoUpdates
// before the first Add, and an error wrapping ErrNotFinite if a coordinate of
// the mean overflows (possible only with weights below 1).
func (ws *WeightedSum) Mean() ([]float64, error) {
	if ws.broken != nil {
		return nil, ws.broken
	}
	if ws.count == 0 {
		return nil, ErrNoUpdates
	}
	w := ws.TotalWeight()
	out := make([]float64, len(ws.sum))
	for i := range out {
		v := (ws.sum[i] + ws.comp[i]) / w
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("aggregation: mean of coordinate %d: %w", i, ErrNotFinite)
		}
		out[i] = v
	}
	return out, nil
}
