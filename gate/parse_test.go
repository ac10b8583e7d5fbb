package gate

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func ptr(x float64) *float64 { return &x }

func TestLoadExample(t *testing.T) {
	p, err := Load("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Policy{
		Utility: Utility{MinAUC: ptr(0.75), MaxLoss: ptr(0.6)},
		Privacy: Privacy{MaxEpsilon: ptr(8)},
		Fairness: Fairness{
			Attributes:                    []string{"afam", "afam&single"},
			MinDisparateImpact:            ptr(0.8),
			MaxEqualOpportunityDifference: ptr(0.1),
			MaxCalibrationGap:             ptr(0.05),
			Undefined:                     "fail",
		},
		Explanations: Explanations{TopK: 3, ForbidProtected: true, ForbidProxies: true},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Load(example.yaml) = %+v; want %+v", p, want)
	}
	if p.Empty() {
		t.Error("example policy reports Empty")
	}
}

// The example in the package documentation is testdata/example.yaml.
func TestDocExampleInSync(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	in := false
	for line := range strings.Lines(string(doc)) {
		switch {
		case strings.HasPrefix(line, "//\t# Publish gate"):
			in = true
		case in && !strings.HasPrefix(line, "//\t"):
			in = false
		}
		if in {
			b.WriteString(strings.TrimPrefix(line, "//\t"))
		}
	}
	if b.String() != string(file) {
		t.Errorf("doc.go example:\n%s\ntestdata/example.yaml:\n%s", b.String(), file)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"unknown_key.yaml", "testdata/unknown_key.yaml: line 4: utility.min_aucc: unknown key (valid keys: min_auc, min_accuracy, max_loss)"},
		{"wrong_type.yaml", "testdata/wrong_type.yaml: line 2: privacy.max_epsilon: cannot unmarshal !!str `high` into float64"},
		{"out_of_range.yaml", "testdata/out_of_range.yaml: line 5: fairness.min_disparate_impact = 1.3: must be in (0, 1]"},
		{"forbid_without_top_k.yaml", "testdata/forbid_without_top_k.yaml: line 1: explanations.top_k = 0: must be > 0 when forbid_protected or forbid_proxies is set"},
		{"percent.yaml", "testdata/percent.yaml: line 2: utility.min_accuracy = 90: must be in [0, 1]\n" +
			"testdata/percent.yaml: line 4: fairness.max_statistical_parity_difference = 10: must be in [0, 1]\n" +
			`testdata/percent.yaml: line 5: fairness.undefined = "skip": must be "fail" or "pass"`},
	} {
		p, err := Load("testdata/" + tc.file)
		if err == nil {
			t.Errorf("Load(%s) = %+v, nil; want error", tc.file, p)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Load(%s) error:\n%s\nwant:\n%s", tc.file, err, tc.want)
		}
		if !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("Load(%s) error does not wrap ErrInvalidPolicy", tc.file)
		}
		if !reflect.DeepEqual(p, Policy{}) {
			t.Errorf("Load(%s) returned a policy with its error: %+v", tc.file, p)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/nope.yaml")
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("Load(missing) = %v; want a not-exist error that is not ErrInvalidPolicy", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"utilty:\n  min_auc: 0.7\n", "p.yaml: line 1: utilty: unknown key (valid keys: utility, fairness, privacy, explanations)"},
		{"privacy:\n  max_epsilon: 1\n  max_epsilon: 2\n", "p.yaml: line 3: privacy.max_epsilon: key repeated (first at line 2)"},
		{"utility:\n  min_auc:\n", "p.yaml: line 2: utility.min_auc: no value (delete the key to leave the check off)"},
		{"- a\n- b\n", "p.yaml: line 1: the policy must be a mapping with keys utility, fairness, privacy, explanations"},
		{"utility: 0.8\n", "p.yaml: line 1: utility: must be a mapping with keys min_auc, min_accuracy, max_loss"},
		{"explanations:\n  top_k: 2.5\n  forbid_protected: true\n", "p.yaml: line 2: explanations.top_k: `2.5` is not a whole number"},
		{"explanations:\n  top_k: 2\n  forbid_protected: maybe\n", "p.yaml: line 3: explanations.forbid_protected: cannot unmarshal !!str `maybe` into bool"},
		{"explanations:\n  top_k: \"2\"\n  forbid_protected: true\n", "p.yaml: line 2: explanations.top_k: cannot unmarshal !!str `2` into int"},
		{"fairness:\n  attributes: afam\n  min_disparate_impact: 0.8\n", "p.yaml: line 2: fairness.attributes: cannot unmarshal !!str `afam` into []string"},
		{"explanations:\n  top_k: -1\n", "p.yaml: line 2: explanations.top_k = -1: must be >= 0"},
		{"explanations:\n  top_k: 5\n", "p.yaml: line 2: explanations.top_k = 5: set, but neither forbid_protected nor forbid_proxies is"},
		{"privacy:\n  max_epsilon: 0\n", "p.yaml: line 2: privacy.max_epsilon = 0: must be a finite number > 0"},
		{"privacy:\n  max_epsilon: .inf\n", "p.yaml: line 2: privacy.max_epsilon = +Inf: must be a finite number > 0"},
		{"utility:\n  max_loss: -0.1\n", "p.yaml: line 2: utility.max_loss = -0.1: must be a finite number >= 0"},
		{"utility:\n  min_auc: 1.01\n", "p.yaml: line 2: utility.min_auc = 1.01: must be in [0, 1]"},
		{"fairness:\n  min_disparate_impact: 0\n", "p.yaml: line 2: fairness.min_disparate_impact = 0: must be in (0, 1]"},
		{"fairness:\n  min_disparate_impact: .nan\n", "p.yaml: line 2: fairness.min_disparate_impact = NaN: must be in (0, 1]"},
		{"fairness:\n  max_average_odds_difference: -0.01\n", "p.yaml: line 2: fairness.max_average_odds_difference = -0.01: must be in [0, 1]"},
		{"fairness:\n  attributes: [afam]\n", "p.yaml: line 2: fairness.attributes: set, but no fairness threshold is"},
		{"fairness:\n  min_disparate_impact: 0.8\n  attributes:\n    - afam\n    - afam=yes\n    - single&afam\n    - afam&single\n    - a&&b\n",
			"p.yaml: line 5: fairness.attributes[1] = \"afam=yes\": names a group; name the attribute instead (e.g. \"sex\", not \"sex=F\")\n" +
				"p.yaml: line 7: fairness.attributes[3] = \"afam&single\": repeats fairness.attributes[2]\n" +
				"p.yaml: line 8: fairness.attributes[4] = \"a&&b\": has an empty attribute name (write \"a&b\")"},
	} {
		p, err := Parse([]byte(tc.in), "p.yaml")
		if err == nil {
			t.Errorf("Parse(%q) = %+v, nil; want error %q", tc.in, p, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Parse(%q) error:\n%s\nwant:\n%s", tc.in, err, tc.want)
		}
		if !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("Parse(%q) error does not wrap ErrInvalidPolicy", tc.in)
		}
	}
}

