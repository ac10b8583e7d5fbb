package jsonx

import (
	"encoding/json"
	"math"
	"testing"
)

func TestFloatRoundTrip(t *testing.T) {
	in := []Float{1.5, Float(math.NaN()), Float(math.Inf(1)), 0}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "[1.5,null,null,0]" {
		t.Fatalf("marshal = %s", b)
	}
	var out []Float
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out[0] != 1.5 || !math.IsNaN(float64(out[1])) || !math.IsNaN(float64(out[2])) || out[3] != 0 {
		t.Fatalf("unmarshal = %v", out)
	}
	var bad Float
	if err := json.Unmarshal([]byte(`"x"`), &bad); err == nil {
		t.Fatal("a string decoded as a Float")
	}
}
