package fairness

import (
	"fmt"
	"math"
	"slices"
)

// DefaultProxyThreshold is the |r| at or above which a feature is flagged as
// a proxy for a protected attribute. 0.5 is a "large" correlation in
// Cohen's convention; a feature that explains a quarter of the variance of
// group membership can carry the attribute into a model that never sees it.
const DefaultProxyThreshold = 0.5

// MomentLayout maps the moments needed for feature/attribute correlations to
// one summable vector. For F features x_j and A attribute indicators a_k
// (a_k = 1 if the row is in group k, else 0) the vector is
//
//	[n, Σx_1 … Σx_F, Σx_1² … Σx_F², Σa_1 … Σa_A, Σa_1² … Σa_A²,
//	 Σx_1a_1 … Σx_1a_A, Σx_2a_1 … Σx_Fa_A]
//
// so Dim = 1 + 2F + 2A + F·A. Features and attributes keep the order given
// (features are positional, matching the rows passed to Add). Immutable.
type MomentLayout struct {
	features, attrs []string
}

// NewMomentLayout validates the names (at least one of each, distinct within
// each list) and returns the layout.
func NewMomentLayout(features, attrs []string) (*MomentLayout, error) {
	const op = "NewMomentLayout"
	for _, l := range []struct {
		name string
		v    []string
	}{{"features", features}, {"attrs", attrs}} {
		if len(l.v) == 0 {
			return nil, &InputError{Op: op, Param: l.name, Value: "[]", Want: "at least one name"}
		}
		seen := make(map[string]bool, len(l.v))
		for _, s := range l.v {
			if seen[s] {
				return nil, &InputError{Op: op, Param: l.name, Value: s, Want: "distinct names"}
			}
			seen[s] = true
		}
	}
	return &MomentLayout{features: slices.Clone(features), attrs: slices.Clone(attrs)}, nil
}

// Features returns the feature names (a copy).
func (l *MomentLayout) Features() []string { return slices.Clone(l.features) }

// Attrs returns the attribute indicator names (a copy).
func (l *MomentLayout) Attrs() []string { return slices.Clone(l.attrs) }

// Dim returns the vector length.
func (l *MomentLayout) Dim() int { return MomentDim(len(l.features), len(l.attrs)) }

// MomentDim is the Dim of a MomentLayout over f features and a attributes:
// 1 + 2f + 2a + f·a.
func MomentDim(f, a int) int { return 1 + 2*f + 2*a + f*a }

func (l *MomentLayout) offsets() (sx, sx2, sa, sa2, sxa int) {
	f, a := len(l.features), len(l.attrs)
	sx = 1
	sx2 = sx + f
	sa = sx2 + f
	sa2 = sa + a
	sxa = sa2 + a
	return
}

// Add accumulates one row into the site's vector v (length Dim): x holds the
// feature values, a the attribute indicators (normally 0 or 1; any finite
// value is accepted). On error v is unchanged.
func (l *MomentLayout) Add(v, x, a []float64) error {
	const op = "MomentLayout.Add"
	if len(v) != l.Dim() {
		return &DimensionError{Op: op, Got: len(v), Want: l.Dim()}
	}
	if len(x) != len(l.features) {
		return &InputError{Op: op, Param: "len(x)", Value: len(x), Want: fmt.Sprint(len(l.features))}
	}
	if len(a) != len(l.attrs) {
		return &InputError{Op: op, Param: "len(a)", Value: len(a), Want: fmt.Sprint(len(l.attrs))}
	}
	for j, xj := range x {
		if math.IsNaN(xj) || math.IsInf(xj, 0) {
			return &InputError{Op: op, Param: fmt.Sprintf("x[%d] (%s)", j, l.features[j]), Value: xj, Want: "finite"}
		}
	}
	for k, ak := range a {
		if math.IsNaN(ak) || math.IsInf(ak, 0) {
			return &InputError{Op: op, Param: fmt.Sprintf("a[%d] (%s)", k, l.attrs[k]), Value: ak, Want: "finite"}
		}
	}
	sx, sx2, sa, sa2, sxa := l.offsets()
	v[0]++
	for j, xj := range x {
		v[sx+j] += xj
		v[sx2+j] += xj * xj
		for k, ak := range a {
			v[sxa+j*len(a)+k] += xj * ak
		}
	}
	for k, ak := range a {
		v[sa+k] += ak
		v[sa2+k] += ak * ak
	}
	return nil
}

// Moments are decoded summed moments.
type Moments struct {
	Features, Attrs []string
	N               float64
	SumX, SumX2     []float64   // per feature
	SumA, SumA2     []float64   // per attribute
	SumXA           [][]float64 // [feature][attribute]
}

