package reportdata

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/fairness"
	"github.com/cohortfl/cohort/gate"
	"github.com/cohortfl/cohort/report"
)

// Per-round fairness metrics are stored as "fair.<family>.<metric>"
// (coordinator/fairness.go fairnessMetrics); an undefined value is not
// stored at all.
const (
	fairnessPrefix = "fair."
	calibrationGap = "calibration_gap"
)

// fairnessMetricNames are the <metric> parts of the stored names.
var fairnessMetricNames = []string{
	report.MetricDisparateImpact,
	report.MetricStatisticalParityDifference,
	report.MetricEqualOpportunityDifference,
	report.MetricEqualizedOddsDifference,
	report.MetricAverageOddsDifference,
	calibrationGap,
}

// parseFairnessMetric splits a stored metric name "fair.<family>.<metric>".
// The family may itself contain dots; the metric is one of
// fairnessMetricNames.
func parseFairnessMetric(name string) (family, metric string, ok bool) {
	rest, ok := strings.CutPrefix(name, fairnessPrefix)
	if !ok {
		return "", "", false
	}
	for _, m := range fairnessMetricNames {
		if fam, ok := strings.CutSuffix(rest, "."+m); ok && fam != "" {
			return fam, m, true
		}
	}
	return "", "", false
}

// fairnessOn reports whether the run audited fairness.
func fairnessOn(cfg coordinator.RunConfig) bool {
	return cfg.Fairness != nil && cfg.Fairness.Mode != "" && cfg.Fairness.Mode != coordinator.FairnessOff
}

// fillFairness fills the fairness section, nil when the run had no
// fairness audit: the policy's thresholds, one entry per committed round
// and audited family from the round metrics (a metric that was undefined in
// that round is NaN), and the final model's per-group rates from the
// publication audit (none without a publication), labelled by groupLabel.
func fillFairness(_ context.Context, s *source, d *report.Data) error {
	if !fairnessOn(s.cfg) {
		return nil
	}
	f := &report.Fairness{Thresholds: []report.Threshold{}, Rounds: []report.FairnessRound{}, Groups: []report.GroupMetrics{}}
	if p := s.cfg.Policy; p != nil {
		f.Thresholds = thresholds(p.Fairness)
	}
	for _, rec := range s.rounds {
		if rec.Status != store.RoundCommitted {
			continue
		}
		byFamily := map[string]map[string]float64{}
		for k, v := range rec.Metrics {
			fam, m, ok := parseFairnessMetric(k)
			if !ok {
				continue
			}
			if byFamily[fam] == nil {
				byFamily[fam] = map[string]float64{}
			}
			byFamily[fam][m] = v
		}
		fams := make([]string, 0, len(byFamily))
		for fam := range byFamily {
			fams = append(fams, fam)
		}
		slices.Sort(fams)
		for _, fam := range fams {
			m := byFamily[fam]
			get := func(k string) report.Float {
				if v, ok := m[k]; ok {
					return report.Float(v)
				}
				return report.Float(math.NaN())
			}
			f.Rounds = append(f.Rounds, report.FairnessRound{Round: rec.Round, Family: fam,
				DisparateImpact:             get(report.MetricDisparateImpact),
				StatisticalParityDifference: get(report.MetricStatisticalParityDifference),
				EqualOpportunityDifference:  get(report.MetricEqualOpportunityDifference),
				EqualizedOddsDifference:     get(report.MetricEqualizedOddsDifference),
				AverageOddsDifference:       get(report.MetricAverageOddsDifference)})
		}
	}
	if s.pub != nil {
		for _, fam := range s.pub.Fairness {
			for _, g := range fam.Groups {
				f.Groups = append(f.Groups, report.GroupMetrics{Group: groupLabel(g.Key), Family: fam.Name, N: g.N,
					SelectionRate: g.SelectionRate, TPR: g.TPR, FPR: g.FPR, FNR: g.FNR, Accuracy: g.Accuracy})
			}
		}
	}
	d.Fairness = f
	return nil
}