func TestParseSyntaxAndDocuments(t *testing.T) {
	for _, tc := range []struct{ in, contains string }{
		{"utility:\n  min_auc: [0.7\n", "p.yaml: line "},
		{"privacy:\n  max_epsilon: 1\n---\nprivacy:\n  max_epsilon: 2\n", "one YAML document"},
	} {
		_, err := Parse([]byte(tc.in), "p.yaml")
		var pe *PolicyError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("Parse(%q) = %v; want a *PolicyError containing %q", tc.in, err, tc.contains)
		}
	}
}

func TestParseEmptyAndZero(t *testing.T) {
	for _, in := range []string{"", "# nothing yet\n", "utility:\nfairness:\n"} {
		p, err := Parse([]byte(in), "p.yaml")
		if err != nil || !p.Empty() {
			t.Errorf("Parse(%q) = %+v, %v; want an empty policy", in, p, err)
		}
	}
	// An explicit 0 is a check, unlike an absent key.
	p, err := Parse([]byte("fairness:\n  max_statistical_parity_difference: 0\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m := p.Fairness.MaxStatisticalParityDifference; m == nil || *m != 0 || p.Empty() {
		t.Errorf("explicit 0 parsed as %v (Empty %v); want a set threshold 0", m, p.Empty())
	}
	// Edge values of each range are accepted.
	in := "utility: {min_auc: 1, min_accuracy: 0, max_loss: 0}\nfairness: {min_disparate_impact: 1, max_calibration_gap: 1}\nprivacy: {max_epsilon: 1e-9}\n"
	if _, err := Parse([]byte(in), "p.yaml"); err != nil {
		t.Errorf("Parse(edge values) = %v; want nil", err)
	}
}

func TestValidateLiteral(t *testing.T) {
	err := Policy{Privacy: Privacy{MaxEpsilon: ptr(-1)}}.Validate()
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Key != "privacy.max_epsilon" || pe.Line != 0 {
		t.Fatalf("Validate = %#v; want a *PolicyError for privacy.max_epsilon without a line", err)
	}
	if want := "privacy.max_epsilon = -1: must be a finite number > 0"; err.Error() != want {
		t.Errorf("Validate error = %q; want %q", err, want)
	}
}
