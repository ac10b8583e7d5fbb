package coordinator

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"

	"github.com/cohortfl/cohort/fairness"
	"github.com/cohortfl/cohort/internal/jsonx"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/privacy/accountant"
	"github.com/cohortfl/cohort/privacy/ledger"
)

// Fairness modes.
const (
	FairnessOff     = "off"     // no fairness statistics
	FairnessAudit   = "audit"   // audit every evaluation and the published candidate
	FairnessReweigh = "reweigh" // audit, and train with federated reweighing weights
)

// FairnessConfig configures a run's protected attributes, its federated
// fairness audit and, with mode reweigh, Kamiran–Calders reweighing from the
// securely summed label counts n(g, y). See docs/fairness.md.
type FairnessConfig struct {
	Mode string `json:"mode"` // off, audit or reweigh
	fairness.Spec
	// CountNoiseStd adds N(0, σ²) to every summed count n(g, y) before the
	// weights are computed (reweigh only). One record changes one count by
	// 1, so this is a Gaussian mechanism with noise multiplier σ; it is
	// recorded in the privacy ledger (party "*records", purpose
	// "reweigh_counts") and reported as epsilon_reweigh_counts at CountDelta.
	CountNoiseStd float64 `json:"count_noise_std,omitempty"`
	CountDelta    float64 `json:"count_delta,omitempty"` // δ for reporting ε of the count release; 0 = 1e-5
	// ProxyThreshold flags features with |Pearson r| ≥ it against a protected
	// group indicator; 0 = fairness.DefaultProxyThreshold.
	ProxyThreshold float64 `json:"proxy_threshold,omitempty"`
	// Weights are the reweighing weights w(g, y) by partition key, filled in
	// by the statistics phase (not an input).
	Weights map[string][2]float64 `json:"weights,omitempty"`
	// LabelCounts are the (noised) summed n(g, y) the weights came from,
	// filled in by the statistics phase (not an input).
	LabelCounts map[string][2]float64 `json:"label_counts,omitempty"`
}

// RecordsParty is the privacy-ledger party of the reweighing count release
// (the records of every site together), and DefaultCountDelta the δ its ε
// is reported at when fairness.count_delta is unset.
const (
	RecordsParty      = "*records" // "*" cannot start a certificate name, so no site can collide
	DefaultCountDelta = 1e-5
	purposeReweigh    = "reweigh_counts"
)

func (f *FairnessConfig) validate(c RunConfig, bad func(string, ...any)) {
	if f == nil {
		return
	}
	switch f.Mode {
	case FairnessOff:
		return
	case FairnessAudit, FairnessReweigh:
	default:
		bad("fairness.mode %q is unknown (want off, audit or reweigh)", f.Mode)
		return
	}
	if err := f.Spec.Validate(); err != nil {
		bad("fairness: %w", err)
	}
	if c.Classes != 2 {
		bad("fairness needs a binary model (classes = 2), got classes = %d", c.Classes)
	}
	if f.Mode == FairnessReweigh && c.DP.recordDP() != nil {
		bad("fairness.mode = reweigh cannot run with record-level DP: reweighing weights change each record's sensitivity")
	}
	if f.CountNoiseStd < 0 || math.IsNaN(f.CountNoiseStd) || math.IsInf(f.CountNoiseStd, 0) {
		bad("fairness.count_noise_std = %v, want a finite value >= 0", f.CountNoiseStd)
	}
	if f.CountNoiseStd > 0 && f.Mode != FairnessReweigh {
		bad("fairness.count_noise_std is only used with mode reweigh")
	}
	if !(f.CountDelta >= 0 && f.CountDelta < 1) {
		bad("fairness.count_delta = %v, want a value in [0, 1)", f.CountDelta)
	}
	if !(f.ProxyThreshold >= 0 && f.ProxyThreshold <= 1) {
		bad("fairness.proxy_threshold = %v, want a value in [0, 1]", f.ProxyThreshold)
	}
}

// fairSpec returns the run's fairness spec, nil when fairness is off.
func (c RunConfig) fairSpec() *fairness.Spec {
	if c.Fairness == nil || c.Fairness.Mode == "" || c.Fairness.Mode == FairnessOff {
		return nil
	}
	s := c.Fairness.Spec
	return &s
}

func (c RunConfig) reweighs() bool {
	return c.fairSpec() != nil && c.Fairness.Mode == FairnessReweigh
}

