package gate

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// Policy is a parsed policy file: the conditions a candidate model must meet
// before it may be published. A nil threshold (key absent from the file) is
// not checked; an explicit 0 is. Build one with Parse or Load, or as a
// literal followed by Validate.
type Policy struct {
	Utility      Utility      `yaml:"utility" json:"utility"`
	Fairness     Fairness     `yaml:"fairness" json:"fairness"`
	Privacy      Privacy      `yaml:"privacy" json:"privacy"`
	Explanations Explanations `yaml:"explanations" json:"explanations"`
}

// Utility holds bounds on the candidate's evaluation metrics.
type Utility struct {
	MinAUC      *float64 `yaml:"min_auc" json:"min_auc,omitempty"`           // eval_auc >= MinAUC; in [0, 1]
	MinAccuracy *float64 `yaml:"min_accuracy" json:"min_accuracy,omitempty"` // eval_accuracy >= MinAccuracy; in [0, 1]
	MaxLoss     *float64 `yaml:"max_loss" json:"max_loss,omitempty"`         // eval_loss <= MaxLoss; >= 0
}

// Fairness holds bounds on group-fairness metrics, checked for each
// attribute family separately.
type Fairness struct {
	// Attributes names the families whose groups are compared: "sex" for the
	// groups of one attribute, "race&sex" for their intersections (the order
	// of the parts does not matter). Empty means every protected attribute of
	// the run, each one separately.
	Attributes []string `yaml:"attributes" json:"attributes,omitempty"`

	MinDisparateImpact             *float64 `yaml:"min_disparate_impact" json:"min_disparate_impact,omitempty"`                           // DI >= t; t in (0, 1]
	MaxStatisticalParityDifference *float64 `yaml:"max_statistical_parity_difference" json:"max_statistical_parity_difference,omitempty"` // |SPD| <= t; t in [0, 1]
	MaxEqualOpportunityDifference  *float64 `yaml:"max_equal_opportunity_difference" json:"max_equal_opportunity_difference,omitempty"`   // |EOD| <= t; t in [0, 1]
	MaxEqualizedOddsDifference     *float64 `yaml:"max_equalized_odds_difference" json:"max_equalized_odds_difference,omitempty"`         // |EqOdds| <= t; t in [0, 1]
	MaxAverageOddsDifference       *float64 `yaml:"max_average_odds_difference" json:"max_average_odds_difference,omitempty"`             // |AOD| <= t; t in [0, 1]
	MaxCalibrationGap              *float64 `yaml:"max_calibration_gap" json:"max_calibration_gap,omitempty"`                             // max ECE − min ECE <= t; t in [0, 1]

	// Undefined says what a NaN metric (too little data in a group) does:
	// "fail" (the default, also for "") or "pass".
	Undefined string `yaml:"undefined" json:"undefined,omitempty"`
}

// Privacy holds the differential-privacy budget.
type Privacy struct {
	MaxEpsilon *float64 `yaml:"max_epsilon" json:"max_epsilon,omitempty"` // ε spent <= MaxEpsilon; > 0
}

// Explanations holds checks on the candidate's most important features.
type Explanations struct {
	TopK            int  `yaml:"top_k" json:"top_k,omitempty"`                       // how many top features are checked; 0 = off
	ForbidProtected bool `yaml:"forbid_protected" json:"forbid_protected,omitempty"` // no protected attribute (or one-hot column of it) in the top k
	ForbidProxies   bool `yaml:"forbid_proxies" json:"forbid_proxies,omitempty"`     // no flagged strong proxy in the top k
}

// Undefined modes.
const (
	UndefinedFail = "fail"
	UndefinedPass = "pass"
)

// Empty reports whether p checks nothing; Evaluate passes every candidate
// under an empty policy.
func (p Policy) Empty() bool {
	u, f := p.Utility, p.Fairness
	return u.MinAUC == nil && u.MinAccuracy == nil && u.MaxLoss == nil &&
		!f.hasThreshold() &&
		p.Privacy.MaxEpsilon == nil &&
		!p.Explanations.ForbidProtected && !p.Explanations.ForbidProxies
}

func (f Fairness) hasThreshold() bool {
	for _, m := range fairMetrics {
		if m.threshold(f) != nil {
			return true
		}
	}
	return false
}

// Validate reports every out-of-range value in p, each as a *PolicyError
// naming its key path (several are joined with errors.Join). Settings that
// could have no effect are rejected too: fairness.attributes or
// fairness.undefined without a fairness threshold, explanations.top_k
// without a forbid_* flag, and a forbid_* flag with top_k 0.
func (p Policy) Validate() error {
	return joinErrors(p.problems())
}

