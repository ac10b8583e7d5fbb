package explain_test

import (
	"errors"
	"math"
	"testing"

	"github.com/cohortfl/cohort/explain"
)

// Summing two sites' encoded vectors must equal the aggregate of the union of
// their rows, and Global must give the plain means computed here directly.
func TestAggregateSumsAcrossSites(t *testing.T) {
	const d, g = 3, 2
	rng := newRNG(4)
	type row struct {
		phi   []float64
		group int
	}
	var rows []row
	for i := 0; i < 40; i++ {
		grp := i%3 - 1 // NoGroup, 0, 1
		rows = append(rows, row{randRows(rng, 1, d), grp})
	}
	siteA, _ := explain.NewAggregate(d, g)
	siteB, _ := explain.NewAggregate(d, g)
	all, _ := explain.NewAggregate(d, g)
	for i, r := range rows {
		site := siteA
		if i >= 15 {
			site = siteB
		}
		if err := site.Add(r.phi, r.group); err != nil {
			t.Fatal(err)
		}
		if err := all.Add(r.phi, r.group); err != nil {
			t.Fatal(err)
		}
	}
	va, vb := siteA.Encode(), siteB.Encode()
	if len(va) != explain.AggregateLen(d, g) || len(va) != (g+1)*(1+2*d) {
		t.Fatalf("len = %d, want %d", len(va), (g+1)*(1+2*d))
	}
	summed := make([]float64, len(va))
	for i := range summed {
		summed[i] = va[i] + vb[i] // what the secure sum delivers
	}
	dec, err := explain.DecodeAggregate(summed, d, g)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "summed vector", dec.Encode(), all.Encode(), 1e-12)

	// Independent means.
	glob := dec.Global()
	wantAbs, wantMean := make([]float64, d), make([]float64, d)
	gAbs := [g][d]float64{}
	gN := [g]float64{}
	for _, r := range rows {
		for i, p := range r.phi {
			wantAbs[i] += math.Abs(p) / float64(len(rows))
			wantMean[i] += p / float64(len(rows))
			if r.group >= 0 {
				gAbs[r.group][i] += math.Abs(p)
			}
		}
		if r.group >= 0 {
			gN[r.group]++
		}
	}
	if glob.N != float64(len(rows)) {
		t.Errorf("N = %g, want %d", glob.N, len(rows))
	}
	assertClose(t, "MeanAbs", glob.MeanAbs, wantAbs, 1e-12)
	assertClose(t, "Mean", glob.Mean, wantMean, 1e-12)
	for k := 0; k < g; k++ {
		if glob.GroupN[k] != gN[k] {
			t.Errorf("GroupN[%d] = %g, want %g", k, glob.GroupN[k], gN[k])
		}
		want := make([]float64, d)
		for i := range want {
			want[i] = gAbs[k][i] / gN[k]
		}
		assertClose(t, "GroupMeanAbs", glob.GroupMeanAbs[k], want, 1e-12)
	}

	// Merge in the clear agrees with the vector sum.
	if err := siteA.Merge(siteB); err != nil {
		t.Fatal(err)
	}
	assertClose(t, "merged", siteA.Encode(), all.Encode(), 1e-12)
}

func TestAggregateEmptyGroupIsNaN(t *testing.T) {
	a, _ := explain.NewAggregate(2, 1)
	if err := a.Add([]float64{1, -1}, explain.NoGroup); err != nil {
		t.Fatal(err)
	}
	glob := a.Global()
	if glob.MeanAbs[0] != 1 || glob.Mean[1] != -1 || !math.IsNaN(glob.GroupMeanAbs[0][0]) {
		t.Errorf("Global = %+v", glob)
	}
}

func TestAggregateErrors(t *testing.T) {
	a, _ := explain.NewAggregate(2, 1)
	other, _ := explain.NewAggregate(3, 1)
	cases := []struct {
		name string
		err  error
	}{
		{"zero features", func() error { _, err := explain.NewAggregate(0, 1); return err }()},
		{"negative groups", func() error { _, err := explain.NewAggregate(2, -1); return err }()},
		{"huge", func() error { _, err := explain.NewAggregate(1<<30, 1<<30); return err }()},
		{"short phi", a.Add([]float64{1}, 0)},
		{"NaN phi", a.Add([]float64{1, math.NaN()}, 0)},
		{"bad group", a.Add([]float64{1, 1}, 1)},
		{"merge shape", a.Merge(other)},
		{"merge nil", a.Merge(nil)},
		{"decode length", func() error { _, err := explain.DecodeAggregate(make([]float64, 5), 2, 1); return err }()},
		{"decode Inf", func() error {
			v := make([]float64, explain.AggregateLen(2, 1))
			v[3] = math.Inf(-1)
			_, err := explain.DecodeAggregate(v, 2, 1)
			return err
		}()},
	}
	for _, c := range cases {
		if !errors.Is(c.err, explain.ErrInvalidInput) {
			t.Errorf("%s: err = %v, want ErrInvalidInput", c.name, c.err)
		}
	}
	if g := a.Global(); g.N != 0 {
		t.Errorf("failed Adds changed the aggregate: N = %g", g.N)
	}
	if explain.AggregateLen(0, 0) != 0 {
		t.Error("AggregateLen of invalid shape should be 0")
	}
}
