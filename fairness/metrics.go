package fairness

import (
	"math"
	"sort"
)

// FourFifths is the threshold of the four-fifths (80 %) rule: a disparate
// impact ratio below it indicates adverse impact.
const FourFifths = 0.8

// ratio returns num/den, or NaN when den == 0 (an undefined rate).
func ratio(num, den float64) float64 {
	if den == 0 {
		return math.NaN()
	}
	return num / den
}

// GroupMetrics are the per-group rates of a confusion matrix. A rate whose
// denominator is zero is NaN (for example TPR of a group with no positives).
type GroupMetrics struct {
	N             float64 // TP+FP+TN+FN
	BaseRate      float64 // P(y=1) = (TP+FN)/N
	SelectionRate float64 // P(ŷ=1) = (TP+FP)/N
	TPR           float64 // TP/(TP+FN)
	FPR           float64 // FP/(FP+TN)
	FNR           float64 // FN/(TP+FN)
	TNR           float64 // TN/(FP+TN)
	Accuracy      float64 // (TP+TN)/N
}

// MetricsOf computes the per-group rates of c.
func MetricsOf(c Counts) GroupMetrics {
	n := c.N()
	return GroupMetrics{
		N:             n,
		BaseRate:      ratio(c.TP+c.FN, n),
		SelectionRate: ratio(c.TP+c.FP, n),
		TPR:           ratio(c.TP, c.TP+c.FN),
		FPR:           ratio(c.FP, c.FP+c.TN),
		FNR:           ratio(c.FN, c.TP+c.FN),
		TNR:           ratio(c.TN, c.FP+c.TN),
		Accuracy:      ratio(c.TP+c.TN, n),
	}
}

// Audit computes MetricsOf for every group.
func Audit(stats map[string]GroupStats) map[string]GroupMetrics {
	out := make(map[string]GroupMetrics, len(stats))
	for k, s := range stats {
		out[k] = MetricsOf(s.Counts)
	}
	return out
}

// Disparity compares an unprivileged group u with a privileged group p, with
// the AIF360 sign convention (unprivileged minus privileged; 0 is parity,
// negative means the unprivileged group is worse off for SPD and EOD).
type Disparity struct {
	// StatisticalParityDifference = SR_u − SR_p.
	StatisticalParityDifference float64
	// DisparateImpact = SR_u / SR_p. NaN if both selection rates are 0 or
	// either is NaN; +Inf if only SR_p is 0.
	DisparateImpact float64
	// EqualOpportunityDifference = TPR_u − TPR_p.
	EqualOpportunityDifference float64
	// EqualizedOddsDifference = max(|TPR_u − TPR_p|, |FPR_u − FPR_p|)
	// (Fairlearn); NaN if either difference is NaN.
	EqualizedOddsDifference float64
	// AverageOddsDifference = ((FPR_u − FPR_p) + (TPR_u − TPR_p)) / 2.
	AverageOddsDifference float64
}

// maxNaN returns max(a, b), or NaN if either is NaN.
func maxNaN(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return math.Max(a, b)
}

// impactRatio returns a/b with the DisparateImpact rule.
func impactRatio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || (a == 0 && b == 0) {
		return math.NaN()
	}
	if b == 0 {
		return math.Inf(1)
	}
	return a / b
}

// Compare returns the disparities of unprivileged u against privileged p.
// NaN rates propagate (IEEE arithmetic), so a disparity is NaN exactly when
// a rate it needs is undefined in either group.
func Compare(u, p GroupMetrics) Disparity {
	dTPR := u.TPR - p.TPR
	dFPR := u.FPR - p.FPR
	return Disparity{
		StatisticalParityDifference: u.SelectionRate - p.SelectionRate,
		DisparateImpact:             impactRatio(u.SelectionRate, p.SelectionRate),
		EqualOpportunityDifference:  dTPR,
		EqualizedOddsDifference:     maxNaN(math.Abs(dTPR), math.Abs(dFPR)),
		AverageOddsDifference:       (dFPR + dTPR) / 2,
	}
}

// CompareTo compares every group in keys other than privileged with the
// privileged group. It returns nil if privileged is not in m; keys missing
// from m are skipped.
func CompareTo(m map[string]GroupMetrics, keys []string, privileged string) map[string]Disparity {
	p, ok := m[privileged]
	if !ok {
		return nil
	}
	out := make(map[string]Disparity)
	for _, k := range keys {
		u, ok := m[k]
		if !ok || k == privileged {
			continue
		}
		out[k] = Compare(u, p)
	}
	return out
}

// Extreme is the smallest and largest value of one rate over a set of groups,
// and which groups attain them (the lexicographically first on ties). Groups
// whose rate is NaN are skipped; Defined counts the others. With Defined < 2
// Min, Max and the keys are still filled when Defined == 1, but every
// difference built from the Extreme is NaN.
type Extreme struct {
	Min, Max       float64
	MinKey, MaxKey string
	Defined        int
}

// Range returns Max − Min, or NaN if fewer than two groups define the rate.
func (e Extreme) Range() float64 {
	if e.Defined < 2 {
		return math.NaN()
	}
	return e.Max - e.Min
}

