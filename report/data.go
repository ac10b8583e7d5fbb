package report

import "time"

// Data is everything one report shows about one training run. It is plain
// data: the caller fills it (the coordinator and the CLI from the store) and
// Render only reads it. The JSON encoding of Data (snake_case keys, see
// [Float] for non-finite numbers) is the report's stable machine-readable
// form.
//
// Slices are rendered in the order given. A nil pointer section (Privacy,
// Fairness, Explanations) means the feature was not enabled for the run and
// is rendered as a one-line note; in JSON it is null. Nil slices are encoded
// as [] and nil maps as {}.
type Data struct {
	// GeneratedAt is when the report was produced; zero leaves it out.
	// Render never reads the clock, so the same Data renders the same bytes.
	GeneratedAt time.Time `json:"generated_at"`

	Summary       Summary        `json:"summary"`
	Rounds        []Round        `json:"rounds"`
	Participation []Site         `json:"participation"`
	Privacy       *Privacy       `json:"privacy"`
	Fairness      *Fairness      `json:"fairness"`
	Gate          []GateDecision `json:"gate"`
	Explanations  *Explanations  `json:"explanations"`
	Lineage       []Version      `json:"lineage"`
	Verification  Verification   `json:"verification"`
}

// Summary identifies the run and how it was configured.
type Summary struct {
	RunID     string    `json:"run_id"`
	State     string    `json:"state"`           // "running", "completed", "failed", "stopped"
	Error     string    `json:"error,omitempty"` // why the run failed or stopped
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	Dataset     string `json:"dataset"`      // name, e.g. "heart"
	DatasetHash string `json:"dataset_hash"` // hex digest of the data description
	SchemaHash  string `json:"schema_hash"`  // hex digest of the schema

	Model    string `json:"model"`    // e.g. "logreg", "mlp(16)"
	Strategy string `json:"strategy"` // e.g. "fedavg", "fedprox(mu=0.01)"

	RoundsCompleted int `json:"rounds_completed"`
	RoundsTotal     int `json:"rounds_total"`

	SecureAggregation SecureAggregation `json:"secure_aggregation"`
	// DPMode is the differential privacy mode: "none", "central",
	// "distributed" or "dpsgd" (record level inside each site).
	DPMode string `json:"dp_mode"`
}

// Secure aggregation modes.
const (
	SecAggNone = "none"
	SecAggHE   = "he" // threshold homomorphic encryption, Threshold of Parties
)

// SecureAggregation is how updates were summed.
type SecureAggregation struct {
	Mode      string `json:"mode"`      // SecAggNone or SecAggHE
	Threshold int    `json:"threshold"` // t: sites needed to decrypt (HE only)
	Parties   int    `json:"parties"`   // n: sites holding key shares (HE only)
}

// Round statuses, as in the coordinator store.
const (
	RoundCommitted = "committed"
	RoundFailed    = "failed"
)

// Well-known per-round metric keys. Round.Metrics may hold others; they are
// shown after these, sorted by name.
const (
	MetricEvalAccuracy = "eval_accuracy"
	MetricEvalAUC      = "eval_auc"
	MetricEvalLoss     = "eval_loss"
	MetricTrainLoss    = "train_loss"
	MetricEpsilon      = "epsilon"
)

// Round is one attempt at one round.
type Round struct {
	Round    int           `json:"round"`   // from 1
	Attempt  int           `json:"attempt"` // retries of the same round, from 0
	Status   string        `json:"status"`  // RoundCommitted or RoundFailed
	Reason   string        `json:"reason,omitempty"`
	Accepted int           `json:"accepted"` // participants whose update was aggregated
	Selected int           `json:"selected"` // participants selected for the round
	Duration time.Duration `json:"duration_ns"`
	// Metrics are keyed by metric name (see MetricEvalAccuracy ...).
	Metrics map[string]Float `json:"metrics"`
}

// Site is one site's participation over the whole run.
type Site struct {
	Name     string `json:"name"`
	Rounds   int    `json:"rounds"`   // committed rounds it contributed to
	Examples int64  `json:"examples"` // training examples it reported
}

// Privacy is the differential privacy accounting of the run.
type Privacy struct {
	Accountant string `json:"accountant"` // "rdp" or "pld"
	Delta      Float  `json:"delta"`
	// EpsilonBudget is the run's ε budget; NaN if none was set.
	EpsilonBudget Float `json:"epsilon_budget"`
	// Epsilon is the cumulative ε spent after each committed round.
	Epsilon []RoundValue  `json:"epsilon"`
	Ledger  []LedgerEntry `json:"ledger"`
}

// RoundValue is one value of a per-round series.
type RoundValue struct {
	Round int   `json:"round"`
	Value Float `json:"value"`
}

// LedgerEntry is one noisy release in the privacy ledger.
type LedgerEntry struct {
	Party        string `json:"party"` // "*clients" for client-level releases, or a site
	Round        int    `json:"round"`
	Attempt      int    `json:"attempt"`
	Purpose      string `json:"purpose"`   // "update", "clip_count", "dpsgd", ...
	Mechanism    string `json:"mechanism"` // e.g. "subsampled_gaussian"
	Sigma        Float  `json:"sigma"`     // noise multiplier
	Q            Float  `json:"q"`         // sampling rate
	Steps        int    `json:"steps"`
	EpsilonAfter Float  `json:"epsilon_after"` // the party's cumulative ε after this entry
	Status       string `json:"status"`        // "pending" or "released"
}