// Decode reads a summed vector. It rejects a wrong length, non-finite
// entries, and n, Σx² or Σa² below −1e-6 (values in [−1e-6, 0) read as 0).
func (l *MomentLayout) Decode(sum []float64) (Moments, error) {
	const op = "MomentLayout.Decode"
	if len(sum) != l.Dim() {
		return Moments{}, &DimensionError{Op: op, Got: len(sum), Want: l.Dim()}
	}
	for i, x := range sum {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Moments{}, &InputError{Op: op, Param: fmt.Sprintf("sum[%d]", i), Value: x, Want: "finite"}
		}
	}
	nonneg := func(i int) (float64, error) {
		if sum[i] < -countTolerance {
			return 0, &InputError{Op: op, Param: fmt.Sprintf("sum[%d]", i), Value: sum[i], Want: ">= 0 (count or sum of squares)"}
		}
		return math.Max(sum[i], 0), nil
	}
	f, a := len(l.features), len(l.attrs)
	sx, sx2, sa, sa2, sxa := l.offsets()
	m := Moments{
		Features: slices.Clone(l.features), Attrs: slices.Clone(l.attrs),
		SumX: slices.Clone(sum[sx : sx+f]), SumX2: make([]float64, f),
		SumA: slices.Clone(sum[sa : sa+a]), SumA2: make([]float64, a),
		SumXA: make([][]float64, f),
	}
	var err error
	if m.N, err = nonneg(0); err != nil {
		return Moments{}, err
	}
	for j := range f {
		if m.SumX2[j], err = nonneg(sx2 + j); err != nil {
			return Moments{}, err
		}
		m.SumXA[j] = slices.Clone(sum[sxa+j*a : sxa+(j+1)*a])
	}
	for k := range a {
		if m.SumA2[k], err = nonneg(sa2 + k); err != nil {
			return Moments{}, err
		}
	}
	return m, nil
}

// Proxy is the correlation of one feature with one attribute indicator.
type Proxy struct {
	Feature, Attr string
	// R is Pearson's r, NaN when either variable is constant (zero variance,
	// up to rounding) or n < 2.
	R float64
	// Flagged is |R| ≥ threshold; false when R is NaN.
	Flagged bool
}

// PearsonFromSums returns Pearson's r from n, Σx, Σx², Σa, Σa², Σxa:
//
//	r = (nΣxa − ΣxΣa) / √((nΣx² − (Σx)²)(nΣa² − (Σa)²))
//
// It returns NaN when n < 2 or a variance term is ≤ 1e-12 of nΣx² (resp.
// nΣa²), i.e. the variable is constant up to cancellation error, and clamps
// the result to [−1, 1].
func PearsonFromSums(n, sx, sx2, sa, sa2, sxa float64) float64 {
	if !(n >= 2) {
		return math.NaN()
	}
	vx := n*sx2 - sx*sx
	va := n*sa2 - sa*sa
	if vx <= 1e-12*n*sx2 || va <= 1e-12*n*sa2 {
		return math.NaN()
	}
	r := (n*sxa - sx*sa) / math.Sqrt(vx*va)
	return math.Max(-1, math.Min(1, r))
}

// ProxyCorrelations returns Pearson's r for every (feature, attribute) pair,
// feature-major in layout order, flagging |r| ≥ threshold. threshold must be
// in (0, 1]; pass DefaultProxyThreshold for the default. It rejects Moments
// whose slices do not match their name lists.
func ProxyCorrelations(m Moments, threshold float64) ([]Proxy, error) {
	const op = "ProxyCorrelations"
	if math.IsNaN(threshold) || threshold <= 0 || threshold > 1 {
		return nil, &InputError{Op: op, Param: "threshold", Value: threshold, Want: "in (0, 1]"}
	}
	f, a := len(m.Features), len(m.Attrs)
	if len(m.SumX) != f || len(m.SumX2) != f || len(m.SumXA) != f || len(m.SumA) != a || len(m.SumA2) != a {
		return nil, &InputError{Op: op, Param: "m", Value: "inconsistent lengths", Want: "slices matching Features and Attrs"}
	}
	out := make([]Proxy, 0, f*a)
	for j := range f {
		if len(m.SumXA[j]) != a {
			return nil, &InputError{Op: op, Param: fmt.Sprintf("len(m.SumXA[%d])", j), Value: len(m.SumXA[j]), Want: fmt.Sprint(a)}
		}
		for k := range a {
			r := PearsonFromSums(m.N, m.SumX[j], m.SumX2[j], m.SumA[k], m.SumA2[k], m.SumXA[j][k])
			out = append(out, Proxy{Feature: m.Features[j], Attr: m.Attrs[k], R: r, Flagged: math.Abs(r) >= threshold})
		}
	}
	return out, nil
}
