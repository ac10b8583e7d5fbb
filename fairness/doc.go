// Package fairness audits models for group fairness and computes federated
// reweighing weights, entirely from securely summed vectors. It is pure
// computation: no I/O, no global state, no randomness.
//
// # Flow
//
// Every statistic is a sum over examples, so each site encodes its local
// contribution as a flat []float64 of a fixed Layout, secure aggregation adds
// the vectors, and the coordinator decodes the one summed vector:
//
//	site:        Accumulate(stats, key, y, score, thr) per row and group key
//	             v, err := layout.Encode(stats)          // len layout.Dim()
//	secure sum:  Σ v over sites
//	coordinator: stats, err := layout.Decode(sum)
//	             m := Audit(stats); s := Summarize(m, KeysOver(layout.Groups(), "sex"))
//
// All parties must build the layout from the same group list and decile count
// (the list is sorted, so its order does not matter). A site that saw no
// member of a group still sends zeros for it; Decode returns every group.
//
// Three layouts exist: Layout (confusion counts and calibration bins per
// group, for audits), LabelLayout (n(g, y), for reweighing) and MomentLayout
// (n, Σx, Σx², Σa, Σa², Σxa, for the proxy check).
//
// # Groups and intersections
//
// A Group is one value of one protected attribute; an intersection is a
// []Group with distinct attributes, named by GroupKey: attr=value pairs
// sorted by attribute, query-escaped and joined by "&" ("race=B&sex=F").
// IntersectionKeys lists every key a record belongs to (each attribute alone
// and every combination up to an order), so single attributes and their
// intersections are audited from one vector; KeysOver selects the keys of one
// family to compare. Protected attributes need not be model features: sites
// only need them to choose keys.
//
// # Per-group metrics (MetricsOf)
//
// With TP, FP, TN, FN the confusion counts at the decision threshold
// (ŷ = 1 iff score ≥ threshold) and N their sum:
//
//	selection rate  SR  = P(ŷ=1) = (TP+FP)/N
//	base rate           = P(y=1) = (TP+FN)/N
//	TPR = TP/(TP+FN)    FNR = FN/(TP+FN) = 1 − TPR
//	FPR = FP/(FP+TN)    TNR = TN/(FP+TN) = 1 − FPR
//	accuracy = (TP+TN)/N
//
// Undefined rates: a rate whose denominator is 0 (0/0, e.g. TPR of a group
// with no positives, any rate of an empty group) is NaN. Nothing panics.
//
// # Between two groups (Compare), AIF360 convention
//
// For an unprivileged group u and a privileged group p:
//
//	statistical parity difference  SPD = SR_u − SR_p
//	disparate impact               DI  = SR_u / SR_p   (four-fifths rule: DI ≥ 0.8)
//	equal opportunity difference   EOD = TPR_u − TPR_p
//	equalized odds difference          = max(|TPR_u − TPR_p|, |FPR_u − FPR_p|)
//	average odds difference        AOD = ((FPR_u − FPR_p) + (TPR_u − TPR_p)) / 2
//
// NaN rules: NaN rates propagate through differences. DI is NaN when both
// selection rates are 0 (0/0) or either is NaN, and +Inf when only SR_p is 0.
// The equalized odds difference is NaN if either gap is NaN.
//
// # Between any number of groups (Summarize), Fairlearn convention
//
// Without a privileged group, each rate is reduced to its min and max over
// the groups (Extreme, naming the groups that attain them):
//
//	SPD = max SR − min SR                 DI = min SR / max SR
//	EOD = max TPR − min TPR               equalized odds = max(TPR range, FPR range)
//	AOD = (TPR range + FPR range) / 2     accuracy difference = max acc − min acc
//
// Groups whose rate is NaN are left out of that rate's min and max; if fewer
// than two groups define it, the range (and every metric built from it) is
// NaN. DI follows the same 0/0 rule as above. For two groups these are the
// absolute values of Compare's differences, and DI is min/max instead of u/p.
// AOD over ranges is Cohort's extension (AIF360 defines it for two groups).
// Gates must decide whether NaN (too little data) passes or fails.
//
// # Calibration (CalibrationOf)
//
// Scores in [0, 1] fall into B equal-width bins (default 10 "deciles";
// score s goes to bin min(⌊s·B⌋, B−1)). Per bin the layout sums the count
// N_b, the positives Pos_b and the scores S_b. The reliability curve is
// mean score S_b/N_b against observed positive rate Pos_b/N_b (NaN for empty
// bins), and
//
//	ECE = Σ_b (N_b/N) · |S_b/N_b − Pos_b/N_b|     MCE = max_b |S_b/N_b − Pos_b/N_b|
//
// over non-empty bins, NaN for an empty group. Compare ECE across groups to
// audit calibration by group.
//
// # Federated reweighing (ReweighingWeights)
//
// Kamiran & Calders (2012), federated as in Abay et al. (2020): from the
// securely summed n(g, y),
//
//	w(g, y) = n_g · n_y / (n · n(g, y))
//
// and sites use w(g, y) as the sample weight of each local example in cell
// (g, y). The weighted cell counts become n_g·n_y/n, so the weighted label
// distribution is independent of the group (P_w(y|g) = P(y)) and each group
// keeps its size. Groups must partition the data (one key per example, e.g.
// the full intersection). An empty cell gets weight 0 (there is nothing to
// weight).
//
// # Proxy check (ProxyCorrelations)
//
// For each feature x and protected-attribute indicator a, Pearson's
//
//	r = (nΣxa − ΣxΣa) / √((nΣx² − (Σx)²)(nΣa² − (Σa)²))
//
// from securely summed moments. |r| ≥ threshold (DefaultProxyThreshold = 0.5)
// flags x as a proxy. r is NaN (never flagged) when either variable is
// constant or n < 2. The one-pass formula loses precision when |mean| ≫ sd;
// centre or standardise features with a shared reference before summing if
// that is the case.
//
// # Errors
//
// Bad input (labels other than 0/1, scores outside [0, 1], NaN, negative
// counts, unknown groups, bad thresholds) returns an *InputError wrapping
// ErrInvalidInput; a vector of the wrong length returns a *DimensionError
// wrapping ErrDimension. Summed counts in [−1e-6, 0) are read as 0 to absorb
// fixed-point rounding.
package fairness
