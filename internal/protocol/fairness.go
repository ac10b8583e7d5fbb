package protocol

import (
	"github.com/cohortfl/cohort/explain"
	"github.com/cohortfl/cohort/fairness"
)

// AuditLen is the length of the fairness.Layout vector an evaluation result
// carries with TaskConfig.FairAudit.
func AuditLen(spec fairness.Spec) int {
	l, err := fairness.NewLayout(spec.Groups(), spec.Bins())
	if err != nil {
		return 0
	}
	return l.Dim()
}

// ExplainLen is the length of the vector an evaluation result carries with
// TaskConfig.ExplainRows > 0, for d features: the explain.Aggregate over the
// partition groups of spec, then the fairness.MomentLayout over d features
// and spec.Indicators(). With spec nil it is the ungrouped Aggregate alone.
func ExplainLen(d int, spec *fairness.Spec) int {
	if spec == nil {
		return explain.AggregateLen(d, 0)
	}
	return explain.AggregateLen(d, len(spec.Groups())) + fairness.MomentDim(d, len(spec.Indicators()))
}