// Fairness metric names, used by Threshold.Metric.
const (
	MetricDisparateImpact             = "disparate_impact"
	MetricStatisticalParityDifference = "statistical_parity_difference"
	MetricEqualOpportunityDifference  = "equal_opportunity_difference"
	MetricEqualizedOddsDifference     = "equalized_odds_difference"
	MetricAverageOddsDifference       = "average_odds_difference"
)

// Fairness is the fairness audit of the run.
type Fairness struct {
	// Thresholds are the policy's limits on the disparity metrics.
	Thresholds []Threshold `json:"thresholds"`
	// Rounds holds one entry per audited round and attribute family.
	Rounds []FairnessRound `json:"rounds"`
	// Groups are the per-group metrics of the final model.
	Groups []GroupMetrics `json:"groups"`
}

// Threshold is one policy limit: a value v of Metric passes if
// v Op Value holds, or |v| Op Value when Abs is set. A NaN value neither
// passes nor fails.
type Threshold struct {
	Metric string `json:"metric"` // MetricDisparateImpact, ...
	Op     string `json:"op"`     // ">=", ">", "<=", "<"
	Value  Float  `json:"value"`
	Abs    bool   `json:"abs"`
}

// FairnessRound are the disparities between the groups of one attribute
// family in one round (the fairness.Summary of that family).
type FairnessRound struct {
	Round  int    `json:"round"`
	Family string `json:"family"` // e.g. "sex", or "age&sex" for intersections

	DisparateImpact             Float `json:"disparate_impact"`
	StatisticalParityDifference Float `json:"statistical_parity_difference"`
	EqualOpportunityDifference  Float `json:"equal_opportunity_difference"`
	EqualizedOddsDifference     Float `json:"equalized_odds_difference"`
	AverageOddsDifference       Float `json:"average_odds_difference"`
}

// GroupMetrics are the rates of one protected group under the final model.
type GroupMetrics struct {
	Group         string `json:"group"`  // group key, e.g. "sex=F"
	Family        string `json:"family"` // e.g. "sex"
	N             Float  `json:"n"`      // (weighted) examples
	SelectionRate Float  `json:"selection_rate"`
	TPR           Float  `json:"tpr"`
	FPR           Float  `json:"fpr"`
	FNR           Float  `json:"fnr"`
	Accuracy      Float  `json:"accuracy"`
}

// GateDecision is the publication gate's decision on one candidate model.
type GateDecision struct {
	Candidate string      `json:"candidate"` // the version it would have been, e.g. "1.2.0"
	Round     int         `json:"round"`
	Passed    bool        `json:"passed"`
	Checks    []GateCheck `json:"checks"`
}

// GateCheck is one check of a gate decision: Value Op Threshold.
type GateCheck struct {
	Name      string `json:"name"` // e.g. "min_accuracy", "epsilon_budget", "disparate_impact[sex]"
	Value     Float  `json:"value"`
	Op        string `json:"op"`
	Threshold Float  `json:"threshold"`
	Passed    bool   `json:"passed"`
	Detail    string `json:"detail,omitempty"`
}

// Explanations are the federated SHAP importances of the final model.
type Explanations struct {
	Method string `json:"method"` // e.g. "linear_shap", "kernel_shap"
	// Global is the mean |SHAP| of each feature over all explained rows.
	Global []FeatureImportance `json:"global"`
	// Groups is the same per protected group.
	Groups []GroupImportance `json:"groups"`
}

// FeatureImportance is the mean |SHAP| of one feature.
type FeatureImportance struct {
	Feature     string `json:"feature"`
	MeanAbsSHAP Float  `json:"mean_abs_shap"`
}

// GroupImportance is the mean |SHAP| per feature within one group.
type GroupImportance struct {
	Group    string              `json:"group"` // group key, e.g. "sex=F"
	Features []FeatureImportance `json:"features"`
}

// Version is one published model version.
type Version struct {
	Version    string    `json:"version"` // semver, e.g. "1.2.0"
	Parent     string    `json:"parent"`  // semver of the parent, "" for the first
	RunID      string    `json:"run_id"`
	Round      int       `json:"round"`
	CreatedAt  time.Time `json:"created_at"`
	ParamsHash string    `json:"params_hash"` // hex SHA-256 of the parameters
}

// Verification is the result of re-checking the run's signatures and audit
// chain. Its verdict is derived from the checks (see Verdict) and is
// included in the JSON encoding as "verdict".
type Verification struct {
	Checks []VerificationCheck `json:"checks"`
}

// VerificationCheck is one verification step.
type VerificationCheck struct {
	Name   string `json:"name"` // e.g. "model 1.2.0 signature", "audit chain"
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Verdicts of a Verification.
const (
	VerdictVerified    = "verified"     // at least one check, all passed
	VerdictFailed      = "failed"       // at least one check failed
	VerdictNotVerified = "not verified" // no checks were run
)

// Verdict is VerdictFailed if any check failed, VerdictVerified if there is
// at least one check and all passed, and VerdictNotVerified otherwise.
func (v Verification) Verdict() string {
	if len(v.Checks) == 0 {
		return VerdictNotVerified
	}
	for _, c := range v.Checks {
		if !c.OK {
			return VerdictFailed
		}
	}
	return VerdictVerified
}
