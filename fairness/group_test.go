package fairness

import (
	"errors"
	"slices"
	"testing"
)

func TestGroupKey(t *testing.T) {
	tests := []struct {
		in   []Group
		want string
	}{
		{nil, ""},
		{[]Group{{"sex", "F"}}, "sex=F"},
		{[]Group{{"sex", "F"}, {"race", "Black"}}, "race=Black&sex=F"},
		{[]Group{{"race", "Black"}, {"sex", "F"}}, "race=Black&sex=F"},
		{[]Group{{"a&b", "x=y"}}, "a%26b=x%3Dy"},
		{[]Group{{"age", "40 to 60%"}}, "age=40+to+60%25"},
	}
	for _, tt := range tests {
		if got := GroupKey(tt.in); got != tt.want {
			t.Errorf("GroupKey(%v) = %q; want %q", tt.in, got, tt.want)
		}
		back, err := ParseGroupKey(tt.want)
		if err != nil {
			t.Fatalf("ParseGroupKey(%q): %v", tt.want, err)
		}
		if GroupKey(back) != tt.want {
			t.Errorf("GroupKey(ParseGroupKey(%q)) = %q", tt.want, GroupKey(back))
		}
	}
	in := []Group{{"sex", "F"}, {"race", "B"}}
	GroupKey(in)
	if in[0].Attr != "sex" {
		t.Errorf("GroupKey modified its input: %v", in)
	}
}

func TestParseGroupKeyRejects(t *testing.T) {
	for _, k := range []string{"sex", "sex=F&sex=M", "=F", "sex=%zz", "sex=F&"} {
		if _, err := ParseGroupKey(k); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ParseGroupKey(%q) error = %v; want ErrInvalidInput", k, err)
		}
	}
}

func TestIntersectionKeys(t *testing.T) {
	attrs := []Group{{"sex", "F"}, {"race", "B"}, {"age", "young"}}
	got, err := IntersectionKeys(attrs, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"age=young", "race=B", "sex=F",
		"age=young&race=B", "age=young&sex=F", "race=B&sex=F",
		"age=young&race=B&sex=F",
	}
	if !slices.Equal(got, want) {
		t.Errorf("IntersectionKeys(all) = %q; want %q", got, want)
	}
	got2, err := IntersectionKeys(attrs, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got2, want[:6]) {
		t.Errorf("IntersectionKeys(order 2) = %q; want %q", got2, want[:6])
	}
	for _, bad := range [][]Group{{{"sex", "F"}, {"sex", "M"}}, {{"", "x"}}, make([]Group, 17)} {
		if _, err := IntersectionKeys(bad, 0); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("IntersectionKeys(%v) error = %v; want ErrInvalidInput", bad, err)
		}
	}
}

func TestKeysOver(t *testing.T) {
	keys := []string{"sex=F", "race=B&sex=F", "race=A", "sex=M", "sex=M&race=A", "bad"}
	if got, want := KeysOver(keys, "sex"), []string{"sex=F", "sex=M"}; !slices.Equal(got, want) {
		t.Errorf("KeysOver(sex) = %q; want %q", got, want)
	}
	// "sex=M&race=A" is not canonical but still names {race, sex}.
	if got, want := KeysOver(keys, "sex", "race"), []string{"race=B&sex=F", "sex=M&race=A"}; !slices.Equal(got, want) {
		t.Errorf("KeysOver(sex, race) = %q; want %q", got, want)
	}
}
