package explain

import (
	"fmt"
	"math"
)

// NoGroup passed to Aggregate.Add counts a row in the overall totals only.
const NoGroup = -1

const maxAggregateLen = 1 << 26

// Aggregate holds one site's summable explanation statistics for federated
// global importance: for every feature, Σ|φ| and Σφ over the explained rows,
// overall and per protected group, with the row counts. Every entry is a plain
// sum over rows, so the element-wise sum of the Encode vectors of several
// sites is the Encode vector of the union of their rows; the coordinator only
// ever sees that sum (through the secure sum) and turns it into Global.
//
// # Vector layout
//
// With D features and G groups the vector has (G+1)·(1+2D) entries in G+1
// blocks; block 0 is the overall total and block 1+g is group g. Each block
// is
//
//	[ count, Σ|φ_0| … Σ|φ_{D−1}|, Σφ_0 … Σφ_{D−1} ]
//
// Counts are float64 and exact up to 2^53 rows. An Aggregate is not safe for
// concurrent mutation.
type Aggregate struct {
	d, g int
	v    []float64
}

// AggregateLen returns the length of the Encode vector for the given shape,
// or 0 if the shape is invalid.
func AggregateLen(features, groups int) int {
	if checkShape(features, groups) != nil {
		return 0
	}
	return (groups + 1) * (1 + 2*features)
}

func checkShape(features, groups int) error {
	if features <= 0 || groups < 0 {
		return fmt.Errorf("%w: aggregate shape %d features × %d groups", ErrInvalidInput, features, groups)
	}
	if features > maxAggregateLen || groups > maxAggregateLen || (groups+1)*(1+2*features) > maxAggregateLen {
		return fmt.Errorf("%w: aggregate of %d features × %d groups exceeds %d entries", ErrInvalidInput, features, groups, maxAggregateLen)
	}
	return nil
}

// NewAggregate returns an empty Aggregate for features > 0 and groups ≥ 0.
func NewAggregate(features, groups int) (*Aggregate, error) {
	if err := checkShape(features, groups); err != nil {
		return nil, fmt.Errorf("new aggregate: %w", err)
	}
	return &Aggregate{d: features, g: groups, v: make([]float64, AggregateLen(features, groups))}, nil
}

// Features returns the number of features.
func (a *Aggregate) Features() int { return a.d }

// Groups returns the number of protected groups.
func (a *Aggregate) Groups() int { return a.g }

func (a *Aggregate) block(b int) []float64 {
	n := 1 + 2*a.d
	return a.v[b*n : (b+1)*n]
}

// Add accumulates the attributions of one explained row that belongs to
// group (in [0, Groups()) or NoGroup). phi must have Features() finite entries.
func (a *Aggregate) Add(phi []float64, group int) error {
	if err := checkRow("phi", phi, a.d); err != nil {
		return fmt.Errorf("aggregate add: %w", err)
	}
	if group != NoGroup && (group < 0 || group >= a.g) {
		return fmt.Errorf("aggregate add: %w: group %d outside [0,%d) and not NoGroup", ErrInvalidInput, group, a.g)
	}
	a.addTo(a.block(0), phi)
	if group != NoGroup {
		a.addTo(a.block(1+group), phi)
	}
	return nil
}

func (a *Aggregate) addTo(blk, phi []float64) {
	blk[0]++
	for i, p := range phi {
		blk[1+i] += math.Abs(p)
		blk[1+a.d+i] += p
	}
}

// Merge adds other into a (the in-the-clear counterpart of the secure sum).
func (a *Aggregate) Merge(other *Aggregate) error {
	if other == nil || other.d != a.d || other.g != a.g {
		return fmt.Errorf("aggregate merge: %w: shape mismatch", ErrInvalidInput)
	}
	for i, x := range other.v {
		a.v[i] += x
	}
	return nil
}

// Encode returns a copy of the flat vector (see the layout above).
func (a *Aggregate) Encode() []float64 { return append([]float64(nil), a.v...) }

// DecodeAggregate parses a (possibly summed) Encode vector of the given
// shape. Entries must be finite; they need not be integers or non-negative,
// so vectors that carry differential-privacy noise decode too.
func DecodeAggregate(v []float64, features, groups int) (*Aggregate, error) {
	if err := checkShape(features, groups); err != nil {
		return nil, fmt.Errorf("decode aggregate: %w", err)
	}
	if want := AggregateLen(features, groups); len(v) != want {
		return nil, fmt.Errorf("decode aggregate: %w: vector has %d entries, want %d for %d features × %d groups", ErrInvalidInput, len(v), want, features, groups)
	}
	if i := firstNonFinite(v); i >= 0 {
		return nil, fmt.Errorf("decode aggregate: %w: entry %d is %v", ErrInvalidInput, i, v[i])
	}
	return &Aggregate{d: features, g: groups, v: append([]float64(nil), v...)}, nil
}

// Global is global feature importance derived from an Aggregate.
type Global struct {
	N       float64   // rows explained
	MeanAbs []float64 // mean |φ| per feature: the global importance
	Mean    []float64 // mean φ per feature (signed direction)

	GroupN       []float64   // rows per group
	GroupMeanAbs [][]float64 // [group][feature] mean |φ|
	GroupMean    [][]float64 // [group][feature] mean φ
}

// Global divides the sums by the counts. Means over a count ≤ 0 (an empty
// group, or one driven non-positive by noise) are NaN.
func (a *Aggregate) Global() Global {
	means := func(blk []float64) (n float64, abs, mean []float64) {
		n = blk[0]
		abs, mean = make([]float64, a.d), make([]float64, a.d)
		for i := range abs {
			if n > 0 {
				abs[i], mean[i] = blk[1+i]/n, blk[1+a.d+i]/n
			} else {
				abs[i], mean[i] = math.NaN(), math.NaN()
			}
		}
		return n, abs, mean
	}
	var g Global
	g.N, g.MeanAbs, g.Mean = means(a.block(0))
	g.GroupN = make([]float64, a.g)
	g.GroupMeanAbs = make([][]float64, a.g)
	g.GroupMean = make([][]float64, a.g)
	for k := 0; k < a.g; k++ {
		g.GroupN[k], g.GroupMeanAbs[k], g.GroupMean[k] = means(a.block(1 + k))
	}
	return g
}