// thresholds lists the policy's fairness limits as the gate applies them
// (gate/evaluate.go fairMetrics): disparate impact from below, the
// differences in absolute value from above.
func thresholds(p gate.Fairness) []report.Threshold {
	out := []report.Threshold{}
	for _, t := range []struct {
		metric string
		limit  *float64
		op     string
		abs    bool
	}{
		{report.MetricDisparateImpact, p.MinDisparateImpact, gate.OpAtLeast, false},
		{report.MetricStatisticalParityDifference, p.MaxStatisticalParityDifference, gate.OpAtMost, true},
		{report.MetricEqualOpportunityDifference, p.MaxEqualOpportunityDifference, gate.OpAtMost, true},
		{report.MetricEqualizedOddsDifference, p.MaxEqualizedOddsDifference, gate.OpAtMost, true},
		{report.MetricAverageOddsDifference, p.MaxAverageOddsDifference, gate.OpAtMost, true},
		{calibrationGap, p.MaxCalibrationGap, gate.OpAtMost, false},
	} {
		if t.limit != nil {
			out = append(out, report.Threshold{Metric: t.metric, Op: t.op, Value: report.Float(*t.limit), Abs: t.abs})
		}
	}
	return out
}

// fillGate records the publication gate's decision on the run's final
// candidate, with every check; nothing if the run has no decision.
// Candidate is the registry's semantic version when the model was signed,
// else the store's model version.
func fillGate(_ context.Context, s *source, d *report.Data) error {
	if s.pub == nil {
		return nil
	}
	g := report.GateDecision{Candidate: "version " + strconv.Itoa(s.pub.Version), Round: s.pub.Version,
		Passed: s.pub.Decision.Passed, Checks: []report.GateCheck{}}
	if a := s.pub.Artifact; a != nil && a.Version != "" {
		g.Candidate = a.Version
	}
	for _, c := range s.pub.Decision.Checks {
		g.Checks = append(g.Checks, report.GateCheck{Name: c.Name, Value: report.Float(c.Value), Op: c.Op,
			Threshold: report.Float(c.Threshold), Passed: c.Passed, Detail: c.Detail})
	}
	d.Gate = []report.GateDecision{g}
	return nil
}

// fillExplanations fills the federated global importance of the final
// candidate: nil when the run explained nothing (explain_rows 0), empty
// when it should have but has no recorded explanation.
func fillExplanations(_ context.Context, s *source, d *report.Data) error {
	var imp *coordinator.Importance
	if s.pub != nil {
		imp = s.pub.Importance
	}
	if imp == nil {
		if s.cfg.ExplainRows > 0 {
			d.Explanations = &report.Explanations{Global: []report.FeatureImportance{}, Groups: []report.GroupImportance{}}
		}
		return nil
	}
	e := &report.Explanations{Method: imp.Method, Global: []report.FeatureImportance{}, Groups: []report.GroupImportance{}}
	for _, f := range imp.Features {
		e.Global = append(e.Global, report.FeatureImportance{Feature: f.Name, MeanAbsSHAP: f.MeanAbs})
	}
	for _, g := range imp.Groups {
		// g.MeanAbs is in the order of imp.Features.
		gi := report.GroupImportance{Group: groupLabel(g.Key), Features: []report.FeatureImportance{}}
		for i, v := range g.MeanAbs {
			if i < len(imp.Features) {
				gi.Features = append(gi.Features, report.FeatureImportance{Feature: imp.Features[i].Name, MeanAbsSHAP: v})
			}
		}
		e.Groups = append(e.Groups, gi)
	}
	d.Explanations = e
	return nil
}

// groupLabel shows a group key for people: fairness.GroupKey query-escapes
// each part ("age=%3C%3D30"), the label does not ("age=<=30", and
// "race=B & sex=F" for an intersection). A key that does not parse is shown
// as it is.
func groupLabel(key string) string {
	gs, err := fairness.ParseGroupKey(key)
	if err != nil || len(gs) == 0 {
		return key
	}
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = g.Attr + "=" + g.Value
	}
	return strings.Join(parts, " & ")
}
