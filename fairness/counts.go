package fairness

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// DefaultDeciles is the number of equal-width score bins used for calibration
// when a GroupStats is created by Accumulate.
const DefaultDeciles = 10

// countTolerance is how far below zero a summed count may be and still be
// read as zero by Decode. Fixed-point secure sums are exact for integer
// counts; the slack only absorbs rounding of the fixed-point encoding.
const countTolerance = 1e-6

// Counts is a binary confusion matrix. The entries are float64 so that they
// sum in a secure-aggregation vector (and may carry sample weights), but
// Accumulate only ever adds 1.
type Counts struct {
	TP, FP, TN, FN float64
}

// N returns TP+FP+TN+FN.
func (c Counts) N() float64 { return c.TP + c.FP + c.TN + c.FN }

// Add returns the entry-wise sum c + d.
func (c Counts) Add(d Counts) Counts {
	return Counts{TP: c.TP + d.TP, FP: c.FP + d.FP, TN: c.TN + d.TN, FN: c.FN + d.FN}
}

// Bin is one calibration bin: the number of examples whose score fell into
// the bin, how many of them had label 1, and the sum of their scores.
type Bin struct {
	N, Pos, ScoreSum float64
}

// GroupStats is everything a site contributes for one group: the confusion
// counts at the decision threshold and a calibration histogram with
// len(Calib) equal-width bins over [0, 1]; score s falls into bin
// min(⌊s·B⌋, B−1).
type GroupStats struct {
	Counts
	Calib []Bin
}

// NewGroupStats returns empty stats with the given number of calibration bins.
func NewGroupStats(deciles int) *GroupStats {
	if deciles < 0 {
		deciles = 0
	}
	return &GroupStats{Calib: make([]Bin, deciles)}
}

// binOf returns the calibration bin of score s ∈ [0, 1] among b bins.
func binOf(s float64, b int) int {
	i := int(s * float64(b))
	if i >= b {
		i = b - 1
	}
	return i
}

// Accumulate adds one prediction to stats[group], creating the entry with
// DefaultDeciles bins if it is missing. The prediction is ŷ = 1 iff
// score ≥ threshold. label must be 0 or 1, score finite in [0, 1] and
// threshold finite; otherwise Accumulate returns an error and changes
// nothing. It is not safe for concurrent use on the same map.
//
// A record in several audited groups (see IntersectionKeys) is accumulated
// once per group.
func Accumulate(stats map[string]*GroupStats, group string, label int, score, threshold float64) error {
	const op = "Accumulate"
	switch {
	case stats == nil:
		return &InputError{Op: op, Param: "stats", Value: "nil map", Want: "non-nil map"}
	case label != 0 && label != 1:
		return &InputError{Op: op, Param: "label", Value: label, Want: "0 or 1"}
	case math.IsNaN(score) || score < 0 || score > 1:
		return &InputError{Op: op, Param: "score", Value: score, Want: "in [0, 1]"}
	case math.IsNaN(threshold) || math.IsInf(threshold, 0):
		return &InputError{Op: op, Param: "threshold", Value: threshold, Want: "finite"}
	}
	gs := stats[group]
	if gs == nil {
		gs = NewGroupStats(DefaultDeciles)
		stats[group] = gs
	}
	pred := score >= threshold
	switch {
	case pred && label == 1:
		gs.TP++
	case pred && label == 0:
		gs.FP++
	case !pred && label == 0:
		gs.TN++
	default:
		gs.FN++
	}
	if b := len(gs.Calib); b > 0 {
		i := binOf(score, b)
		gs.Calib[i].N++
		gs.Calib[i].Pos += float64(label)
		gs.Calib[i].ScoreSum += score
	}
	return nil
}

// Field names one entry of a group's block in a Layout vector.
type Field int

// Fields of a group block. The calibration bin d occupies
// FieldBins + 3d (N), FieldBins + 3d + 1 (Pos), FieldBins + 3d + 2 (ScoreSum).
const (
	FieldTP Field = iota
	FieldFP
	FieldTN
	FieldFN
	FieldBins
)

// Layout maps per-group statistics to one flat vector that sites encode,
// secure aggregation sums, and the coordinator decodes. Every party must build
// it from the same group list and decile count; the group order does not
// matter (the list is sorted). A Layout is immutable and safe for concurrent
// use.
//
// The vector is the concatenation of one block per group in sorted key
// order; a block is [TP, FP, TN, FN, N_0, Pos_0, ScoreSum_0, …, N_{D−1},
// Pos_{D−1}, ScoreSum_{D−1}], so Dim = len(groups)·(4 + 3·deciles).
type Layout struct {
	groups  []string
	index   map[string]int
	deciles int
}

// NewLayout validates groups (non-empty list, distinct keys) and deciles
// (0 ≤ deciles ≤ 1000; 0 disables calibration) and returns the layout.
func NewLayout(groups []string, deciles int) (*Layout, error) {
	const op = "NewLayout"
	if deciles < 0 || deciles > 1000 {
		return nil, &InputError{Op: op, Param: "deciles", Value: deciles, Want: "in [0, 1000]"}
	}
	gs, idx, err := indexGroups(op, groups)
	if err != nil {
		return nil, err
	}
	return &Layout{groups: gs, index: idx, deciles: deciles}, nil
}

