package explain

import (
	"math"
	"slices"
	"strconv"
)

// Reason is one feature behind a single decision, as listed on an
// adverse-action notice.
type Reason struct {
	Feature int     // index into the feature row
	Name    string  // names[Feature], or "x<Feature>" when no name was given
	Phi     float64 // its attribution
	Value   float64 // the feature's value in the explained row; NaN if not supplied
}

// ReasonCodes returns up to k features that push the score toward the adverse
// outcome, strongest first. With adverseIsPositive (for example the score is
// P(default)), those are the features with φ > 0, ordered by decreasing φ;
// otherwise (for example the score is P(approve)) the features with φ < 0,
// ordered by increasing φ. Features with φ = 0 or NaN never appear; ties keep
// feature order. Missing names fall back to "x<index>"; k ≤ 0 gives nil.
// The result's Value fields are NaN; use ReasonCodesFor to fill them.
func ReasonCodes(phi []float64, names []string, k int, adverseIsPositive bool) []Reason {
	return reasons(phi, names, k, func(p float64) float64 {
		if adverseIsPositive {
			return p
		}
		return -p
	})
}

// ReasonCodesFor is ReasonCodes with each Reason's Value taken from the
// explained row x (NaN for indices beyond len(x)).
func ReasonCodesFor(phi, x []float64, names []string, k int, adverseIsPositive bool) []Reason {
	rs := ReasonCodes(phi, names, k, adverseIsPositive)
	for i := range rs {
		if rs[i].Feature < len(x) {
			rs[i].Value = x[rs[i].Feature]
		}
	}
	return rs
}

// TopFeatures returns up to k features with the largest |φ| in either
// direction, strongest first (ties keep feature order; φ = 0 and NaN are
// skipped). Value fields are NaN.
func TopFeatures(phi []float64, names []string, k int) []Reason {
	return reasons(phi, names, k, math.Abs)
}

// reasons keeps features whose key(φ) > 0 and returns the top k by key.
func reasons(phi []float64, names []string, k int, key func(float64) float64) []Reason {
	if k <= 0 {
		return nil
	}
	type cand struct {
		i   int
		key float64
	}
	var cs []cand
	for i, p := range phi {
		if kv := key(p); kv > 0 { // false for NaN
			cs = append(cs, cand{i, kv})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		switch {
		case a.key > b.key:
			return -1
		case a.key < b.key:
			return 1
		}
		return 0
	})
	if len(cs) > k {
		cs = cs[:k]
	}
	out := make([]Reason, len(cs))
	for j, c := range cs {
		name := "x" + strconv.Itoa(c.i)
		if c.i < len(names) && names[c.i] != "" {
			name = names[c.i]
		}
		out[j] = Reason{Feature: c.i, Name: name, Phi: phi[c.i], Value: math.NaN()}
	}
	return out
}
