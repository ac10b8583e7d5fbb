package fairness

import (
	"math"
	"slices"
	"testing"
)

func cut(x float64) *float64 { return &x }

func testSpec() Spec {
	return Spec{Attributes: []Attribute{{Name: "sex", Levels: []string{"F", "M"}}, {Name: "age", Cut: cut(25)}}, Favorable: 1}
}

func TestSpecGroupsAndKeys(t *testing.T) {
	s := testSpec()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []string{"age=%3C%3D25&sex=F", "age=%3C%3D25&sex=M", "age=%3E25&sex=F", "age=%3E25&sex=M"}
	if got := s.Groups(); !slices.Equal(got, want) {
		t.Fatalf("Groups = %q, want %q", got, want)
	}
	for _, c := range []struct {
		raw  []string
		want string
	}{{[]string{"F", "25"}, want[0]}, {[]string{"M", "25.5"}, want[3]}, {[]string{"M", "-3"}, want[1]}} {
		got, err := s.KeyOf(c.raw)
		if err != nil || got != c.want {
			t.Errorf("KeyOf(%q) = %q, %v; want %q", c.raw, got, err, c.want)
		}
	}
	if _, err := s.KeyOf([]string{"X", "30"}); err == nil {
		t.Error("KeyOf accepted a value outside the levels")
	}
	if _, err := s.KeyOf([]string{"F", "old"}); err == nil {
		t.Error("KeyOf accepted a non-number for a cut attribute")
	}
	ind, err := s.IndicatorValues(want[2])
	if err != nil {
		t.Fatal(err)
	}
	// Indicators: sex=F, sex=M, age<=25, age>25.
	if !slices.Equal(ind, []float64{1, 0, 0, 1}) {
		t.Errorf("IndicatorValues = %v", ind)
	}
}

func TestSpecValidate(t *testing.T) {
	bad := []Spec{
		{},
		{Attributes: []Attribute{{Name: "a"}}},
		{Attributes: []Attribute{{Name: "a", Levels: []string{"x"}, Cut: cut(1)}}},
		{Attributes: []Attribute{{Name: "a", Levels: []string{"x", "x"}}}},
		{Attributes: []Attribute{{Name: "a", Levels: []string{"x"}}, {Name: "a", Levels: []string{"y"}}}},
		{Attributes: []Attribute{{Name: "a", Levels: []string{"x"}}}, Favorable: 2},
		{Attributes: []Attribute{{Name: "a", Levels: []string{"x"}}}, Threshold: 1},
		{Attributes: []Attribute{{Name: "a", Cut: cut(math.NaN())}}},
	}
	for i, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("spec %d validated: %+v", i, s)
		}
	}
}

// TestAuditFamiliesByHand checks marginal and intersection audits against
// rates computed by hand from a small partition table.
func TestAuditFamiliesByHand(t *testing.T) {
	s := testSpec()
	g := s.Groups()
	st := func(tp, fp, tn, fn float64) GroupStats {
		return GroupStats{Counts: Counts{TP: tp, FP: fp, TN: tn, FN: fn}, Calib: make([]Bin, DefaultDeciles)}
	}
	stats := map[string]GroupStats{
		g[0]: st(1, 1, 2, 1), // F, young: n=5
		g[1]: st(2, 0, 1, 1), // M, young: n=4
		g[2]: st(3, 1, 4, 2), // F, old: n=10
		g[3]: st(4, 2, 3, 0), // M, old: n=9
	}
	fams, err := AuditFamilies(s, stats)
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != 3 || fams[0].Name != "sex" || fams[1].Name != "age" || fams[2].Name != "sex&age" {
		t.Fatalf("families = %v", fams)
	}
	sex := fams[0]
	// F: TP 4, FP 2, TN 6, FN 3 (n 15): SR 6/15, TPR 4/7, FPR 2/8.
	// M: TP 6, FP 2, TN 4, FN 1 (n 13): SR 8/13, TPR 6/7, FPR 2/6.
	f, m := sex.Metrics["sex=F"], sex.Metrics["sex=M"]
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("SR(F)", f.SelectionRate, 6.0/15)
	near("SR(M)", m.SelectionRate, 8.0/13)
	near("TPR(F)", f.TPR, 4.0/7)
	near("FPR(M)", m.FPR, 2.0/6)
	near("DI", sex.Summary.DisparateImpact, (6.0/15)/(8.0/13))
	near("SPD", sex.Summary.StatisticalParityDifference, 8.0/13-6.0/15)
	near("EOD", sex.Summary.EqualOpportunityDifference, 6.0/7-4.0/7)
	near("eq. odds", sex.Summary.EqualizedOddsDifference, math.Max(2.0/7, 2.0/6-2.0/8))
	near("AOD", sex.Summary.AverageOddsDifference, (2.0/7+(2.0/6-2.0/8))/2)
	if n := fams[2].N[g[1]]; n != 4 {
		t.Errorf("intersection n(M, young) = %v, want 4", n)
	}
	if _, err := Marginalize(map[string]GroupStats{"sex=F": st(1, 0, 0, 0)}, []string{"age"}); err == nil {
		t.Error("Marginalize accepted a key without the attribute")
	}
}
