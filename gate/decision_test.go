package gate

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

var sample = Decision{Checks: []Check{
	{Name: "utility.min_auc", Value: 0.81, Threshold: 0.75, Op: OpAtLeast, Passed: true},
	{Name: "privacy.max_epsilon", Value: math.Inf(1), Threshold: 8, Op: OpAtMost, Detail: "run has no differential privacy (ε = ∞)"},
	{Name: "fairness.min_disparate_impact[afam]", Value: 0.62, Threshold: 0.8, Op: OpAtLeast, Detail: "disparate impact 0.62 < 0.8"},
	{Name: "fairness.max_calibration_gap[sex]", Value: math.NaN(), Threshold: 0.05, Op: OpAtMost, Detail: "calibration gap is undefined (NaN)"},
	{Name: "explanations.forbid_protected", Value: 1, Threshold: 0, Op: OpAtMost, Detail: "feature afam=yes is protected and ranks 2 of top 3"},
}}

func TestFailuresAndSummary(t *testing.T) {
	f := sample.Failures()
	if len(f) != 4 || f[0].Name != "privacy.max_epsilon" || f[3].Name != "explanations.forbid_protected" {
		t.Errorf("Failures() = %+v; want the 4 failed checks in order", f)
	}
	want := "failed 4 of 5: privacy.max_epsilon = +Inf (want <= 8); " +
		"fairness.min_disparate_impact[afam] = 0.62 (want >= 0.8); " +
		"fairness.max_calibration_gap[sex]: calibration gap is undefined (NaN) (want <= 0.05); " +
		"explanations.forbid_protected: feature afam=yes is protected and ranks 2 of top 3"
	if got := sample.Summary(); got != want {
		t.Errorf("Summary() =\n%s\nwant\n%s", got, want)
	}

	for _, tc := range []struct {
		d    Decision
		want string
	}{
		{Decision{Passed: true, Checks: []Check{}}, "passed 0 checks (empty policy)"},
		{Decision{Passed: true, Checks: sample.Checks[:1]}, "passed 1 check"},
		{Decision{Passed: true, Checks: []Check{sample.Checks[0], sample.Checks[0]}}, "passed 2 checks"},
		// Values that round alike get more digits.
		{Decision{Checks: []Check{{Name: "x", Value: 0.79999, Threshold: 0.8, Op: OpAtLeast}}}, "failed 1 of 1: x = 0.79999 (want >= 0.8)"},
	} {
		if got := tc.d.Summary(); got != tc.want {
			t.Errorf("Summary() = %q; want %q", got, tc.want)
		}
		if f := tc.d.Failures(); tc.d.Passed && f != nil {
			t.Errorf("Failures() of a passed decision = %+v; want nil", f)
		}
	}
}

func TestDecisionJSON(t *testing.T) {
	d := Decision{Checks: sample.Checks[1:4]}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		t.Fatalf("encoding a decision with NaN and +Inf: %v", err)
	}
	want := `{"passed":false,"checks":[` +
		`{"name":"privacy.max_epsilon","value":null,"threshold":8,"op":"<=","passed":false,"detail":"run has no differential privacy (ε = ∞)"},` +
		`{"name":"fairness.min_disparate_impact[afam]","value":0.62,"threshold":0.8,"op":">=","passed":false,"detail":"disparate impact 0.62 < 0.8"},` +
		`{"name":"fairness.max_calibration_gap[sex]","value":null,"threshold":0.05,"op":"<=","passed":false,"detail":"calibration gap is undefined (NaN)"}]}` + "\n"
	if b.String() != want {
		t.Errorf("JSON =\n%s\nwant\n%s", b.String(), want)
	}

	// json.Marshal escapes "<" itself; null reads back as NaN.
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Decision
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	wantBack := Decision{Checks: []Check{d.Checks[0], d.Checks[1], d.Checks[2]}}
	wantBack.Checks[0].Value = math.NaN() // +Inf is written as null
	if len(back.Checks) != 3 || !math.IsNaN(back.Checks[0].Value) || !math.IsNaN(back.Checks[2].Value) {
		t.Fatalf("round trip = %+v; want NaN values for nulls", back)
	}
	for i := range back.Checks {
		g, w := back.Checks[i], wantBack.Checks[i]
		g.Value, w.Value = 0, 0
		if !reflect.DeepEqual(g, w) {
			t.Errorf("round trip check %d = %+v; want %+v", i, back.Checks[i], wantBack.Checks[i])
		}
	}
	if back.Checks[1].Value != 0.62 {
		t.Errorf("round trip value = %v; want 0.62", back.Checks[1].Value)
	}
}

func TestFormatPair(t *testing.T) {
	for _, tc := range []struct {
		v, t   float64
		vs, ts string
	}{
		{0.62, 0.8, "0.62", "0.8"},
		{0.6153846153846154, 0.8, "0.615", "0.8"},
		{0.79999, 0.8, "0.79999", "0.8"},
		{0.8, 0.8, "0.8", "0.8"},
		{8.0001, 8, "8.0001", "8"},
		{math.Inf(1), 8, "+Inf", "8"},
	} {
		if vs, ts := formatPair(tc.v, tc.t); vs != tc.vs || ts != tc.ts {
			t.Errorf("formatPair(%v, %v) = %q, %q; want %q, %q", tc.v, tc.t, vs, ts, tc.vs, tc.ts)
		}
	}
}
