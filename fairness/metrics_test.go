package fairness

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Hand-computed two-group example.
//
//	u: TP 2, FP 1, TN 5, FN 2 (n 10): SR 0.3, TPR 0.5, FPR 1/6, acc 0.7
//	p: TP 6, FP 2, TN 8, FN 4 (n 20): SR 0.4, TPR 0.6, FPR 0.2, acc 0.7
func TestCompareHand(t *testing.T) {
	u := MetricsOf(Counts{TP: 2, FP: 1, TN: 5, FN: 2})
	p := MetricsOf(Counts{TP: 6, FP: 2, TN: 8, FN: 4})
	checks := []struct {
		name      string
		got, want float64
	}{
		{"u.SelectionRate", u.SelectionRate, 0.3},
		{"u.BaseRate", u.BaseRate, 0.4},
		{"u.TPR", u.TPR, 0.5},
		{"u.FPR", u.FPR, 1.0 / 6},
		{"u.FNR", u.FNR, 0.5},
		{"u.TNR", u.TNR, 5.0 / 6},
		{"u.Accuracy", u.Accuracy, 0.7},
		{"p.TPR", p.TPR, 0.6},
		{"p.FPR", p.FPR, 0.2},
	}
	d := Compare(u, p)
	checks = append(checks, []struct {
		name      string
		got, want float64
	}{
		{"SPD", d.StatisticalParityDifference, -0.1},
		{"DI", d.DisparateImpact, 0.75},
		{"EOD", d.EqualOpportunityDifference, -0.1},
		{"EqOdds", d.EqualizedOddsDifference, 0.1},
		{"AOD", d.AverageOddsDifference, (1.0/6 - 0.2 + 0.5 - 0.6) / 2},
	}...)
	for _, c := range checks {
		if !closeTo(c.got, c.want, 1e-15) {
			t.Errorf("%s = %v; want %v", c.name, c.got, c.want)
		}
	}
	if d.DisparateImpact >= FourFifths {
		t.Errorf("DI %v passes the four-fifths rule; want failure", d.DisparateImpact)
	}
	s := Summarize(map[string]GroupMetrics{"u": u, "p": p}, []string{"u", "p"})
	if !closeTo(s.StatisticalParityDifference, 0.1, 1e-15) || !closeTo(s.DisparateImpact, 0.75, 1e-15) ||
		!closeTo(s.EqualizedOddsDifference, 0.1, 1e-15) || s.SelectionRate.MinKey != "u" || s.SelectionRate.MaxKey != "p" {
		t.Errorf("Summarize(u, p) = %+v", s)
	}
	if !closeTo(s.AccuracyDifference, 0, 1e-15) {
		t.Errorf("AccuracyDifference = %v; want 0", s.AccuracyDifference)
	}
}

func TestUndefinedRates(t *testing.T) {
	empty := MetricsOf(Counts{})
	for name, v := range map[string]float64{"SR": empty.SelectionRate, "TPR": empty.TPR, "FPR": empty.FPR, "acc": empty.Accuracy} {
		if !math.IsNaN(v) {
			t.Errorf("empty group %s = %v; want NaN", name, v)
		}
	}
	noPos := MetricsOf(Counts{FP: 1, TN: 3}) // no positives: TPR, FNR undefined
	if !math.IsNaN(noPos.TPR) || !math.IsNaN(noPos.FNR) || noPos.FPR != 0.25 {
		t.Errorf("no-positives metrics = %+v", noPos)
	}
	zeroSel := MetricsOf(Counts{TN: 3, FN: 1})
	someSel := MetricsOf(Counts{TP: 1, TN: 3})
	tests := []struct {
		name string
		u, p GroupMetrics
		di   float64
	}{
		{"0/0", zeroSel, zeroSel, math.NaN()},
		{"x/0", someSel, zeroSel, math.Inf(1)},
		{"0/x", zeroSel, someSel, 0},
		{"NaN", empty, someSel, math.NaN()},
	}
	for _, tt := range tests {
		if d := Compare(tt.u, tt.p); !closeTo(d.DisparateImpact, tt.di, 0) {
			t.Errorf("Compare(%s).DisparateImpact = %v; want %v", tt.name, d.DisparateImpact, tt.di)
		}
	}
	d := Compare(noPos, someSel)
	if !math.IsNaN(d.EqualOpportunityDifference) || !math.IsNaN(d.EqualizedOddsDifference) || !math.IsNaN(d.AverageOddsDifference) {
		t.Errorf("Compare with undefined TPR = %+v; want NaN odds metrics", d)
	}
	s := Summarize(map[string]GroupMetrics{"a": someSel, "b": empty}, []string{"a", "b", "missing"})
	if s.SelectionRate.Defined != 1 || !math.IsNaN(s.StatisticalParityDifference) || !math.IsNaN(s.DisparateImpact) {
		t.Errorf("Summarize with one defined group = %+v; want NaN", s)
	}
	s = Summarize(map[string]GroupMetrics{"a": zeroSel, "b": zeroSel}, []string{"a", "b"})
	if !math.IsNaN(s.DisparateImpact) || s.StatisticalParityDifference != 0 {
		t.Errorf("Summarize all-zero selection: DI %v SPD %v; want NaN, 0", s.DisparateImpact, s.StatisticalParityDifference)
	}
	c := CalibrationOf(GroupStats{Calib: make([]Bin, 10)})
	if !math.IsNaN(c.ECE) || !math.IsNaN(c.Bins[3].MeanScore) {
		t.Errorf("empty calibration = %+v; want NaN", c)
	}
}

