package gate

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalidPolicy is wrapped by every error that Parse, Load (for a file it
// could read) and Policy.Validate return for a bad policy.
var ErrInvalidPolicy = errors.New("gate: invalid policy")

// PolicyError describes one problem in a policy: a YAML syntax error, an
// unknown or repeated key, a value of the wrong type, or a threshold out of
// range. It wraps ErrInvalidPolicy and, when there is one, the YAML error.
//
// Error reads like
//
//	policy.yaml: line 4: fairness.min_disparate_impact = 1.3: must be in (0, 1]
//
// with the parts that are unknown left out.
type PolicyError struct {
	Source string // file name given to Parse or Load; "" if none
	Line   int    // 1-based line in Source; 0 if unknown
	Key    string // key path, e.g. "fairness.min_disparate_impact" or "fairness.attributes[1]"; "" if none
	Value  string // offending value as text; "" if not applicable
	Msg    string // what is wrong
	Err    error  // underlying YAML error, or nil
}

func (e *PolicyError) Error() string {
	var parts []string
	if e.Source != "" {
		parts = append(parts, e.Source)
	}
	if e.Line > 0 {
		parts = append(parts, "line "+strconv.Itoa(e.Line))
	}
	switch {
	case e.Key != "" && e.Value != "":
		parts = append(parts, e.Key+" = "+e.Value)
	case e.Key != "":
		parts = append(parts, e.Key)
	}
	if len(parts) == 0 {
		parts = append(parts, "gate: policy")
	}
	parts = append(parts, e.Msg)
	return strings.Join(parts, ": ")
}

// Unwrap returns ErrInvalidPolicy and the underlying YAML error, if any.
func (e *PolicyError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidPolicy, e.Err}
	}
	return []error{ErrInvalidPolicy}
}

// joinErrors returns nil, the single error, or all of them joined (one per
// line) so that a policy author sees every problem at once.
func joinErrors(errs []*PolicyError) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	es := make([]error, len(errs))
	for i, e := range errs {
		es[i] = e
	}
	return errors.Join(es...)
}
