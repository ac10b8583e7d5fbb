package fairness

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// MaxPartitionGroups bounds the number of cells of a Spec's partition (the
// product of the attributes' level counts), so that a run's configuration
// cannot make every site allocate without limit.
const MaxPartitionGroups = 4096

// Attribute is one protected attribute of a run: a categorical column with
// fixed Levels, or a numeric column split at Cut into "<=Cut" and ">Cut".
// Exactly one of Levels and Cut is set.
type Attribute struct {
	Name   string   `json:"name"`
	Levels []string `json:"levels,omitempty"`
	Cut    *float64 `json:"cut,omitempty"`
}

// Values returns the attribute's group values in order: the levels, or
// "<=c" and ">c" for a cut c (formatted with strconv 'g').
func (a Attribute) Values() []string {
	if a.Cut != nil {
		c := strconv.FormatFloat(*a.Cut, 'g', -1, 64)
		return []string{"<=" + c, ">" + c}
	}
	return slices.Clone(a.Levels)
}

// value maps a raw cell to its group value.
func (a Attribute) value(raw string) (string, error) {
	if a.Cut != nil {
		x, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(x) {
			return "", fmt.Errorf("protected attribute %q: value %q is not a number (the attribute is split at %g)", a.Name, raw, *a.Cut)
		}
		v := a.Values()
		if x <= *a.Cut {
			return v[0], nil
		}
		return v[1], nil
	}
	if !slices.Contains(a.Levels, raw) {
		return "", fmt.Errorf("protected attribute %q: value %q is not one of its levels %s", a.Name, raw, strings.Join(a.Levels, ", "))
	}
	return raw, nil
}

// Spec is a run's fairness configuration as every party sees it: the
// protected attributes, which label is the favourable outcome, the decision
// threshold and the calibration bins. Sites derive each record's group from
// it; the coordinator derives the vector layouts from it. Both must hold the
// same Spec (it travels in the task configuration).
//
// The audit is run on the favourable outcome, as the four-fifths rule is
// stated: with Favorable = 0, sites audit the flipped label 1−y and score
// 1−p, so the "selection rate" is the rate of favourable decisions. The
// equalized-odds and average-odds differences do not change under the flip;
// the equal-opportunity difference then compares rates of favourable
// decisions among the truly favourable.
type Spec struct {
	Attributes []Attribute `json:"attributes"`
	Favorable  int         `json:"favorable"`           // 0 or 1: the favourable label value
	Threshold  float64     `json:"threshold,omitempty"` // decision threshold on P(y=1); 0 means 0.5
	Deciles    int         `json:"deciles,omitempty"`   // calibration bins; 0 means DefaultDeciles
}

// Validate checks the spec, naming the offending attribute.
func (s Spec) Validate() error {
	if len(s.Attributes) == 0 {
		return &InputError{Op: "Spec", Param: "attributes", Value: "[]", Want: "at least one protected attribute"}
	}
	seen := map[string]bool{}
	cells := 1
	for i, a := range s.Attributes {
		p := fmt.Sprintf("attributes[%d]", i)
		switch {
		case a.Name == "":
			return &InputError{Op: "Spec", Param: p + ".name", Value: `""`, Want: "a column name"}
		case seen[a.Name]:
			return &InputError{Op: "Spec", Param: p + ".name", Value: a.Name, Want: "each attribute once"}
		case (a.Cut == nil) == (len(a.Levels) == 0):
			return &InputError{Op: "Spec", Param: p, Value: a.Name, Want: "exactly one of levels and cut"}
		case a.Cut != nil && (math.IsNaN(*a.Cut) || math.IsInf(*a.Cut, 0)):
			return &InputError{Op: "Spec", Param: p + ".cut", Value: *a.Cut, Want: "finite"}
		}
		lv := map[string]bool{}
		for _, l := range a.Levels {
			if l == "" || lv[l] {
				return &InputError{Op: "Spec", Param: p + ".levels", Value: a.Levels, Want: "distinct non-empty values"}
			}
			lv[l] = true
		}
		seen[a.Name] = true
		if cells *= len(a.Values()); cells > MaxPartitionGroups {
			return &InputError{Op: "Spec", Param: "attributes", Value: cells, Want: fmt.Sprintf("at most %d intersection cells", MaxPartitionGroups)}
		}
	}
	if s.Favorable != 0 && s.Favorable != 1 {
		return &InputError{Op: "Spec", Param: "favorable", Value: s.Favorable, Want: "0 or 1"}
	}
	if t := s.Threshold; t != 0 && !(t > 0 && t < 1) {
		return &InputError{Op: "Spec", Param: "threshold", Value: t, Want: "in (0, 1)"}
	}
	if s.Deciles < 0 || s.Deciles > 100 {
		return &InputError{Op: "Spec", Param: "deciles", Value: s.Deciles, Want: "in [0, 100]"}
	}
	return nil
}

// Names returns the attribute names in spec order.
func (s Spec) Names() []string {
	out := make([]string, len(s.Attributes))
	for i, a := range s.Attributes {
		out[i] = a.Name
	}
	return out
}

// DecisionThreshold returns the threshold on P(y=1) (0.5 when unset).
func (s Spec) DecisionThreshold() float64 {
	if s.Threshold == 0 {
		return 0.5
	}
	return s.Threshold
}

// Bins returns the number of calibration bins (DefaultDeciles when unset).
func (s Spec) Bins() int {
	if s.Deciles == 0 {
		return DefaultDeciles
	}
	return s.Deciles
}