// applyLabelCounts turns the summed LabelLayout vector into reweighing
// weights, first adding the configured Gaussian noise (its ledger entry is
// written durably before the noisy counts are used).
func (e *Engine) applyLabelCounts(ctx context.Context, ar *activeRun, v []float64) error {
	fc := ar.cfg.Fairness
	l, err := fairness.NewLabelLayout(fc.Groups())
	if err != nil {
		return err
	}
	if len(v) != l.Dim() {
		return fmt.Errorf("coordinator: label counts have %d values, want %d", len(v), l.Dim())
	}
	if fc.CountNoiseStd > 0 {
		lg, err := ledger.Open(ctx, e.o.Store)
		if err != nil {
			return err
		}
		acc, err := accountant.NewRDP(accountant.DefaultOrders())
		if err != nil {
			return err
		}
		entry := ledger.Entry{RunID: ar.cfg.RunID, Party: RecordsParty, Purpose: purposeReweigh,
			Mechanism: ledger.SubsampledGaussian, Q: 1, Sigma: fc.CountNoiseStd, Steps: 1}
		ids, err := lg.Reserve(ctx, acc, nil, entry)
		if err != nil {
			return fmt.Errorf("coordinator: recording the reweighing count release: %w", err)
		}
		e.noteLedger(entry, ids[0])
		for i := range v {
			v[i] = math.Max(0, v[i]+fc.CountNoiseStd*e.o.Noise())
		}
		if err := e.o.Store.Tx(ctx, func(tx *sql.Tx) error { return ledger.ReleaseTx(ctx, tx, ids) }); err != nil {
			return err
		}
	}
	counts, err := l.Decode(v)
	if err != nil {
		return err
	}
	w, err := fairness.ReweighingWeights(counts)
	if err != nil {
		return fmt.Errorf("coordinator: reweighing: %w", err)
	}
	fc.Weights, fc.LabelCounts = w, counts
	e.log.Info("federated reweighing weights", "run", ar.cfg.RunID, "groups", len(w), "count_noise_std", fc.CountNoiseStd)
	return nil
}

// reweighEpsilon is ε of the noisy count release at CountDelta, or false.
func reweighEpsilon(fc *FairnessConfig) (float64, bool) {
	if fc == nil || fc.CountNoiseStd == 0 || fc.Mode != FairnessReweigh {
		return 0, false
	}
	acc, err := accountant.NewRDP(accountant.DefaultOrders())
	if err != nil {
		return 0, false
	}
	delta := fc.CountDelta
	if delta == 0 {
		delta = DefaultCountDelta
	}
	eps, err := acc.Epsilon([]accountant.Event{{Q: 1, Sigma: fc.CountNoiseStd, Steps: 1}}, delta)
	return eps, err == nil
}

// evalExtraLen is the length of the fairness/explanation tail of an
// evaluation result for the phase options.
func evalExtraLen(cfg RunConfig, explainRows int) int {
	n := 0
	spec := cfg.fairSpec()
	if spec != nil {
		n += protocol.AuditLen(*spec)
	}
	if explainRows > 0 {
		n += protocol.ExplainLen(cfg.Features, spec)
	}
	return n
}

// FamilyReport is the audit of one attribute family as stored and printed.
type FamilyReport struct {
	Name                        string        `json:"name"`
	Groups                      []GroupReport `json:"groups"`
	DisparateImpact             jsonx.Float   `json:"disparate_impact"`
	StatisticalParityDifference jsonx.Float   `json:"statistical_parity_difference"`
	EqualOpportunityDifference  jsonx.Float   `json:"equal_opportunity_difference"`
	EqualizedOddsDifference     jsonx.Float   `json:"equalized_odds_difference"`
	AverageOddsDifference       jsonx.Float   `json:"average_odds_difference"`
	AccuracyDifference          jsonx.Float   `json:"accuracy_difference"`
	CalibrationGap              jsonx.Float   `json:"calibration_gap"`
}

// GroupReport holds one group's rates (on the favourable outcome).
type GroupReport struct {
	Key           string      `json:"key"`
	N             jsonx.Float `json:"n"`
	SelectionRate jsonx.Float `json:"selection_rate"`
	TPR           jsonx.Float `json:"tpr"`
	FPR           jsonx.Float `json:"fpr"`
	FNR           jsonx.Float `json:"fnr"`
	Accuracy      jsonx.Float `json:"accuracy"`
	ECE           jsonx.Float `json:"ece"`
}