func extreme(m map[string]GroupMetrics, keys []string, rate func(GroupMetrics) float64) Extreme {
	e := Extreme{Min: math.NaN(), Max: math.NaN()}
	for _, k := range keys {
		g, ok := m[k]
		if !ok {
			continue
		}
		r := rate(g)
		if math.IsNaN(r) {
			continue
		}
		if e.Defined == 0 || r < e.Min {
			e.Min, e.MinKey = r, k
		}
		if e.Defined == 0 || r > e.Max {
			e.Max, e.MaxKey = r, k
		}
		e.Defined++
	}
	return e
}

// Summary compares any number of groups without naming a privileged one
// (Fairlearn's "between groups" aggregation). With exactly two groups the
// differences are the absolute values of the pairwise Disparity fields and
// the ratio is min/max rather than u/p.
type Summary struct {
	SelectionRate, TPR, FPR, Accuracy Extreme

	// StatisticalParityDifference = max SR − min SR (Fairlearn
	// demographic_parity_difference).
	StatisticalParityDifference float64
	// DisparateImpact = min SR / max SR (Fairlearn demographic_parity_ratio;
	// the four-fifths rule compares it with FourFifths). NaN if all defined
	// selection rates are 0 or fewer than two groups define one.
	DisparateImpact float64
	// EqualOpportunityDifference = max TPR − min TPR.
	EqualOpportunityDifference float64
	// EqualizedOddsDifference = max(TPR range, FPR range) (Fairlearn
	// equalized_odds_difference); NaN if either range is NaN.
	EqualizedOddsDifference float64
	// AverageOddsDifference = (TPR range + FPR range) / 2. This is Cohort's
	// extension of AIF360's two-group definition: the mean of the two range
	// gaps, always ≥ 0.
	AverageOddsDifference float64
	// AccuracyDifference = max accuracy − min accuracy.
	AccuracyDifference float64
}

// Summarize computes a Summary over the groups keys (missing keys and groups
// whose rate is undefined are skipped per rate; see Extreme). The keys are
// visited in sorted order so ties resolve deterministically.
func Summarize(m map[string]GroupMetrics, keys []string) Summary {
	ks := append([]string(nil), keys...)
	sort.Strings(ks)
	s := Summary{
		SelectionRate: extreme(m, ks, func(g GroupMetrics) float64 { return g.SelectionRate }),
		TPR:           extreme(m, ks, func(g GroupMetrics) float64 { return g.TPR }),
		FPR:           extreme(m, ks, func(g GroupMetrics) float64 { return g.FPR }),
		Accuracy:      extreme(m, ks, func(g GroupMetrics) float64 { return g.Accuracy }),
	}
	s.StatisticalParityDifference = s.SelectionRate.Range()
	if s.SelectionRate.Defined >= 2 {
		s.DisparateImpact = impactRatio(s.SelectionRate.Min, s.SelectionRate.Max)
	} else {
		s.DisparateImpact = math.NaN()
	}
	s.EqualOpportunityDifference = s.TPR.Range()
	s.EqualizedOddsDifference = maxNaN(s.TPR.Range(), s.FPR.Range())
	s.AverageOddsDifference = (s.TPR.Range() + s.FPR.Range()) / 2
	s.AccuracyDifference = s.Accuracy.Range()
	return s
}

// CalibrationBin is one score bin of a calibration curve.
type CalibrationBin struct {
	Lo, Hi    float64 // score interval [Lo, Hi) (the last bin includes 1)
	N         float64
	MeanScore float64 // ScoreSum/N, NaN if N == 0
	PosRate   float64 // Pos/N, observed P(y=1) in the bin, NaN if N == 0
}

// Calibration is the reliability curve of one group.
type Calibration struct {
	Bins []CalibrationBin
	// ECE is the expected calibration error Σ_b (N_b/N)·|MeanScore_b −
	// PosRate_b| over non-empty bins, N = Σ_b N_b. NaN if N == 0.
	ECE float64
	// MCE is the maximum calibration error max_b |MeanScore_b − PosRate_b|
	// over non-empty bins. NaN if N == 0.
	MCE float64
}

// CalibrationOf computes the reliability curve and ECE of s.Calib.
func CalibrationOf(s GroupStats) Calibration {
	b := len(s.Calib)
	c := Calibration{Bins: make([]CalibrationBin, b), ECE: math.NaN(), MCE: math.NaN()}
	var n, weighted, worst float64
	for i, bin := range s.Calib {
		cb := CalibrationBin{
			Lo:        float64(i) / float64(b),
			Hi:        float64(i+1) / float64(b),
			N:         bin.N,
			MeanScore: ratio(bin.ScoreSum, bin.N),
			PosRate:   ratio(bin.Pos, bin.N),
		}
		c.Bins[i] = cb
		if bin.N > 0 {
			gap := math.Abs(cb.MeanScore - cb.PosRate)
			n += bin.N
			weighted += bin.N * gap
			worst = math.Max(worst, gap)
		}
	}
	if n > 0 {
		c.ECE = weighted / n
		c.MCE = worst
	}
	return c
}
