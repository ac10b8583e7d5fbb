package gate

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Comparison operators of a Check.
const (
	OpAtLeast = ">="
	OpAtMost  = "<="
)

// Evaluate checks ev against p. The decision passes only if every check
// does; an empty policy passes with no checks. An invalid policy (see
// Policy.Validate) yields one failed check named "policy". Evaluate is pure
// and deterministic; see the package documentation for the semantics.
func Evaluate(p Policy, ev Evidence) Decision {
	if err := p.Validate(); err != nil {
		return Decision{Checks: []Check{{
			Name: "policy", Value: math.NaN(), Threshold: math.NaN(),
			Detail: "invalid policy: " + strings.ReplaceAll(err.Error(), "\n", "; "),
		}}}
	}
	cs := []Check{}
	cs = utilityChecks(cs, p.Utility, ev.Metrics)
	cs = privacyChecks(cs, p.Privacy, ev.Epsilon)
	cs = fairnessChecks(cs, p.Fairness, ev)
	cs = explanationChecks(cs, p.Explanations, ev)
	d := Decision{Passed: true, Checks: cs}
	for _, c := range cs {
		d.Passed = d.Passed && c.Passed
	}
	return d
}

// compare builds a check of v op t. what names the quantity in Detail and
// ctx (if any) follows it.
func compare(name, what string, v, t float64, op, ctx string) Check {
	c := Check{Name: name, Value: v, Threshold: t, Op: op}
	switch op {
	case OpAtLeast:
		c.Passed = v >= t // false for NaN
	case OpAtMost:
		c.Passed = v <= t
	}
	if !c.Passed {
		if math.IsNaN(v) {
			c.Detail = what + " is undefined (NaN)" + ctx
		} else {
			vs, ts := formatPair(v, t)
			rel := " < "
			if op == OpAtMost {
				rel = " > "
			}
			c.Detail = what + " " + vs + rel + ts + ctx
		}
	}
	return c
}

func notMeasured(name string, t float64, op, detail string) Check {
	return Check{Name: name, Value: math.NaN(), Threshold: t, Op: op, Detail: detail}
}

func utilityChecks(cs []Check, u Utility, metrics map[string]float64) []Check {
	for _, m := range []struct {
		name, key, what string
		t               *float64
		op              string
	}{
		{"utility.min_auc", MetricAUC, "AUC", u.MinAUC, OpAtLeast},
		{"utility.min_accuracy", MetricAccuracy, "accuracy", u.MinAccuracy, OpAtLeast},
		{"utility.max_loss", MetricLoss, "loss", u.MaxLoss, OpAtMost},
	} {
		if m.t == nil {
			continue
		}
		v, ok := metrics[m.key]
		if !ok {
			cs = append(cs, notMeasured(m.name, *m.t, m.op, "not measured ("+m.key+" missing)"))
			continue
		}
		cs = append(cs, compare(m.name, m.what, v, *m.t, m.op, ""))
	}
	return cs
}

func privacyChecks(cs []Check, p Privacy, eps *float64) []Check {
	if p.MaxEpsilon == nil {
		return cs
	}
	const name = "privacy.max_epsilon"
	t := *p.MaxEpsilon
	switch {
	case eps == nil:
		return append(cs, Check{Name: name, Value: math.Inf(1), Threshold: t, Op: OpAtMost,
			Detail: "run has no differential privacy (ε = ∞)"})
	case *eps < 0:
		return append(cs, Check{Name: name, Value: *eps, Threshold: t, Op: OpAtMost,
			Detail: "invalid ε " + formatFloat(*eps) + " (negative)"})
	}
	return append(cs, compare(name, "ε", *eps, t, OpAtMost, ""))
}

// fairMetric is one fairness threshold; fairMetrics lists them in check order.
type fairMetric struct {
	key, what string
	threshold func(Fairness) *float64
	value     func(FairnessFamily) float64
	op        string
}

var fairMetrics = []fairMetric{
	{"min_disparate_impact", "disparate impact",
		func(f Fairness) *float64 { return f.MinDisparateImpact },
		func(m FairnessFamily) float64 { return m.DisparateImpact }, OpAtLeast},
	{"max_statistical_parity_difference", "|statistical parity difference|",
		func(f Fairness) *float64 { return f.MaxStatisticalParityDifference },
		func(m FairnessFamily) float64 { return m.StatisticalParityDifference }, OpAtMost},
	{"max_equal_opportunity_difference", "|equal opportunity difference|",
		func(f Fairness) *float64 { return f.MaxEqualOpportunityDifference },
		func(m FairnessFamily) float64 { return m.EqualOpportunityDifference }, OpAtMost},
	{"max_equalized_odds_difference", "|equalized odds difference|",
		func(f Fairness) *float64 { return f.MaxEqualizedOddsDifference },
		func(m FairnessFamily) float64 { return m.EqualizedOddsDifference }, OpAtMost},
	{"max_average_odds_difference", "|average odds difference|",
		func(f Fairness) *float64 { return f.MaxAverageOddsDifference },
		func(m FairnessFamily) float64 { return m.AverageOddsDifference }, OpAtMost},
	{"max_calibration_gap", "calibration gap",
		func(f Fairness) *float64 { return f.MaxCalibrationGap },
		func(m FairnessFamily) float64 { return m.CalibrationGap }, OpAtMost},
}