// AuditReports decodes a summed fairness.Layout vector and audits every
// attribute family of spec.
func AuditReports(spec fairness.Spec, v []float64) ([]FamilyReport, error) {
	l, err := fairness.NewLayout(spec.Groups(), spec.Bins())
	if err != nil {
		return nil, err
	}
	stats, err := l.Decode(v)
	if err != nil {
		return nil, fmt.Errorf("coordinator: fairness audit: %w", err)
	}
	fams, err := fairness.AuditFamilies(spec, stats)
	if err != nil {
		return nil, err
	}
	out := make([]FamilyReport, len(fams))
	for i, f := range fams {
		s := f.Summary
		r := FamilyReport{Name: f.Name, DisparateImpact: jsonx.Float(s.DisparateImpact),
			StatisticalParityDifference: jsonx.Float(s.StatisticalParityDifference),
			EqualOpportunityDifference:  jsonx.Float(s.EqualOpportunityDifference),
			EqualizedOddsDifference:     jsonx.Float(s.EqualizedOddsDifference),
			AverageOddsDifference:       jsonx.Float(s.AverageOddsDifference),
			AccuracyDifference:          jsonx.Float(s.AccuracyDifference),
			CalibrationGap:              jsonx.Float(f.CalibrationGap())}
		for _, g := range f.Groups {
			m := f.Metrics[g]
			r.Groups = append(r.Groups, GroupReport{Key: g, N: jsonx.Float(m.N), SelectionRate: jsonx.Float(m.SelectionRate),
				TPR: jsonx.Float(m.TPR), FPR: jsonx.Float(m.FPR), FNR: jsonx.Float(m.FNR), Accuracy: jsonx.Float(m.Accuracy),
				ECE: jsonx.Float(f.Calib[g].ECE)})
		}
		out[i] = r
	}
	return out, nil
}

// fairnessMetrics flattens family reports into round metrics named
// "fair.<family>.<metric>".
func fairnessMetrics(fams []FamilyReport) map[string]float64 {
	out := map[string]float64{}
	for _, f := range fams {
		p := "fair." + f.Name + "."
		out[p+"disparate_impact"] = float64(f.DisparateImpact)
		out[p+"statistical_parity_difference"] = float64(f.StatisticalParityDifference)
		out[p+"equal_opportunity_difference"] = float64(f.EqualOpportunityDifference)
		out[p+"equalized_odds_difference"] = float64(f.EqualizedOddsDifference)
		out[p+"average_odds_difference"] = float64(f.AverageOddsDifference)
		out[p+"calibration_gap"] = float64(f.CalibrationGap)
	}
	for k, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(out, k) // undefined: not recorded (the store keeps finite metrics)
		}
	}
	return out
}

// Importance is global feature importance from the federated explanation.
type Importance struct {
	Rows     jsonx.Float         `json:"rows"`
	Features []FeatureImportance `json:"features"` // by mean |φ|, largest first
	// Groups holds mean |φ| per feature for each single-attribute group
	// ("afam=yes"), marginalised from the partition, in feature order of
	// Features.
	Groups []GroupImportance `json:"groups,omitempty"`
	Method string            `json:"method"` // "linear_shap_logit" or "kernel_shap_proba"
}

// FeatureImportance is one feature's global mean |φ| and mean φ.
type FeatureImportance struct {
	Name    string      `json:"name"`
	MeanAbs jsonx.Float `json:"mean_abs"`
	Mean    jsonx.Float `json:"mean"`
}

// GroupImportance is mean |φ| per feature within one group.
type GroupImportance struct {
	Key     string        `json:"key"`
	Rows    jsonx.Float   `json:"rows"`
	MeanAbs []jsonx.Float `json:"mean_abs"`
}

// featureNames returns the run's feature names, or x0, x1, ... when unset.
func (c RunConfig) featureNames() []string {
	if len(c.FeatureNames) == c.Features && c.Features > 0 {
		return c.FeatureNames
	}
	out := make([]string, c.Features)
	for i := range out {
		out[i] = fmt.Sprintf("x%d", i)
	}
	return out
}

// sortImportance orders features by mean |φ|, largest first (NaN last).
func sortImportance(fs []FeatureImportance) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := float64(fs[i].MeanAbs), float64(fs[j].MeanAbs)
		if math.IsNaN(b) {
			return !math.IsNaN(a)
		}
		return a > b
	})
}
