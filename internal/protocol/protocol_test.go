package protocol

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestTaskConfigRoundTrip(t *testing.T) {
	in := TaskConfig{Model: "mlp", Hidden: []int{16, 8}, Classes: 3, Features: 2, Epochs: 2, BatchSize: 16,
		LearningRate: 0.05, Optimizer: "adam", L2: 1e-4, ProximalMu: 0.01, Seed: 1<<63 + 5,
		Moments: []float64{10, 10, 1, 2, 3, 4.5}, Secure: true, SecAggEpoch: 1, SecAggRound: 1<<40 + 3}
	got, err := DecodeTaskConfig(in.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("round trip: got %+v, want %+v", got, in)
	}
}

func TestDecodeTaskConfigErrors(t *testing.T) {
	base := TaskConfig{Model: "logreg", Classes: 2, Features: 1, Epochs: 1, BatchSize: 1, LearningRate: 1, Optimizer: "sgd"}.Encode()
	cases := []struct{ key, val, want string }{
		{"epochs", "two", `"epochs" = "two" is not an integer`},
		{"learning_rate", "NaN", `"learning_rate" = "NaN" is not a finite number`},
		{"hidden", "4,-1", `"hidden"`},
		{"feature_moments", "[1,2]", "has 2 values, want 3×features = 3"},
		{"seed", "-1", `"seed"`},
		{"model", "", `"model" is missing`},
		{"secure", "rot13", `want none or he`},
	}
	for _, c := range cases {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		m[c.key] = c.val
		_, err := DecodeTaskConfig(m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeTaskConfig with %s=%q: err = %v, want it to contain %q", c.key, c.val, err, c.want)
		}
	}
}

func TestFloatsRoundTripAndRejectNonFinite(t *testing.T) {
	v := []float64{0, -1.5, math.MaxFloat64, math.SmallestNonzeroFloat64}
	b := AppendFloats(nil, v)
	if len(b) != 32 {
		t.Fatalf("len = %d, want 32", len(b))
	}
	got := make([]float64, len(v))
	if err := DecodeFloats(got, b, 0); err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("DecodeFloats = %v, %v; want %v", got, err, v)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		b := AppendFloats(nil, []float64{1, bad})
		err := DecodeFloats(make([]float64, 2), b, 100)
		if !errors.Is(err, ErrNotFinite) || !strings.Contains(err.Error(), "index 101") {
			t.Errorf("DecodeFloats(%v) err = %v, want ErrNotFinite at index 101", bad, err)
		}
	}
	if err := DecodeFloats(make([]float64, 2), make([]byte, 15), 0); err == nil {
		t.Error("DecodeFloats accepted a truncated chunk")
	}
}