// families returns the canonical names of the families f checks, sorted.
func families(f Fairness, ev Evidence) []string {
	var names []string
	if len(f.Attributes) > 0 {
		for _, a := range f.Attributes {
			names = append(names, canonicalFamily(a))
		}
	} else {
		names = append(names, ev.Protected...)
		for k := range ev.Fairness {
			if !strings.Contains(k, "&") {
				names = append(names, k)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func fairnessChecks(cs []Check, f Fairness, ev Evidence) []Check {
	if !f.hasThreshold() {
		return cs
	}
	names := families(f, ev)
	if len(names) == 0 {
		for _, m := range fairMetrics {
			if t := m.threshold(f); t != nil {
				cs = append(cs, notMeasured("fairness."+m.key, *t, m.op,
					"not measured (the run has no protected attributes and no fairness audit)"))
			}
		}
		return cs
	}
	// Evidence keys are matched by canonical name ("b&a" finds "a&b"); on
	// a clash the smallest key wins, so the choice is deterministic.
	audits := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(ev.Fairness)) {
		c := canonicalFamily(k)
		if _, ok := audits[c]; !ok {
			audits[c] = k
		}
	}
	for _, fam := range names {
		key, ok := audits[fam]
		audit := ev.Fairness[key]
		for _, m := range fairMetrics {
			t := m.threshold(f)
			if t == nil {
				continue
			}
			name := "fairness." + m.key + "[" + fam + "]"
			if !ok {
				cs = append(cs, notMeasured(name, *t, m.op, "not measured (no audit of "+fam+")"))
				continue
			}
			cs = append(cs, fairCheck(name, m, audit, *t, f.Undefined == UndefinedPass))
		}
	}
	return cs
}

func fairCheck(name string, m fairMetric, audit FairnessFamily, t float64, undefinedPasses bool) Check {
	ctx := ""
	if len(audit.Groups) > 0 {
		ctx = " (groups " + strings.Join(audit.Groups, ", ") + ")"
	}
	v := m.value(audit)
	what := m.what
	if m.op == OpAtLeast { // disparate impact: fold a u/p ratio above 1
		if v > 1 {
			what += " (reported " + formatFloat(v) + ", read as its inverse)"
			v = 1 / v
		}
	} else {
		v = math.Abs(v)
	}
	if math.IsNaN(v) {
		c := Check{Name: name, Value: v, Threshold: t, Op: m.op, Passed: undefinedPasses}
		if undefinedPasses {
			c.Detail = m.what + " is undefined (too little data in a group); passed because fairness.undefined is pass" + ctx
		} else {
			c.Detail = m.what + " is undefined (too little data in a group)" + ctx
		}
		return c
	}
	return compare(name, what, v, t, m.op, ctx)
}

func explanationChecks(cs []Check, x Explanations, ev Evidence) []Check {
	if x.TopK <= 0 {
		return cs
	}
	top := ev.TopFeatures[:min(x.TopK, len(ev.TopFeatures))]
	of := " of top " + strconv.Itoa(x.TopK)
	if x.ForbidProtected {
		const name = "explanations.forbid_protected"
		switch {
		case ev.TopFeatures == nil:
			cs = append(cs, notMeasured(name, 0, OpAtMost, "not measured (no feature ranking)"))
		case len(ev.Protected) == 0:
			cs = append(cs, notMeasured(name, 0, OpAtMost, "not measured (the run has no protected attributes)"))
		default:
			cs = append(cs, rankCheck(name, top, of, "is protected", func(f string) bool {
				return slices.ContainsFunc(ev.Protected, func(a string) bool {
					return f == a || strings.HasPrefix(f, a+"=")
				})
			}))
		}
	}
	if x.ForbidProxies {
		const name = "explanations.forbid_proxies"
		switch {
		case ev.TopFeatures == nil:
			cs = append(cs, notMeasured(name, 0, OpAtMost, "not measured (no feature ranking)"))
		case ev.Proxies == nil:
			cs = append(cs, notMeasured(name, 0, OpAtMost, "not measured (proxy check did not run)"))
		default:
			cs = append(cs, rankCheck(name, top, of, "is a strong proxy", func(f string) bool {
				return slices.Contains(ev.Proxies, f)
			}))
		}
	}
	return cs
}

// rankCheck counts the top features that are forbidden; it passes at 0.
func rankCheck(name string, top []string, of, is string, forbidden func(string) bool) Check {
	var bad []string
	for i, f := range top {
		if forbidden(f) {
			bad = append(bad, "feature "+f+" "+is+" and ranks "+strconv.Itoa(i+1)+of)
		}
	}
	return Check{Name: name, Value: float64(len(bad)), Threshold: 0, Op: OpAtMost,
		Passed: len(bad) == 0, Detail: strings.Join(bad, "; ")}
}

// formatPair formats v and t with the fewest significant digits (at least 3)
// that tell them apart, so a Detail never reads "0.8 < 0.8".
func formatPair(v, t float64) (string, string) {
	for prec := 3; prec < 17; prec++ {
		vs := strconv.FormatFloat(v, 'g', prec, 64)
		ts := strconv.FormatFloat(t, 'g', prec, 64)
		if vs != ts || v == t {
			return vs, ts
		}
	}
	return formatFloat(v), formatFloat(t)
}
