package explain_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/cohortfl/cohort/explain"
)

func TestReasonCodes(t *testing.T) {
	phi := []float64{0.2, -0.5, 0.9, 0, -0.1, 0.2, math.NaN(), -0.5}
	names := []string{"income", "debt", "late_payments", "age", "tenure", "inquiries", "broken"}
	cases := []struct {
		k        int
		adverse  bool
		wantIdx  []int
		wantName []string
	}{
		{3, true, []int{2, 0, 5}, []string{"late_payments", "income", "inquiries"}}, // tie 0/5 keeps order
		{10, true, []int{2, 0, 5}, []string{"late_payments", "income", "inquiries"}},
		{2, false, []int{1, 7}, []string{"debt", "x7"}}, // missing name falls back
		{5, false, []int{1, 7, 4}, []string{"debt", "x7", "tenure"}},
		{0, true, nil, nil},
		{-1, false, nil, nil},
	}
	for _, c := range cases {
		got := explain.ReasonCodes(phi, names, c.k, c.adverse)
		var idx []int
		var nm []string
		for _, r := range got {
			idx = append(idx, r.Feature)
			nm = append(nm, r.Name)
			if r.Phi != phi[r.Feature] || !math.IsNaN(r.Value) {
				t.Errorf("reason %+v: Phi should be φ[%d] and Value NaN", r, r.Feature)
			}
		}
		if !reflect.DeepEqual(idx, c.wantIdx) || !reflect.DeepEqual(nm, c.wantName) {
			t.Errorf("ReasonCodes(k=%d, adverseIsPositive=%v) = %v %v, want %v %v", c.k, c.adverse, idx, nm, c.wantIdx, c.wantName)
		}
	}
}

func TestReasonCodesForAndTop(t *testing.T) {
	phi := []float64{0.3, -0.8, 0.1}
	x := []float64{10, 20} // shorter than phi: no panic, NaN value
	rs := explain.ReasonCodesFor(phi, x, nil, 3, true)
	if len(rs) != 2 || rs[0].Feature != 0 || rs[0].Value != 10 || rs[1].Feature != 2 || !math.IsNaN(rs[1].Value) {
		t.Errorf("ReasonCodesFor = %+v", rs)
	}
	top := explain.TopFeatures(phi, []string{"a", "b", "c"}, 2)
	if len(top) != 2 || top[0].Name != "b" || top[1].Name != "a" {
		t.Errorf("TopFeatures = %+v, want b then a", top)
	}
	if got := explain.ReasonCodes(nil, nil, 3, true); len(got) != 0 {
		t.Errorf("ReasonCodes(nil) = %v, want empty", got)
	}
}
