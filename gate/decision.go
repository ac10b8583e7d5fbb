package gate

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Decision is the outcome of Evaluate.
type Decision struct {
	Passed bool    `json:"passed"` // every check passed
	Checks []Check `json:"checks"` // every check evaluated: utility, privacy, fairness (by family, sorted), explanations
}

// Check is one evaluated condition: Value Op Threshold.
//
// In JSON, a NaN or infinite Value or Threshold is written as null (JSON has
// no such numbers), and null reads back as NaN.
type Check struct {
	Name      string  `json:"name"`             // e.g. "utility.min_auc", "fairness.min_disparate_impact[sex]"
	Value     float64 `json:"value"`            // measured value; NaN if not measured or undefined
	Threshold float64 `json:"threshold"`        // the policy's threshold
	Op        string  `json:"op"`               // OpAtLeast or OpAtMost
	Passed    bool    `json:"passed"`           // whether Value Op Threshold held
	Detail    string  `json:"detail,omitempty"` // why it failed (or passed by policy despite NaN)
}

// Failures returns the checks that failed, in order; nil if none did.
func (d Decision) Failures() []Check {
	var out []Check
	for _, c := range d.Checks {
		if !c.Passed {
			out = append(out, c)
		}
	}
	return out
}

// Summary describes d in one line, e.g. "passed 7 checks" or
// "failed 2 of 7: fairness.min_disparate_impact[sex] = 0.62 (want >= 0.8); utility.min_auc: not measured (eval_auc missing) (want >= 0.75)".
func (d Decision) Summary() string {
	n := len(d.Checks)
	fails := d.Failures()
	if len(fails) == 0 {
		switch n {
		case 0:
			return "passed 0 checks (empty policy)"
		case 1:
			return "passed 1 check"
		}
		return "passed " + strconv.Itoa(n) + " checks"
	}
	parts := make([]string, len(fails))
	for i, c := range fails {
		parts[i] = c.brief()
	}
	return "failed " + strconv.Itoa(len(fails)) + " of " + strconv.Itoa(n) + ": " + strings.Join(parts, "; ")
}

// brief is a failed check in Summary: its value, or its detail if there is
// no value or the value is a count of offending features.
func (c Check) brief() string {
	if c.Op == "" {
		return c.Name + ": " + c.Detail
	}
	v, t := formatPair(c.Value, c.Threshold)
	want := " (want " + c.Op + " " + t + ")"
	if math.IsNaN(c.Value) {
		return c.Name + ": " + c.Detail + want
	}
	if strings.HasPrefix(c.Name, "explanations.") { // Value is a count; name the features
		return c.Name + ": " + c.Detail
	}
	return c.Name + " = " + v + want
}

// jsonFloat is a float64 whose non-finite values are JSON null.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(x)
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(f))
}

type checkJSON struct {
	Name      string    `json:"name"`
	Value     jsonFloat `json:"value"`
	Threshold jsonFloat `json:"threshold"`
	Op        string    `json:"op"`
	Passed    bool      `json:"passed"`
	Detail    string    `json:"detail,omitempty"`
}

// MarshalJSON writes c with NaN and ±Inf as null. It leaves HTML escaping
// ("<=" as "\u003c=") to the caller's encoder.
func (c Check) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(checkJSON{c.Name, jsonFloat(c.Value), jsonFloat(c.Threshold), c.Op, c.Passed, c.Detail}); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads c, with null (or an absent number) as NaN.
func (c *Check) UnmarshalJSON(b []byte) error {
	j := checkJSON{Value: jsonFloat(math.NaN()), Threshold: jsonFloat(math.NaN())}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Check{j.Name, float64(j.Value), float64(j.Threshold), j.Op, j.Passed, j.Detail}
	return nil
}
