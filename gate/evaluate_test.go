package gate

import (
	"math"
	"reflect"
	"testing"
)

var nan = math.NaN()

// only returns the single check of d, failing the test if there is not
// exactly one.
func only(t *testing.T, d Decision) Check {
	t.Helper()
	if len(d.Checks) != 1 {
		t.Fatalf("got %d checks %+v; want 1", len(d.Checks), d.Checks)
	}
	if d.Passed != d.Checks[0].Passed {
		t.Errorf("Decision.Passed = %v but its only check passed = %v", d.Passed, d.Checks[0].Passed)
	}
	return d.Checks[0]
}

func TestUtilityAndPrivacyThresholds(t *testing.T) {
	auc := Policy{Utility: Utility{MinAUC: ptr(0.75)}}
	loss := Policy{Utility: Utility{MaxLoss: ptr(0.6)}}
	eps := Policy{Privacy: Privacy{MaxEpsilon: ptr(8)}}
	m := func(k string, v float64) Evidence { return Evidence{Metrics: map[string]float64{k: v}} }
	e := func(v float64) Evidence { return Evidence{Epsilon: &v} }
	for _, tc := range []struct {
		name   string
		p      Policy
		ev     Evidence
		pass   bool
		value  float64
		detail string
	}{
		{"auc at threshold", auc, m(MetricAUC, 0.75), true, 0.75, ""},
		{"auc above", auc, m(MetricAUC, 0.7501), true, 0.7501, ""},
		{"auc below", auc, m(MetricAUC, 0.7499), false, 0.7499, "AUC 0.7499 < 0.75"},
		{"auc NaN", auc, m(MetricAUC, nan), false, nan, "AUC is undefined (NaN)"},
		{"auc missing", auc, m(MetricAccuracy, 0.9), false, nan, "not measured (eval_auc missing)"},
		{"auc no metrics", auc, Evidence{}, false, nan, "not measured (eval_auc missing)"},
		{"loss at threshold", loss, m(MetricLoss, 0.6), true, 0.6, ""},
		{"loss above", loss, m(MetricLoss, 0.61), false, 0.61, "loss 0.61 > 0.6"},
		{"eps at budget", eps, e(8), true, 8, ""},
		{"eps over", eps, e(8.5), false, 8.5, "ε 8.5 > 8"},
		{"eps hair over", eps, e(8.0001), false, 8.0001, "ε 8.0001 > 8"},
		{"no DP", eps, Evidence{}, false, math.Inf(1), "run has no differential privacy (ε = ∞)"},
		{"negative eps", eps, e(-1), false, -1, "invalid ε -1 (negative)"},
	} {
		c := only(t, Evaluate(tc.p, tc.ev))
		if c.Passed != tc.pass || c.Detail != tc.detail || !sameFloat(c.Value, tc.value) {
			t.Errorf("%s: got passed=%v value=%v detail=%q; want %v %v %q", tc.name, c.Passed, c.Value, c.Detail, tc.pass, tc.value, tc.detail)
		}
	}
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

func TestFairnessThresholds(t *testing.T) {
	groups := []string{"afam=no", "afam=yes"}
	di := Fairness{Attributes: []string{"afam"}, MinDisparateImpact: ptr(0.8)}
	spd := Fairness{Attributes: []string{"afam"}, MaxStatisticalParityDifference: ptr(0.1)}
	cal := Fairness{Attributes: []string{"afam"}, MaxCalibrationGap: ptr(0.05)}
	for _, tc := range []struct {
		name   string
		f      Fairness
		audit  FairnessFamily
		pass   bool
		value  float64
		detail string
	}{
		{"DI exactly 0.8", di, FairnessFamily{DisparateImpact: 0.8}, true, 0.8, ""},
		{"DI 0.79999", di, FairnessFamily{Groups: groups, DisparateImpact: 0.79999}, false, 0.79999,
			"disparate impact 0.79999 < 0.8 (groups afam=no, afam=yes)"},
		{"DI 0.62", di, FairnessFamily{Groups: groups, DisparateImpact: 0.62}, false, 0.62,
			"disparate impact 0.62 < 0.8 (groups afam=no, afam=yes)"},
		{"DI 1.25 folds to 0.8", di, FairnessFamily{DisparateImpact: 1.25}, true, 0.8, ""},
		{"DI 2 folds to 0.5", di, FairnessFamily{DisparateImpact: 2}, false, 0.5,
			"disparate impact (reported 2, read as its inverse) 0.5 < 0.8"},
		{"DI +Inf folds to 0", di, FairnessFamily{DisparateImpact: math.Inf(1)}, false, 0,
			"disparate impact (reported +Inf, read as its inverse) 0 < 0.8"},
		{"SPD +0.1", spd, FairnessFamily{StatisticalParityDifference: 0.1}, true, 0.1, ""},
		{"SPD -0.1", spd, FairnessFamily{StatisticalParityDifference: -0.1}, true, 0.1, ""},
		{"SPD -0.11", spd, FairnessFamily{Groups: groups, StatisticalParityDifference: -0.11}, false, 0.11,
			"|statistical parity difference| 0.11 > 0.1 (groups afam=no, afam=yes)"},
		{"calibration 0.05", cal, FairnessFamily{CalibrationGap: 0.05}, true, 0.05, ""},
		{"calibration 0.051", cal, FairnessFamily{CalibrationGap: 0.051}, false, 0.051, "calibration gap 0.051 > 0.05"},
	} {
		ev := Evidence{Fairness: map[string]FairnessFamily{"afam": tc.audit}}
		c := only(t, Evaluate(Policy{Fairness: tc.f}, ev))
		if c.Passed != tc.pass || c.Detail != tc.detail || !sameFloat(c.Value, tc.value) {
			t.Errorf("%s: got passed=%v value=%v detail=%q; want %v %v %q", tc.name, c.Passed, c.Value, c.Detail, tc.pass, tc.value, tc.detail)
		}
	}
}

func TestFairnessUndefined(t *testing.T) {
	audit := FairnessFamily{Groups: []string{"afam=no", "afam=yes"}, EqualizedOddsDifference: nan}
	ev := Evidence{Fairness: map[string]FairnessFamily{"afam": audit}}
	for _, tc := range []struct {
		mode   string
		pass   bool
		detail string
	}{
		{"", false, "|equalized odds difference| is undefined (too little data in a group) (groups afam=no, afam=yes)"},
		{"fail", false, "|equalized odds difference| is undefined (too little data in a group) (groups afam=no, afam=yes)"},
		{"pass", true, "|equalized odds difference| is undefined (too little data in a group); passed because fairness.undefined is pass (groups afam=no, afam=yes)"},
	} {
		p := Policy{Fairness: Fairness{MaxEqualizedOddsDifference: ptr(0.2), Undefined: tc.mode}}
		c := only(t, Evaluate(p, ev))
		if c.Name != "fairness.max_equalized_odds_difference[afam]" || c.Passed != tc.pass || c.Detail != tc.detail || !math.IsNaN(c.Value) {
			t.Errorf("undefined=%q: got %+v; want passed=%v detail %q", tc.mode, c, tc.pass, tc.detail)
		}
	}
}

func names(d Decision) []string {
	var out []string
	for _, c := range d.Checks {
		out = append(out, c.Name+map[bool]string{true: " ok", false: " FAIL"}[c.Passed])
	}
	return out
}

func TestFairnessFamilies(t *testing.T) {
	ok := FairnessFamily{DisparateImpact: 0.9}
	di := Fairness{MinDisparateImpact: ptr(0.8)}
	for _, tc := range []struct {
		name string
		f    Fairness
		ev   Evidence
		want []string
	}{
		{"default: protected and single families, not intersections", di, Evidence{
			Protected: []string{"single", "afam"},
			Fairness:  map[string]FairnessFamily{"afam": ok, "afam&single": {DisparateImpact: 0.1}, "single": ok},
		}, []string{"fairness.min_disparate_impact[afam] ok", "fairness.min_disparate_impact[single] ok"}},
		{"default: protected attribute without audit", di, Evidence{
			Protected: []string{"afam", "sex"},
			Fairness:  map[string]FairnessFamily{"afam": ok},
		}, []string{"fairness.min_disparate_impact[afam] ok", "fairness.min_disparate_impact[sex] FAIL"}},
		{"default: no protected attributes and no audit", Fairness{MinDisparateImpact: ptr(0.8), MaxCalibrationGap: ptr(0.1)}, Evidence{},
			[]string{"fairness.min_disparate_impact FAIL", "fairness.max_calibration_gap FAIL"}},
		{"configured intersection in either order", Fairness{Attributes: []string{"single&afam"}, MinDisparateImpact: ptr(0.8)}, Evidence{
			Fairness: map[string]FairnessFamily{"afam": {DisparateImpact: 0.1}, "afam&single": ok},
		}, []string{"fairness.min_disparate_impact[afam&single] ok"}},
		{"configured family missing", Fairness{Attributes: []string{"sex"}, MinDisparateImpact: ptr(0.8)}, Evidence{
			Fairness: map[string]FairnessFamily{"afam": ok},
		}, []string{"fairness.min_disparate_impact[sex] FAIL"}},
		{"sorted by family, then metric order", Fairness{
			Attributes:         []string{"z", "a"},
			MaxCalibrationGap:  ptr(0.1),
			MinDisparateImpact: ptr(0.8),
		}, Evidence{Fairness: map[string]FairnessFamily{"a": ok, "z": ok}}, []string{
			"fairness.min_disparate_impact[a] ok", "fairness.max_calibration_gap[a] ok",
			"fairness.min_disparate_impact[z] ok", "fairness.max_calibration_gap[z] ok",
		}},
	} {
		if got := names(Evaluate(Policy{Fairness: tc.f}, tc.ev)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: checks %q; want %q", tc.name, got, tc.want)
		}
	}
	d := Evaluate(Policy{Fairness: Fairness{Attributes: []string{"sex"}, MinDisparateImpact: ptr(0.8)}}, Evidence{})
	if c := only(t, d); c.Detail != "not measured (no audit of sex)" || !math.IsNaN(c.Value) || c.Threshold != 0.8 {
		t.Errorf("missing family: %+v", c)
	}
}

func TestExplanations(t *testing.T) {
	prot := Policy{Explanations: Explanations{TopK: 3, ForbidProtected: true}}
	prox := Policy{Explanations: Explanations{TopK: 3, ForbidProxies: true}}
	protected := []string{"afam", "single"}
	for _, tc := range []struct {
		name   string
		p      Policy
		ev     Evidence
		pass   bool
		value  float64
		detail string
	}{
		{"one-hot column in top 3", prot, Evidence{Protected: protected, TopFeatures: []string{"income", "afam=yes", "age", "single=no"}},
			false, 1, "feature afam=yes is protected and ranks 2 of top 3"},
		{"raw attribute and one-hot", prot, Evidence{Protected: protected, TopFeatures: []string{"single", "afam=no", "age"}},
			false, 2, "feature single is protected and ranks 1 of top 3; feature afam=no is protected and ranks 2 of top 3"},
		{"protected only below top k", prot, Evidence{Protected: protected, TopFeatures: []string{"income", "age", "debt", "afam=yes"}},
			true, 0, ""},
		{"prefix without = is not protected", prot, Evidence{Protected: protected, TopFeatures: []string{"afamily", "singles=2"}},
			true, 0, ""},
		{"fewer features than k", prot, Evidence{Protected: protected, TopFeatures: []string{"afam=yes"}},
			false, 1, "feature afam=yes is protected and ranks 1 of top 3"},
		{"no ranking", prot, Evidence{Protected: protected}, false, nan, "not measured (no feature ranking)"},
		{"no protected attributes", prot, Evidence{TopFeatures: []string{"income"}}, false, nan, "not measured (the run has no protected attributes)"},
		{"proxy in top 3", prox, Evidence{Proxies: []string{"zip"}, TopFeatures: []string{"zip", "income", "age"}},
			false, 1, "feature zip is a strong proxy and ranks 1 of top 3"},
		{"proxy below top 3", prox, Evidence{Proxies: []string{"zip"}, TopFeatures: []string{"income", "age", "debt", "zip"}},
			true, 0, ""},
		{"proxy check ran, none flagged", prox, Evidence{Proxies: []string{}, TopFeatures: []string{"zip"}}, true, 0, ""},
		{"proxy check did not run", prox, Evidence{TopFeatures: []string{"zip"}}, false, nan, "not measured (proxy check did not run)"},
	} {
		c := only(t, Evaluate(tc.p, tc.ev))
		if c.Passed != tc.pass || c.Detail != tc.detail || !sameFloat(c.Value, tc.value) || c.Op != OpAtMost || c.Threshold != 0 {
			t.Errorf("%s: got %+v; want passed=%v value=%v detail=%q", tc.name, c, tc.pass, tc.value, tc.detail)
		}
	}
}

func TestEvaluateOrderAndEmpty(t *testing.T) {
	p := Policy{
		Explanations: Explanations{TopK: 1, ForbidProxies: true},
		Fairness:     Fairness{MinDisparateImpact: ptr(0.8)},
		Privacy:      Privacy{MaxEpsilon: ptr(1)},
		Utility:      Utility{MaxLoss: ptr(1), MinAUC: ptr(0.5), MinAccuracy: ptr(0.5)},
	}
	want := []string{
		"utility.min_auc FAIL", "utility.min_accuracy FAIL", "utility.max_loss FAIL",
		"privacy.max_epsilon FAIL", "fairness.min_disparate_impact FAIL", "explanations.forbid_proxies FAIL",
	}
	d := Evaluate(p, Evidence{})
	if got := names(d); !reflect.DeepEqual(got, want) || d.Passed {
		t.Errorf("Evaluate(all checks, no evidence) = %v %q; want failed %q", d.Passed, got, want)
	}

	d = Evaluate(Policy{}, Evidence{})
	if !d.Passed || d.Checks == nil || len(d.Checks) != 0 {
		t.Errorf("Evaluate(empty policy) = %+v; want passed with no checks", d)
	}
}

func TestEvaluateInvalidPolicy(t *testing.T) {
	p := Policy{Fairness: Fairness{MinDisparateImpact: ptr(1.5)}}
	c := only(t, Evaluate(p, Evidence{Fairness: map[string]FairnessFamily{"a": {DisparateImpact: 1}}}))
	want := "invalid policy: fairness.min_disparate_impact = 1.5: must be in (0, 1]"
	if c.Name != "policy" || c.Passed || c.Detail != want {
		t.Errorf("Evaluate(invalid policy) check = %+v; want failed %q", c, want)
	}
}
