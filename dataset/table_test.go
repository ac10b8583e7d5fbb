package dataset

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func load(t *testing.T, csv string, s Schema) *Table {
	t.Helper()
	tb, err := Load(strings.NewReader(csv), "t.csv", s)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return tb
}

func TestSchemaValidate(t *testing.T) {
	ok := Schema{Label: "y", Positive: "1"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid schema: %v", err)
	}
	bad := []Schema{
		{Positive: "1"},
		{Label: "y", Negative: "0"},
		{Label: "y", Positive: "1", Negative: "1"},
		{Label: "y", Positive: "1", Protected: []string{"y"}},
		{Label: "y", Positive: "1", Drop: []string{"a", "a"}},
		{Label: "y", Positive: "1", Protected: []string{"a"}, Drop: []string{"a"}},
		{Label: "y", Positive: "1", Types: map[string]ColumnType{"a": 7}},
		{Label: "y", Positive: "1", Types: map[string]ColumnType{"y": Numeric}},
		{Label: "y", Positive: "1", Types: map[string]ColumnType{"a": Numeric}, Levels: map[string][]string{"a": {"x"}}},
		{Label: "y", Positive: "1", Levels: map[string][]string{"a": {}}},
		{Label: "y", Positive: "1", Levels: map[string][]string{"a": {"x", "x"}}},
		{Label: "y", Positive: "1", Levels: map[string][]string{"a": {""}}},
	}
	for i, s := range bad {
		if err := s.Validate(); !errors.Is(err, ErrSchema) {
			t.Errorf("case %d: Validate(%+v) = %v, want ErrSchema", i, s, err)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	s := Schema{Label: "y", Positive: "yes", Negative: "no"}
	tests := []struct {
		name, csv string
		s         Schema
		want      error
		msg       []string // substrings of the message
	}{
		{"empty", "", s, ErrFormat, []string{"t.csv", "no header"}},
		{"no rows", "a,y\n", s, ErrFormat, []string{"no data rows"}},
		{"dup header", "a,y,a\n1,no,2\n", s, ErrFormat, []string{`duplicate header "a"`}},
		{"empty header", "a,,y\n1,2,no\n", s, ErrFormat, []string{"header field 2 is empty"}},
		{"ragged", "a,y\n1,no\n2,yes,3\n", s, ErrFormat, []string{"t.csv:3", "3 fields, header has 2"}},
		{"unknown label", "a,b\n1,2\n", Schema{Label: "foo", Positive: "1"}, ErrColumn,
			[]string{`label column "foo" not in header of t.csv; columns are: "a", "b"`}},
		{"unknown protected", "a,y\n1,no\n", Schema{Label: "y", Positive: "yes", Protected: []string{"race"}}, ErrColumn,
			[]string{`protected column "race"`}},
		{"forced numeric", "pirat,y\n1,no\n2,no\nabc,yes\n", Schema{Label: "y", Positive: "yes", Types: map[string]ColumnType{"pirat": Numeric}},
			ErrValue, []string{`t.csv:4: column "pirat": "abc" is not a number`}},
		{"nan text", "a,y\n1,no\nNaN,yes\n", s, ErrValue, []string{`t.csv:3: column "a": "NaN" is not a finite`}},
		{"inf text", "a,y\n-Inf,no\n", s, ErrValue, []string{`t.csv:2: column "a": "-Inf"`}},
		{"overflow", "a,y\n1e999,no\n", s, ErrValue, []string{`"1e999"`}},
		{"missing label", "a,y\n1,no\n2,\n", s, ErrLabel, []string{`t.csv:3: column "y": "" is missing`}},
		{"bad label", "a,y\n1,no\n2,maybe\n", s, ErrLabel, []string{`t.csv:3`, `"maybe" is neither positive "yes" nor negative "no"`}},
		{"third label", "a,y\n1,a\n2,yes\n3,b\n", Schema{Label: "y", Positive: "yes"}, ErrLabel, []string{`t.csv:4`, `"b" is a third label value`}},
		{"positive absent", "a,y\n1,no\n2,no\n", Schema{Label: "y", Positive: "Yes"}, ErrLabel, []string{`positive class "Yes" never occurs`}},
		{"bad schema", "a,y\n1,no\n", Schema{Label: "y", Negative: "no"}, ErrSchema, []string{"t.csv"}},
		{"one label value, no positive", "a,y\n1,no\n", Schema{Label: "y"}, ErrLabel, []string{`1 distinct value(s) "no"`}},
		{"three label values, no positive", "a,y\n1,no\n2,yes\n3,maybe\n", Schema{Label: "y"}, ErrLabel, []string{"more than two values"}},
	}
	for _, tc := range tests {
		_, err := Load(strings.NewReader(tc.csv), "t.csv", tc.s)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Load error = %v, want %v", tc.name, err, tc.want)
			continue
		}
		for _, m := range tc.msg {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%s: error %q does not contain %q", tc.name, err, m)
			}
		}
	}
}

