// Package gate is the publish gate: it decides whether a candidate model may
// be published, by checking evidence about the candidate (evaluation
// metrics, privacy spent, fairness audits, feature importances) against a
// policy file. It is pure computation; the only I/O is Load reading a file.
//
//	p, err := gate.Load("policy.yaml")   // strict parse + validation
//	d := gate.Evaluate(p, evidence)       // every check, in a stable order
//	if !d.Passed { log.Print(d.Summary()) }
//
// # Policy file
//
// A policy is one YAML document. Every key is optional; an absent threshold
// is not checked, an explicit one is (0 included). A full example:
//
//	# Publish gate for the credit model.
//	utility:
//	  min_auc: 0.75
//	  max_loss: 0.6
//	privacy:
//	  max_epsilon: 8
//	fairness:
//	  attributes: [afam, afam&single]
//	  min_disparate_impact: 0.8
//	  max_equal_opportunity_difference: 0.1
//	  max_calibration_gap: 0.05
//	  undefined: fail
//	explanations:
//	  top_k: 3
//	  forbid_protected: true
//	  forbid_proxies: true
//
// All keys:
//
//	utility.min_auc                              eval_auc >= t            t in [0, 1]
//	utility.min_accuracy                         eval_accuracy >= t       t in [0, 1]
//	utility.max_loss                             eval_loss <= t           t >= 0
//	privacy.max_epsilon                          ε spent <= t             t > 0
//	fairness.attributes                          families to audit        default: each protected attribute
//	fairness.min_disparate_impact                DI >= t                  t in (0, 1]
//	fairness.max_statistical_parity_difference   |SPD| <= t               t in [0, 1]
//	fairness.max_equal_opportunity_difference    |EOD| <= t               t in [0, 1]
//	fairness.max_equalized_odds_difference       |EqOdds| <= t            t in [0, 1]
//	fairness.max_average_odds_difference         |AOD| <= t               t in [0, 1]
//	fairness.max_calibration_gap                 max ECE − min ECE <= t   t in [0, 1]
//	fairness.undefined                           "fail" (default) or "pass"
//	explanations.top_k                           features checked         k > 0
//	explanations.forbid_protected                no protected attribute in the top k
//	explanations.forbid_proxies                  no strong proxy in the top k
//
// Thresholds must be finite. The fairness metrics are rate differences, so
// their thresholds are at most 1 (this catches percentages such as 10 for
// 0.1). Parse rejects unknown or repeated keys, keys without a value, values
// of the wrong type, more than one document, and settings that would have
// no effect: fairness.attributes or fairness.undefined without a fairness
// threshold, top_k without a forbid_* flag, a forbid_* flag without top_k.
// Errors name the file, the line and the key path:
//
//	policy.yaml: line 4: utility.min_aucc: unknown key (valid keys: min_auc, min_accuracy, max_loss)
//	policy.yaml: line 5: fairness.min_disparate_impact = 1.3: must be in (0, 1]
//
// An empty file is the empty policy: Policy.Empty reports it, and Evaluate
// passes every candidate under it, so callers should warn.
//
// # Semantics
//
// A gate never passes for lack of evidence: a check whose input is missing
// fails with Value NaN and a Detail starting "not measured".
//
// Utility reads Evidence.Metrics under MetricAUC, MetricAccuracy and
// MetricLoss. A NaN metric fails.
//
// Privacy: Evidence.Epsilon nil means the run used no differential privacy,
// which in the DP sense is ε = ∞; max_epsilon then fails with Value +Inf and
// Detail "run has no differential privacy (ε = ∞)".
//
// Fairness is checked per attribute family: "afam" compares the groups of one
// attribute, "afam&single" their intersections (parts are sorted, so
// "single&afam" names the same family; check names use the sorted form). With
// no attributes listed, the families are every protected attribute of the
// run (Evidence.Protected) plus every single-attribute family in
// Evidence.Fairness, each alone. A family without an audit fails "not
// measured", and so does every threshold if there is no family at all. Each
// threshold yields one check per family, named like
// "fairness.min_disparate_impact[afam]", ordered by family name and then as
// in the table above. Differences are compared on absolute values. A
// disparate impact above 1 (an unprivileged/privileged ratio favouring the
// unprivileged group) is read as its inverse, so the check is symmetric; the
// min/max ratio of fairness.Summarize is never above 1. A NaN metric (too
// little data in a group) fails unless fairness.undefined is "pass", in
// which case it passes with a Detail saying so.
//
// Explanations look at the first top_k entries of Evidence.TopFeatures. A
// feature is protected if it equals a protected attribute a or starts with
// "a=" (a one-hot column such as "afam=yes"), and a proxy if it is listed in
// Evidence.Proxies. Each check's Value is the number of offending features
// (threshold 0, op "<="), and its Detail names them with their rank:
// "feature afam=yes is protected and ranks 2 of top 3". TopFeatures nil, no
// protected attributes (for forbid_protected) or Proxies nil (for
// forbid_proxies: the proxy check did not run; empty means it ran and found
// none) fail "not measured".
//
// Checks are ordered utility, privacy, fairness, explanations. A policy that
// fails Validate (built as a literal) yields a single failed check named
// "policy". In JSON, NaN and infinite values of a Check are null.
package gate
