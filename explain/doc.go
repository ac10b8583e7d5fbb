// Package explain attributes model predictions to input features: exact
// linear SHAP, KernelSHAP for any model, permutation importance, per-decision
// reason codes, and summable per-site aggregates for federated global
// importance. It is pure computation: no I/O, no global state, randomness
// only from the *rand.Rand the caller passes.
//
// # Value functions (which scale is explained)
//
// An explanation decomposes a scalar value function f of one feature row
// (ValueFunc). Two are provided and each method states which it uses:
//
//   - LogitFunc: the linear score of a class for logreg (w·x + b for class 1,
//     its negation for class 0) and softmax (w_k·x + b_k). LinearSHAP always
//     explains this logit scale, where it is exact.
//   - ProbaFunc: f(x) = P(class | x) for any model. This is the default for
//     KernelSHAP and for reason codes on MLPs.
//
// The two scales are not interchangeable: SHAP values of σ(z) are not σ of
// SHAP values of z. Explanations that are compared or aggregated must use the
// same value function.
//
// # Methods
//
// LinearSHAP returns φ_i = w_i·(x_i − E[x_i]) for the logit of one class, with
// Base = f(E[x]) and Value = f(x), so Σφ = f(x) − f(E[x]) exactly. It needs
// only the background mean (BackgroundMean, or the federated global mean from
// a secure sum of column sums and counts).
//
// Kernel computes interventional KernelSHAP against a background set: a
// "missing" feature takes its value from each background row in turn and f
// is averaged over the rows, v(S) = mean_b f(x_S, bg_b,S̄). The attributions
// solve the Shapley-kernel weighted least squares under the constraint
// Σφ = f(x) − E[f(background)], imposed exactly by substitution, so
// efficiency holds to rounding in both modes:
//
//   - M ≤ KernelConfig.MaxExact (default 12): all 2^M coalitions; the result
//     is the exact Shapley value of the game (tested against the M!
//     permutation formula).
//   - otherwise: KernelConfig.Samples coalitions drawn from the kernel
//     distribution in complementary pairs. Explanation.StdErr is a batch-means
//     standard error: the samples form Batches independent batches, each is
//     solved on its own, and SE_i = sd_b(φ_i^(b))/√B. The reported Phi is the
//     solution on all samples (less small-sample bias than the batch mean).
//     Sampling is with replacement and no coalition is deduplicated or
//     enumerated exhaustively by size, unlike the Python shap package.
//
// Cost: one Explain calls f (coalitions) × (background rows) times; keep the
// background small.
//
// PermutationImportance shuffles one column at a time on a labelled
// model.Examples and reports the mean and standard deviation over repeats of
// the accuracy drop or the log-loss increase.
//
// # Reason codes
//
// ReasonCodes(phi, names, k, adverseIsPositive) lists up to k features pushing
// the score toward the adverse outcome, strongest first: the largest positive
// φ when a higher score is adverse (for example P(default)), the most negative
// φ otherwise. TopFeatures ranks by |φ| in either direction.
//
// # Federated global importance
//
// Each site explains a sample of its own rows against a shared background
// and accumulates the attributions into an Aggregate: per feature Σ|φ| and Σφ,
// overall and per protected group, with row counts. Aggregate.Encode gives a
// flat []float64 with a fixed layout (see Aggregate), so the coordinator sums
// the sites' vectors through the secure sum and never sees one site's sums;
// DecodeAggregate and Global turn the total into mean |φ| (global importance)
// and mean φ per feature, overall and per group.
//
//	agg, _ := explain.NewAggregate(d, groups)
//	for i, x := range rows {
//		e, err := kernel.Explain(x, rng)
//		...
//		agg.Add(e.Phi, group[i])
//	}
//	vec := agg.Encode() // → secure sum → summed vector at the coordinator
//	total, _ := explain.DecodeAggregate(summed, d, groups)
//	imp := total.Global().MeanAbs
//
// # Errors and concurrency
//
// Every error wraps one of ErrInvalidInput, ErrInvalidConfig, ErrNotLinear or
// ErrNumerical (model validation errors from PermutationImportance also wrap
// the model package's sentinels). Bad input is reported, never panicked on.
// Kernel values are immutable and Explain may run concurrently when the
// ValueFunc allows it; an Aggregate is a plain accumulator for one goroutine.
package explain