// problems lists every out-of-range value of p, in field order.
func (p Policy) problems() []*PolicyError {
	var v validator
	u := p.Utility
	v.unit("utility.min_auc", u.MinAUC, false)
	v.unit("utility.min_accuracy", u.MinAccuracy, false)
	if u.MaxLoss != nil {
		v.check("utility.max_loss", *u.MaxLoss, *u.MaxLoss >= 0, "must be a finite number >= 0")
	}

	f := p.Fairness
	seen := map[string]int{}
	for i, a := range f.Attributes {
		key := "fairness.attributes[" + strconv.Itoa(i) + "]"
		if msg := familyProblem(a); msg != "" {
			v.add(key, strconv.Quote(a), msg)
			continue
		}
		c := canonicalFamily(a)
		if j, ok := seen[c]; ok {
			v.add(key, strconv.Quote(a), "repeats fairness.attributes["+strconv.Itoa(j)+"]")
			continue
		}
		seen[c] = i
	}
	v.unit("fairness.min_disparate_impact", f.MinDisparateImpact, true)
	for _, m := range fairMetrics[1:] {
		v.unit("fairness."+m.key, m.threshold(f), false)
	}
	switch f.Undefined {
	case "", UndefinedFail, UndefinedPass:
	default:
		v.add("fairness.undefined", strconv.Quote(f.Undefined), `must be "fail" or "pass"`)
	}
	if !f.hasThreshold() {
		if len(f.Attributes) > 0 {
			v.add("fairness.attributes", "", "set, but no fairness threshold is")
		}
		if f.Undefined != "" {
			v.add("fairness.undefined", strconv.Quote(f.Undefined), "set, but no fairness threshold is")
		}
	}

	if e := p.Privacy.MaxEpsilon; e != nil {
		v.check("privacy.max_epsilon", *e, *e > 0, "must be a finite number > 0")
	}

	x := p.Explanations
	switch {
	case x.TopK < 0:
		v.add("explanations.top_k", strconv.Itoa(x.TopK), "must be >= 0")
	case x.TopK == 0 && (x.ForbidProtected || x.ForbidProxies):
		v.add("explanations.top_k", "0", "must be > 0 when forbid_protected or forbid_proxies is set")
	case x.TopK > 0 && !x.ForbidProtected && !x.ForbidProxies:
		v.add("explanations.top_k", strconv.Itoa(x.TopK), "set, but neither forbid_protected nor forbid_proxies is")
	}
	return v.errs
}

type validator struct{ errs []*PolicyError }

func (v *validator) add(key, value, msg string) {
	v.errs = append(v.errs, &PolicyError{Key: key, Value: value, Msg: msg})
}

// check records an error unless x is finite and ok.
func (v *validator) check(key string, x float64, ok bool, msg string) {
	if math.IsNaN(x) || math.IsInf(x, 0) || !ok {
		v.add(key, formatFloat(x), msg)
	}
}

// unit checks an optional threshold in [0, 1], or in (0, 1] if openZero.
func (v *validator) unit(key string, t *float64, openZero bool) {
	if t == nil {
		return
	}
	if openZero {
		v.check(key, *t, *t > 0 && *t <= 1, "must be in (0, 1]")
	} else {
		v.check(key, *t, *t >= 0 && *t <= 1, "must be in [0, 1]")
	}
}

// familyProblem says what is wrong with an attribute family name, or "".
func familyProblem(name string) string {
	if name == "" {
		return "must not be empty"
	}
	parts := strings.Split(name, "&")
	for _, a := range parts {
		switch {
		case a == "":
			return `has an empty attribute name (write "a&b")`
		case strings.TrimSpace(a) != a:
			return "attribute names must not start or end with spaces"
		case strings.Contains(a, "="):
			return `names a group; name the attribute instead (e.g. "sex", not "sex=F")`
		}
	}
	slices.Sort(parts)
	if len(slices.Compact(parts)) != len(strings.Split(name, "&")) {
		return "repeats an attribute"
	}
	return ""
}

// canonicalFamily sorts the "&"-separated attributes of a family name, so
// "sex&race" and "race&sex" name the same family.
func canonicalFamily(name string) string {
	if !strings.Contains(name, "&") {
		return name
	}
	parts := strings.Split(name, "&")
	slices.Sort(parts)
	return strings.Join(parts, "&")
}

func formatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