// Groups returns the keys of the partition: every intersection of one value
// of each attribute, sorted. Each record belongs to exactly one.
func (s Spec) Groups() []string {
	combos := [][]Group{nil}
	for _, a := range s.Attributes {
		var next [][]Group
		for _, c := range combos {
			for _, v := range a.Values() {
				next = append(next, append(slices.Clone(c), Group{Attr: a.Name, Value: v}))
			}
		}
		combos = next
	}
	keys := make([]string, len(combos))
	for i, c := range combos {
		keys[i] = GroupKey(c)
	}
	sort.Strings(keys)
	return keys
}

// KeyOf returns the partition key of a record whose raw protected values are
// raw (one per attribute, in spec order).
func (s Spec) KeyOf(raw []string) (string, error) {
	if len(raw) != len(s.Attributes) {
		return "", fmt.Errorf("fairness: %d protected values for %d attributes", len(raw), len(s.Attributes))
	}
	gs := make([]Group, len(raw))
	for i, a := range s.Attributes {
		v, err := a.value(raw[i])
		if err != nil {
			return "", fmt.Errorf("fairness: %w", err)
		}
		gs[i] = Group{Attr: a.Name, Value: v}
	}
	return GroupKey(gs), nil
}

// Indicators returns the single-attribute group keys ("afam=yes", ...), in
// spec order: the protected-attribute indicators of the proxy check.
func (s Spec) Indicators() []string {
	var out []string
	for _, a := range s.Attributes {
		for _, v := range a.Values() {
			out = append(out, GroupKey([]Group{{Attr: a.Name, Value: v}}))
		}
	}
	return out
}

// IndicatorValues returns, for a partition key, 1 or 0 per Indicators entry.
func (s Spec) IndicatorValues(key string) ([]float64, error) {
	gs, err := ParseGroupKey(key)
	if err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, g := range gs {
		in[GroupKey([]Group{g})] = true
	}
	ind := s.Indicators()
	out := make([]float64, len(ind))
	for i, k := range ind {
		if in[k] {
			out[i] = 1
		}
	}
	return out, nil
}

// Families returns the attribute families that are audited: each attribute
// alone and, with two or more attributes, their full intersection, named by
// the attribute names joined with "&" in spec order.
func (s Spec) Families() [][]string {
	var out [][]string
	for _, a := range s.Attributes {
		out = append(out, []string{a.Name})
	}
	if len(s.Attributes) > 1 {
		out = append(out, s.Names())
	}
	return out
}

// FamilyName is the name of a family of attributes: the names joined by "&".
func FamilyName(attrs []string) string { return strings.Join(attrs, "&") }

// Marginalize sums partition statistics over every attribute not in attrs,
// giving the statistics of the groups of attrs (keys over attrs only).
// Calibration histograms must have equal lengths.
func Marginalize(stats map[string]GroupStats, attrs []string) (map[string]GroupStats, error) {
	out := map[string]GroupStats{}
	for key, gs := range stats {
		groups, err := ParseGroupKey(key)
		if err != nil {
			return nil, err
		}
		var kept []Group
		for _, g := range groups {
			if slices.Contains(attrs, g.Attr) {
				kept = append(kept, g)
			}
		}
		if len(kept) != len(attrs) {
			return nil, &InputError{Op: "Marginalize", Param: "key", Value: key, Want: "a key over " + strings.Join(attrs, ", ")}
		}
		k := GroupKey(kept)
		acc, ok := out[k]
		if !ok {
			acc = GroupStats{Calib: make([]Bin, len(gs.Calib))}
		}
		if len(acc.Calib) != len(gs.Calib) {
			return nil, &InputError{Op: "Marginalize", Param: "calibration bins", Value: len(gs.Calib), Want: fmt.Sprint(len(acc.Calib))}
		}
		acc.Counts = acc.Counts.Add(gs.Counts)
		for i, b := range gs.Calib {
			acc.Calib[i].N += b.N
			acc.Calib[i].Pos += b.Pos
			acc.Calib[i].ScoreSum += b.ScoreSum
		}
		out[k] = acc
	}
	return out, nil
}

// FamilyAudit is the audit of one attribute family: the metrics of each of
// its groups and the between-group summary.
type FamilyAudit struct {
	Name    string                  // e.g. "afam" or "afam&single"
	Groups  []string                // group keys compared, sorted
	Metrics map[string]GroupMetrics // per group
	Calib   map[string]Calibration  // per group
	N       map[string]float64      // examples per group
	Summary Summary
}

// CalibrationGap is max ECE − min ECE over the family's groups with a
// defined ECE (NaN with fewer than two).
func (f FamilyAudit) CalibrationGap() float64 {
	lo, hi, n := math.Inf(1), math.Inf(-1), 0
	for _, g := range f.Groups {
		e := f.Calib[g].ECE
		if math.IsNaN(e) {
			continue
		}
		lo, hi, n = math.Min(lo, e), math.Max(hi, e), n+1
	}
	if n < 2 {
		return math.NaN()
	}
	return hi - lo
}

// AuditFamilies audits every family of s from the partition statistics.
func AuditFamilies(s Spec, stats map[string]GroupStats) ([]FamilyAudit, error) {
	var out []FamilyAudit
	for _, fam := range s.Families() {
		m, err := Marginalize(stats, fam)
		if err != nil {
			return nil, err
		}
		fa := FamilyAudit{Name: FamilyName(fam), Metrics: Audit(m), Calib: map[string]Calibration{}, N: map[string]float64{}}
		for k, gs := range m {
			fa.Groups = append(fa.Groups, k)
			fa.Calib[k] = CalibrationOf(gs)
			fa.N[k] = gs.N()
		}
		sort.Strings(fa.Groups)
		fa.Summary = Summarize(fa.Metrics, fa.Groups)
		out = append(out, fa)
	}
	return out, nil
}
