package registry

import (
	"encoding/json"
	"fmt"
	"math"
)

// Float is a float64 that survives JSON whatever its value. JSON has no NaN
// or infinity, and metrics legitimately produce them (an empty protected
// group has no true-positive rate; an unbounded privacy loss is +Inf), so
// every floating-point field of a Card is a Float, encoded as:
//
//	finite x  → a JSON number, formatted as encoding/json formats float64
//	            (shortest representation that parses back to the same bits,
//	            so -0 stays "-0")
//	NaN       → null
//	+Inf      → the string "+Inf"
//	-Inf      → the string "-Inf"
//
// and decoded back to the same value (every NaN decodes as math.NaN()).
// A card field that must distinguish "absent" from NaN uses a pointer or an
// omitted key, never null.
type Float float64

// MarshalJSON implements json.Marshaler as described on Float.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte("null"), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON implements json.Unmarshaler as described on Float.
func (f *Float) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		*f = Float(math.NaN())
		return nil
	case `"+Inf"`:
		*f = Float(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = Float(math.Inf(-1))
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("registry: %s is not a number, null, \"+Inf\" or \"-Inf\"", b)
	}
	*f = Float(v)
	return nil
}

// Floats converts a map of float64 to a map of Float (nil for nil), for
// filling Metrics from the evaluation code's plain maps.
func Floats(m map[string]float64) map[string]Float {
	if m == nil {
		return nil
	}
	out := make(map[string]Float, len(m))
	for k, v := range m {
		out[k] = Float(v)
	}
	return out
}
