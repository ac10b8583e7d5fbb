package fairness

import (
	"fmt"
	"math"
	"slices"
)

// LabelLayout maps per-group label counts n(g, y) to a flat summable vector:
// entry 2i is n(g_i, 0) and 2i+1 is n(g_i, 1), groups in sorted key order.
// Every party must build it from the same group list. Immutable.
//
// For reweighing, the groups must partition the population (each example in
// exactly one group, e.g. one key per full intersection of the protected
// attributes), unlike an audit Layout where a record may count in several.
type LabelLayout struct {
	groups []string
	index  map[string]int
}

// NewLabelLayout validates groups (non-empty, distinct) and returns the layout.
func NewLabelLayout(groups []string) (*LabelLayout, error) {
	const op = "NewLabelLayout"
	gs, idx, err := indexGroups(op, groups)
	if err != nil {
		return nil, err
	}
	return &LabelLayout{groups: gs, index: idx}, nil
}

// Groups returns the group keys in vector order (a copy).
func (l *LabelLayout) Groups() []string { return slices.Clone(l.groups) }

// Dim returns 2·len(groups).
func (l *LabelLayout) Dim() int { return 2 * len(l.groups) }

// Add counts one example of group with label y (0 or 1) into the site's
// vector v (length Dim).
func (l *LabelLayout) Add(v []float64, group string, y int) error {
	const op = "LabelLayout.Add"
	if len(v) != l.Dim() {
		return &DimensionError{Op: op, Got: len(v), Want: l.Dim()}
	}
	gi, ok := l.index[group]
	if !ok {
		return &InputError{Op: op, Param: "group", Value: group, Want: "a group of the layout"}
	}
	if y != 0 && y != 1 {
		return &InputError{Op: op, Param: "y", Value: y, Want: "0 or 1"}
	}
	v[2*gi+y]++
	return nil
}

// Encode writes counts into a new vector; missing groups are zero. It rejects
// unknown groups and negative or non-finite counts.
func (l *LabelLayout) Encode(counts map[string][2]float64) ([]float64, error) {
	const op = "LabelLayout.Encode"
	v := make([]float64, l.Dim())
	for k, c := range counts {
		gi, ok := l.index[k]
		if !ok {
			return nil, &InputError{Op: op, Param: "counts key", Value: k, Want: "a group of the layout"}
		}
		for y := range 2 {
			if err := checkCount(op, fmt.Sprintf("counts[%q][%d]", k, y), c[y]); err != nil {
				return nil, err
			}
			v[2*gi+y] = c[y]
		}
	}
	return v, nil
}

// Decode reads a summed vector into n(g, y) for every group of the layout,
// with the same validation and rounding slack as Layout.Decode.
func (l *LabelLayout) Decode(sum []float64) (map[string][2]float64, error) {
	const op = "LabelLayout.Decode"
	if len(sum) != l.Dim() {
		return nil, &DimensionError{Op: op, Got: len(sum), Want: l.Dim()}
	}
	out := make(map[string][2]float64, len(l.groups))
	for gi, k := range l.groups {
		var c [2]float64
		for y := range 2 {
			x := sum[2*gi+y]
			if math.IsNaN(x) || math.IsInf(x, 0) || x < -countTolerance {
				return nil, &InputError{Op: op, Param: fmt.Sprintf("sum[%d] (group %q, y=%d)", 2*gi+y, k, y), Value: x, Want: "finite and >= 0"}
			}
			c[y] = math.Max(x, 0)
		}
		out[k] = c
	}
	return out, nil
}

func checkCount(op, param string, x float64) error {
	if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		return &InputError{Op: op, Param: param, Value: x, Want: "finite and >= 0"}
	}
	return nil
}

// ReweighingWeights returns the Kamiran–Calders weights
//
//	w(g, y) = n_g · n_y / (n · n(g, y))
//
// from the (summed) counts n(g, y) = counts[g][y], where n_g = n(g,0)+n(g,1),
// n_y = Σ_g n(g, y) and n = Σ n(g, y). Weighting every example of cell (g, y)
// by w(g, y) makes the weighted label distribution independent of the group:
// the weighted count of a cell becomes n_g·n_y/n, so P_w(y | g) = n_y/n = P(y)
// for every g, while each group keeps its total weight n_g.
//
// An empty cell (n(g, y) = 0) has no examples to weight; its weight is 0 by
// convention. (Then P_w(y | g) cannot equal P(y) for that group; no weighting
// can fix a group that has only one label.) It rejects an empty map,
// negative or non-finite counts and a zero total.
func ReweighingWeights(counts map[string][2]float64) (map[string][2]float64, error) {
	const op = "ReweighingWeights"
	if len(counts) == 0 {
		return nil, &InputError{Op: op, Param: "counts", Value: "{}", Want: "at least one group"}
	}
	var ny [2]float64
	for k, c := range counts {
		for y := range 2 {
			if err := checkCount(op, fmt.Sprintf("counts[%q][%d]", k, y), c[y]); err != nil {
				return nil, err
			}
			ny[y] += c[y]
		}
	}
	n := ny[0] + ny[1]
	if n == 0 || math.IsInf(n, 0) {
		return nil, &InputError{Op: op, Param: "total count", Value: n, Want: "finite and > 0"}
	}
	out := make(map[string][2]float64, len(counts))
	for k, c := range counts {
		ng := c[0] + c[1]
		var w [2]float64
		for y := range 2 {
			if c[y] > 0 {
				// (n_g/n)·(n_y/n(g,y)) keeps intermediate values near 1.
				w[y] = (ng / n) * (ny[y] / c[y])
			}
		}
		out[k] = w
	}
	return out, nil
}