// rawRates computes the metrics of one group directly from the rows.
func rawRates(rows []applicant, gs []Group, thr float64) (sr, tpr, fpr, acc float64) {
	var n, sel, pos, tp, neg, fp, correct float64
	for _, a := range rows {
		if !a.member(gs) {
			continue
		}
		pred := 0
		if a.score >= thr {
			pred = 1
		}
		n++
		sel += float64(pred)
		if a.label == 1 {
			pos++
			tp += float64(pred)
		} else {
			neg++
			fp += float64(pred)
		}
		if pred == a.label {
			correct++
		}
	}
	return sel / n, tp / pos, fp / neg, correct / n
}

// TestFederatedAuditMatchesRaw runs the whole site → sum → audit path on
// HMDA-like data and compares every metric with a direct computation from
// the raw predictions.
func TestFederatedAuditMatchesRaw(t *testing.T) {
	const thr = 0.5
	r := rand.New(rand.NewPCG(7, 11))
	rows := hmdaLike(r, 6000)
	groups := []string{"race=A", "race=B", "race=C", "sex=F", "sex=M"}
	for _, race := range []string{"A", "B", "C"} {
		for _, sex := range []string{"F", "M"} {
			groups = append(groups, GroupKey([]Group{{"race", race}, {"sex", sex}}))
		}
	}
	l, err := NewLayout(groups, DefaultDeciles)
	if err != nil {
		t.Fatal(err)
	}
	var vecs [][]float64
	for site := range 4 {
		local := map[string]*GroupStats{}
		for _, a := range rows[site*1500 : (site+1)*1500] {
			ks, _ := IntersectionKeys(a.groups(), 0)
			for _, k := range ks {
				if err := Accumulate(local, k, a.label, a.score, thr); err != nil {
					t.Fatal(err)
				}
			}
		}
		v, err := l.Encode(deref(local))
		if err != nil {
			t.Fatal(err)
		}
		vecs = append(vecs, v)
	}
	stats, err := l.Decode(sumVectors(vecs...))
	if err != nil {
		t.Fatal(err)
	}
	m := Audit(stats)
	type raw struct{ sr, tpr, fpr, acc float64 }
	want := map[string]raw{}
	for _, k := range groups {
		gs, _ := ParseGroupKey(k)
		var w raw
		w.sr, w.tpr, w.fpr, w.acc = rawRates(rows, gs, thr)
		want[k] = w
		g := m[k]
		if !closeTo(g.SelectionRate, w.sr, 1e-12) || !closeTo(g.TPR, w.tpr, 1e-12) ||
			!closeTo(g.FPR, w.fpr, 1e-12) || !closeTo(g.Accuracy, w.acc, 1e-12) ||
			!closeTo(g.FNR, 1-w.tpr, 1e-12) {
			t.Errorf("%s: metrics %+v; raw %+v", k, g, w)
		}
	}

	// Pairwise against the privileged group, per AIF360 formulas.
	for _, k := range []string{"race=B", "race=C"} {
		d := CompareTo(m, KeysOver(groups, "race"), "race=A")[k]
		u, p := want[k], want["race=A"]
		if !closeTo(d.StatisticalParityDifference, u.sr-p.sr, 1e-12) ||
			!closeTo(d.DisparateImpact, u.sr/p.sr, 1e-12) ||
			!closeTo(d.EqualOpportunityDifference, u.tpr-p.tpr, 1e-12) ||
			!closeTo(d.EqualizedOddsDifference, math.Max(math.Abs(u.tpr-p.tpr), math.Abs(u.fpr-p.fpr)), 1e-12) ||
			!closeTo(d.AverageOddsDifference, ((u.fpr-p.fpr)+(u.tpr-p.tpr))/2, 1e-12) {
			t.Errorf("Compare(%s, race=A) = %+v; raw u %+v p %+v", k, d, u, p)
		}
	}
	// The synthetic model penalises race=B: selection rate below A.
	if d := Compare(m["race=B"], m["race=A"]); !(d.StatisticalParityDifference < 0) {
		t.Errorf("SPD(B vs A) = %v; want < 0 by construction", d.StatisticalParityDifference)
	}

	// Multi-group summary over the six intersections vs brute force over
	// all pairs: max pairwise |difference| = max − min.
	inter := KeysOver(groups, "race", "sex")
	if len(inter) != 6 {
		t.Fatalf("KeysOver(race, sex) = %q", inter)
	}
	s := Summarize(m, inter)
	var spd, eod, fprGap, minRatio float64 = 0, 0, 0, math.Inf(1)
	for _, a := range inter {
		for _, b := range inter {
			wa, wb := want[a], want[b]
			spd = math.Max(spd, wa.sr-wb.sr)
			eod = math.Max(eod, wa.tpr-wb.tpr)
			fprGap = math.Max(fprGap, wa.fpr-wb.fpr)
			minRatio = math.Min(minRatio, wa.sr/wb.sr)
		}
	}
	if !closeTo(s.StatisticalParityDifference, spd, 1e-12) || !closeTo(s.EqualOpportunityDifference, eod, 1e-12) ||
		!closeTo(s.EqualizedOddsDifference, math.Max(eod, fprGap), 1e-12) ||
		!closeTo(s.AverageOddsDifference, (eod+fprGap)/2, 1e-12) || !closeTo(s.DisparateImpact, minRatio, 1e-12) {
		t.Errorf("Summarize(intersections) = %+v; brute force SPD %v EOD %v FPR gap %v DI %v", s, spd, eod, fprGap, minRatio)
	}
	if w := want[s.SelectionRate.MinKey].sr; w != s.SelectionRate.Min {
		t.Errorf("SelectionRate.MinKey %q has rate %v; Min = %v", s.SelectionRate.MinKey, w, s.SelectionRate.Min)
	}

	// Calibration per group vs direct binning of the raw rows.
	for _, k := range []string{"race=A", "race=B"} {
		gs, _ := ParseGroupKey(k)
		var n [10]float64
		var pos, ssum [10]float64
		var total float64
		for _, a := range rows {
			if !a.member(gs) {
				continue
			}
			b := int(math.Floor(a.score * 10))
			if b == 10 {
				b = 9
			}
			n[b]++
			pos[b] += float64(a.label)
			ssum[b] += a.score
			total++
		}
		var ece float64
		for b := range 10 {
			if n[b] > 0 {
				ece += n[b] / total * math.Abs(ssum[b]/n[b]-pos[b]/n[b])
			}
		}
		c := CalibrationOf(stats[k])
		if !closeTo(c.ECE, ece, 1e-12) {
			t.Errorf("%s ECE = %v; raw %v", k, c.ECE, ece)
		}
		for b := range 10 {
			if n[b] > 0 && (!closeTo(c.Bins[b].MeanScore, ssum[b]/n[b], 1e-12) || !closeTo(c.Bins[b].PosRate, pos[b]/n[b], 1e-12)) {
				t.Errorf("%s bin %d = %+v; raw mean %v rate %v", k, b, c.Bins[b], ssum[b]/n[b], pos[b]/n[b])
			}
		}
	}
	// The model is shifted down for race=B, so it is worse calibrated there.
	if ea, eb := CalibrationOf(stats["race=A"]).ECE, CalibrationOf(stats["race=B"]).ECE; !(eb > ea) {
		t.Errorf("ECE race=B %v <= race=A %v; want B worse by construction", eb, ea)
	}
}

// A perfectly calibrated bin structure: within each bin the positive rate
// equals the mean score, so ECE is 0; shifting scores by δ inside bins
// gives ECE δ.
func TestCalibrationHand(t *testing.T) {
	s := GroupStats{Calib: []Bin{{N: 10, Pos: 2, ScoreSum: 2}, {N: 0}, {N: 4, Pos: 3, ScoreSum: 3}}}
	c := CalibrationOf(s)
	if c.ECE != 0 || c.MCE != 0 {
		t.Errorf("calibrated ECE, MCE = %v, %v; want 0, 0", c.ECE, c.MCE)
	}
	s.Calib[0].ScoreSum = 3 // mean 0.3 vs rate 0.2
	c = CalibrationOf(s)
	if want := 10.0 / 14 * 0.1; !closeTo(c.ECE, want, 1e-15) || !closeTo(c.MCE, 0.1, 1e-15) {
		t.Errorf("ECE, MCE = %v, %v; want %v, 0.1", c.ECE, c.MCE, want)
	}
	if c.Bins[2].Lo != 2.0/3 || c.Bins[2].Hi != 1 {
		t.Errorf("bin 2 = [%v, %v); want [2/3, 1)", c.Bins[2].Lo, c.Bins[2].Hi)
	}
}
