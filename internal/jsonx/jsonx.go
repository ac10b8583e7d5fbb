// Package jsonx holds JSON helpers shared by Cohort's stored and printed
// records.
package jsonx

import (
	"bytes"
	"encoding/json"
	"math"
)

// Float is a float64 whose JSON form is null when it is NaN or ±Inf (JSON has
// no such numbers, and encoding/json refuses them). null decodes as NaN, so
// "undefined" survives a round trip; ±Inf does not (it reads back as NaN).
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(x)
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*f = Float(math.NaN())
		return nil
	}
	var x float64
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*f = Float(x)
	return nil
}