func TestCellErrorFields(t *testing.T) {
	_, err := Load(strings.NewReader("pirat,y\n1,no\nabc,yes\n"), "hmda.csv",
		Schema{Label: "y", Positive: "yes", Types: map[string]ColumnType{"pirat": Numeric}})
	var ce *CellError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *CellError", err)
	}
	if ce.Source != "hmda.csv" || ce.Line != 3 || ce.Column != "pirat" || ce.Value != "abc" {
		t.Errorf("CellError = %+v, want hmda.csv line 3 column pirat value abc", ce)
	}
}

func TestInferenceAndLabels(t *testing.T) {
	csv := "\ufeffnum,cat,code,nanword,y,drop\n" +
		"1.5,a,1,x,yes,NaN\n" +
		",b,2,NaN,no,\n" +
		"-2,,3,y,yes,Inf\n"
	tb := load(t, csv, Schema{Label: "y", Positive: "yes", Drop: []string{"drop"},
		Types: map[string]ColumnType{"code": Categorical, "nanword": Categorical}})
	wantTypes := map[string]ColumnType{"num": Numeric, "cat": Categorical, "code": Categorical, "nanword": Categorical}
	for c, w := range wantTypes {
		if got, err := tb.Type(c); err != nil || got != w {
			t.Errorf("Type(%q) = %v, %v; want %v", c, got, err, w)
		}
	}
	num, err := tb.Numeric("num")
	if err != nil {
		t.Fatal(err)
	}
	if num[0] != 1.5 || !math.IsNaN(num[1]) || num[2] != -2 {
		t.Errorf("Numeric(num) = %v, want [1.5 NaN -2]", num)
	}
	if _, err := tb.Numeric("cat"); !errors.Is(err, ErrColumn) {
		t.Errorf("Numeric(cat) error = %v, want ErrColumn", err)
	}
	if got := tb.Labels(); len(got) != 3 || got[0] != 1 || got[1] != 0 || got[2] != 1 {
		t.Errorf("Labels = %v, want [1 0 1]", got)
	}
	if tb.Positives() != 2 || tb.Len() != 3 {
		t.Errorf("Positives, Len = %d, %d; want 2, 3", tb.Positives(), tb.Len())
	}
	if tb.Line(0) != 2 || tb.Line(2) != 4 || tb.Line(3) != 0 {
		t.Errorf("Line(0), Line(2), Line(3) = %d, %d, %d; want 2, 4, 0", tb.Line(0), tb.Line(2), tb.Line(3))
	}
	if cols := tb.Columns(); cols[0] != "num" {
		t.Errorf("BOM not stripped: first column %q", cols[0])
	}
}

func TestProtectedAndSubset(t *testing.T) {
	csv := "race,x,y\nA,1,1\nB,2,0\nA,3,1\nC,4,0\n"
	tb := load(t, csv, Schema{Label: "y", Positive: "1", Protected: []string{"race"}, ExcludeProtected: true})
	race, err := tb.Protected("race")
	if err != nil || strings.Join(race, "") != "ABAC" {
		t.Fatalf("Protected(race) = %v, %v; want [A B A C]", race, err)
	}
	race[0] = "Z" // a copy: must not change the table
	if again, _ := tb.Protected("race"); again[0] != "A" {
		t.Error("Protected returned an aliasing slice")
	}
	if _, err := tb.Protected("x"); !errors.Is(err, ErrColumn) {
		t.Errorf("Protected(x) error = %v, want ErrColumn", err)
	}
	sub, err := tb.Subset([]int{3, 1})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := sub.Protected("race")
	x, _ := sub.Numeric("x")
	if sub.Len() != 2 || r[0] != "C" || r[1] != "B" || x[0] != 4 || x[1] != 2 || sub.Line(0) != 5 || sub.Positives() != 0 {
		t.Errorf("Subset([3 1]) = race %v x %v line %d positives %d; want [C B] [4 2] 5 0", r, x, sub.Line(0), sub.Positives())
	}
	if _, err := tb.Subset([]int{4}); !errors.Is(err, ErrPartition) {
		t.Errorf("Subset out of range error = %v, want ErrPartition", err)
	}
	rows, err := tb.ProtectedRows([]string{"race"}, []int{2, 3})
	if err != nil || strings.Join(rows["race"], "") != "AC" {
		t.Errorf("ProtectedRows(race, [2 3]) = %v, %v; want [A C]", rows, err)
	}
	if _, err := tb.ProtectedRows([]string{"race"}, []int{4}); !errors.Is(err, ErrColumn) {
		t.Errorf("ProtectedRows out of range error = %v, want ErrColumn", err)
	}
	if _, err := tb.ProtectedRows([]string{"x"}, []int{0}); !errors.Is(err, ErrColumn) {
		t.Errorf("ProtectedRows(x) error = %v, want ErrColumn", err)
	}
}

// With no positive class named, the lexically larger of the two label values
// is positive ("yes" over "no"), whatever order the rows come in.
func TestDefaultPositiveIsLexicallyLarger(t *testing.T) {
	tab, err := Load(strings.NewReader("a,y\n1,yes\n2,no\n3,no\n"), "t.csv", Schema{Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if got := tab.Labels(); got[0] != 1 || got[1] != 0 || got[2] != 0 {
		t.Fatalf("labels = %v, want [1 0 0]", got)
	}
	if tab.Schema().Positive != "yes" {
		t.Fatalf("positive = %q, want yes", tab.Schema().Positive)
	}
}
