package dataset

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestEncodeByHand(t *testing.T) {
	csv := "age,color,id,y,sex\n" +
		"30,red,7,yes,F\n" +
		",blue,8,no,M\n" +
		"50,,9,no,F\n"
	s := Schema{Label: "y", Positive: "yes", Drop: []string{"id"}, Protected: []string{"sex"},
		Levels: map[string][]string{"color": {"red", "green", "blue"}}}
	tb := load(t, csv, s)
	enc, err := NewEncoder(tb)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"age", "color=red", "color=green", "color=blue", "sex=F", "sex=M"}
	if got := enc.FeatureNames(); !slices.Equal(got, wantNames) {
		t.Fatalf("FeatureNames = %v, want %v", got, wantNames)
	}
	if got, want := enc.NumericMask(), []bool{true, false, false, false, false, false}; !slices.Equal(got, want) {
		t.Errorf("NumericMask = %v, want %v", got, want)
	}
	x, err := enc.Encode(tb)
	if err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	want := []float64{
		30, 1, 0, 0, 1, 0,
		nan, 0, 0, 1, 0, 1,
		50, 0, 0, 0, 1, 0, // missing color: all-zero block
	}
	if x.N != 3 || x.D != 6 || x.W != nil || !slices.Equal(x.Y, []int{1, 0, 0}) {
		t.Fatalf("Encode: N=%d D=%d W=%v Y=%v; want 3, 6, nil, [1 0 0]", x.N, x.D, x.W, x.Y)
	}
	for i := range want {
		if !(x.X[i] == want[i] || math.IsNaN(x.X[i]) && math.IsNaN(want[i])) {
			t.Errorf("X[%d] = %v, want %v", i, x.X[i], want[i])
		}
	}
	if err := x.Validate(2); err != nil {
		t.Errorf("encoded examples invalid: %v", err)
	}

	s.ExcludeProtected = true
	enc2, err := NewEncoder(load(t, csv, s))
	if err != nil {
		t.Fatal(err)
	}
	if got := enc2.FeatureNames(); !slices.Equal(got, wantNames[:4]) {
		t.Errorf("ExcludeProtected FeatureNames = %v, want %v", got, wantNames[:4])
	}
}

func TestEncodeInferredLevelsSorted(t *testing.T) {
	tb := load(t, "c,y\nz,1\na,0\nm,1\na,0\n", Schema{Label: "y", Positive: "1"})
	enc, err := NewEncoder(tb)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := enc.FeatureNames(), []string{"c=a", "c=m", "c=z"}; !slices.Equal(got, want) {
		t.Errorf("FeatureNames = %v, want %v", got, want)
	}
}

func TestEncodeOtherSite(t *testing.T) {
	s := Schema{Label: "y", Positive: "1", Negative: "0", Levels: map[string][]string{"c": {"a", "b"}}}
	enc, err := NewEncoder(load(t, "n,c,y\n1,a,1\n2,b,0\n", s))
	if err != nil {
		t.Fatal(err)
	}
	// Round-trip the spec through JSON as a coordinator would.
	js, err := json.Marshal(enc.Spec())
	if err != nil {
		t.Fatal(err)
	}
	var spec EncoderSpec
	if err := json.Unmarshal(js, &spec); err != nil {
		t.Fatal(err)
	}
	enc2, err := NewEncoderFromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(enc.FeatureNames(), enc2.FeatureNames()) {
		t.Fatalf("spec round trip changed names: %v vs %v", enc.FeatureNames(), enc2.FeatureNames())
	}

	// A site with an unknown level.
	_, err = enc2.Encode(load(t, "n,c,y\n1,a,0\n2,q,0\n", Schema{Label: "y", Positive: "1", Negative: "0"}))
	if !errors.Is(err, ErrUnknownLevel) || !strings.Contains(err.Error(), `t.csv:3: column "c": "q" is not a known level`) {
		t.Errorf("unknown level error = %v", err)
	}
	// A site missing a feature column.
	_, err = enc2.Encode(load(t, "c,y\na,0\n", Schema{Label: "y", Positive: "1", Negative: "0"}))
	if !errors.Is(err, ErrColumn) {
		t.Errorf("missing column error = %v, want ErrColumn", err)
	}
	// A site where the numeric column holds text.
	_, err = enc2.Encode(load(t, "n,c,y\n1,a,0\nten,b,0\n", Schema{Label: "y", Positive: "1", Negative: "0"}))
	if !errors.Is(err, ErrValue) || !strings.Contains(err.Error(), `t.csv:3: column "n": "ten"`) {
		t.Errorf("non-numeric error = %v", err)
	}
}

func TestEncoderSpecValidate(t *testing.T) {
	bad := []EncoderSpec{
		{},
		{Columns: []EncodedColumn{{Name: "a", Type: Numeric}, {Name: "a", Type: Numeric}}},
		{Columns: []EncodedColumn{{Name: "a", Type: Numeric, Levels: []string{"x"}}}},
		{Columns: []EncodedColumn{{Name: "a", Type: Categorical}}},
		{Columns: []EncodedColumn{{Name: "a", Type: 0}}},
	}
	for i, s := range bad {
		if _, err := NewEncoderFromSpec(s); !errors.Is(err, ErrSchema) {
			t.Errorf("case %d: NewEncoderFromSpec error = %v, want ErrSchema", i, err)
		}
	}
}