// indexGroups sorts a copy of groups and maps each key to its position,
// rejecting an empty list and repeated keys.
func indexGroups(op string, groups []string) ([]string, map[string]int, error) {
	if len(groups) == 0 {
		return nil, nil, &InputError{Op: op, Param: "groups", Value: "[]", Want: "at least one group"}
	}
	gs := slices.Clone(groups)
	sort.Strings(gs)
	idx := make(map[string]int, len(gs))
	for i, g := range gs {
		if _, dup := idx[g]; dup {
			return nil, nil, &InputError{Op: op, Param: "groups", Value: g, Want: "distinct group keys"}
		}
		idx[g] = i
	}
	return gs, idx, nil
}

// Groups returns the group keys in vector order (a copy).
func (l *Layout) Groups() []string { return slices.Clone(l.groups) }

// Deciles returns the number of calibration bins per group.
func (l *Layout) Deciles() int { return l.deciles }

func (l *Layout) block() int { return 4 + 3*l.deciles }

// Dim returns the length of the encoded vector.
func (l *Layout) Dim() int { return len(l.groups) * l.block() }

// Index returns the vector position of field f (FieldTP … FieldFN, or
// FieldBins+k for the k-th calibration entry) of group g (its position in
// Groups()). ok is false when either is out of range.
func (l *Layout) Index(g int, f Field) (int, bool) {
	if g < 0 || g >= len(l.groups) || f < 0 || int(f) >= l.block() {
		return 0, false
	}
	return g*l.block() + int(f), true
}

// Encode writes perGroup into a new vector of length Dim. Groups of the
// layout missing from perGroup encode as zeros (a site that saw no member of
// a group still contributes a vector of the common length). It rejects keys
// not in the layout, a Calib length other than Deciles(), and entries that
// are negative or not finite.
func (l *Layout) Encode(perGroup map[string]GroupStats) ([]float64, error) {
	const op = "Layout.Encode"
	v := make([]float64, l.Dim())
	keys := make([]string, 0, len(perGroup))
	for k := range perGroup {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic error reporting
	for _, k := range keys {
		gi, ok := l.index[k]
		if !ok {
			return nil, &InputError{Op: op, Param: "perGroup key", Value: k, Want: "a group of the layout"}
		}
		s := perGroup[k]
		if len(s.Calib) != l.deciles {
			return nil, &InputError{Op: op, Param: fmt.Sprintf("perGroup[%q].Calib length", k), Value: len(s.Calib), Want: fmt.Sprint(l.deciles)}
		}
		base := gi * l.block()
		v[base+int(FieldTP)] = s.TP
		v[base+int(FieldFP)] = s.FP
		v[base+int(FieldTN)] = s.TN
		v[base+int(FieldFN)] = s.FN
		for d, b := range s.Calib {
			o := base + int(FieldBins) + 3*d
			v[o], v[o+1], v[o+2] = b.N, b.Pos, b.ScoreSum
		}
		for i := base; i < base+l.block(); i++ {
			if math.IsNaN(v[i]) || math.IsInf(v[i], 0) || v[i] < 0 {
				return nil, &InputError{Op: op, Param: fmt.Sprintf("perGroup[%q] entry %d", k, i-base), Value: v[i], Want: "finite and >= 0"}
			}
		}
	}
	return v, nil
}

// Decode reads a summed vector back into per-group statistics, one entry for
// every group of the layout. It rejects a wrong length, non-finite entries,
// and entries below −1e-6 (a summed count or score sum cannot be negative);
// entries in [−1e-6, 0) are read as 0 to absorb fixed-point rounding.
// sum is not retained.
func (l *Layout) Decode(sum []float64) (map[string]GroupStats, error) {
	const op = "Layout.Decode"
	if len(sum) != l.Dim() {
		return nil, &DimensionError{Op: op, Got: len(sum), Want: l.Dim()}
	}
	out := make(map[string]GroupStats, len(l.groups))
	for gi, k := range l.groups {
		base := gi * l.block()
		blk := make([]float64, l.block())
		for i := range blk {
			x := sum[base+i]
			if math.IsNaN(x) || math.IsInf(x, 0) || x < -countTolerance {
				return nil, &InputError{Op: op, Param: fmt.Sprintf("sum[%d] (group %q, entry %d)", base+i, k, i), Value: x, Want: "finite and >= 0"}
			}
			blk[i] = math.Max(x, 0)
		}
		s := GroupStats{
			Counts: Counts{TP: blk[FieldTP], FP: blk[FieldFP], TN: blk[FieldTN], FN: blk[FieldFN]},
			Calib:  make([]Bin, l.deciles),
		}
		for d := range s.Calib {
			o := int(FieldBins) + 3*d
			s.Calib[d] = Bin{N: blk[o], Pos: blk[o+1], ScoreSum: blk[o+2]}
		}
		out[k] = s
	}
	return out, nil
}
