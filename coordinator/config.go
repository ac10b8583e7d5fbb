package coordinator

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/gate"
)

// Failure policies for a round that ends with fewer than MinClients results.
const (
	OnFailureRetry = "retry" // run the same round again, up to MaxRetries times
	OnFailureStop  = "stop"  // end the run with an error
)

// RunConfig is the complete, JSON-serialisable description of a run. It is
// stored with the run so that a restarted coordinator resumes with exactly the
// settings it started with. Build one with DefaultRunConfig and change fields,
// then call Validate (NewRun does).
type RunConfig struct {
	RunID string `json:"run_id"`

	// Model is the learner every site trains: "logreg", "softmax" or "mlp".
	Model string `json:"model"`
	// ModelName names the model in the registry (default "cohort-" + Model);
	// versions of one name form a lineage.
	ModelName string `json:"model_name,omitempty"`
	Hidden    []int  `json:"hidden,omitempty"`
	Classes   int    `json:"classes"`
	// Features is the model's input dimension. 0 means "learn it from the
	// statistics phase" (the length of the sites' feature moments ÷ 3).
	Features int `json:"features,omitempty"`
	// FeatureMoments is filled in by the statistics phase: the federated sums
	// (count, Σx, Σx²) per feature that sites standardise with. Not an input.
	FeatureMoments []float64 `json:"feature_moments,omitempty"`

	// Strategy names an aggregation strategy (see aggregation.New) and its options.
	Strategy        string              `json:"strategy"`
	StrategyOptions aggregation.Options `json:"strategy_options"`

	Rounds int `json:"rounds"`
	// FractionFit of the connected sites is selected each round, but never
	// fewer than MinClients.
	FractionFit float64 `json:"fraction_fit"`
	MinClients  int     `json:"min_clients"`
	// RoundTimeout is the per-round deadline for results.
	RoundTimeout Duration `json:"round_timeout"`
	// WaitForClients bounds how long a round waits for MinClients sites to be
	// connected before it fails.
	WaitForClients Duration `json:"wait_for_clients"`
	// StartSites is how many connected sites a new run waits for (up to
	// WaitForClients) before its key ceremony and statistics phase, so that
	// every expected site takes part in them. 0 means MinClients.
	StartSites int    `json:"start_sites,omitempty"`
	OnFailure  string `json:"on_failure"`
	MaxRetries int    `json:"max_retries"`

	// Local training, sent to every site with the fit task.
	LocalEpochs  int     `json:"local_epochs"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"`
	Optimizer    string  `json:"optimizer"`
	L2           float64 `json:"l2"`

	// Stop criteria: stop early when the federated evaluation accuracy reaches
	// TargetAccuracy (0 disables), or when it has not improved by MinDelta for
	// Patience rounds (0 disables).
	TargetAccuracy float64 `json:"target_accuracy,omitempty"`
	Patience       int     `json:"patience,omitempty"`
	MinDelta       float64 `json:"min_delta,omitempty"`

	// Standardize asks sites for feature moments before round 1 and has every
	// site standardise with the federated mean and variance.
	Standardize bool `json:"standardize"`

	// Seed makes cohort selection and model initialisation reproducible.
	Seed uint64 `json:"seed"`

	// Secure selects how results are summed: SecureNone (in the clear) or
	// SecureHE (threshold homomorphic encryption; the coordinator learns only
	// sums). Threshold is t, the number of sites needed to decrypt a sum.
	// ClipBound bounds every coordinate a site contributes (n·Δ, counts); an
	// update beyond it is refused at the site, so the sum cannot overflow.
	Secure    string  `json:"secure"`
	Threshold int     `json:"threshold,omitempty"`
	ClipBound float64 `json:"clip_bound,omitempty"`

	// DP configures client-level and record-level differential privacy.
	DP *DPConfig `json:"dp,omitempty"`

	// Fairness configures protected attributes, the federated fairness audit
	// and reweighing (nil or mode off: none).
	Fairness *FairnessConfig `json:"fairness,omitempty"`
	// ExplainRows is how many held-out records each site explains for the
	// candidate's federated global importance (0: no explanation).
	ExplainRows int `json:"explain_rows,omitempty"`
	// FeatureNames name the model's input features, for explanations and
	// the proxy check (optional; x0, x1, ... otherwise).
	FeatureNames []string `json:"feature_names,omitempty"`
	// Policy is the publish gate the final candidate must pass (nil: no
	// checks; the decision is still recorded).
	Policy *gate.Policy `json:"policy,omitempty"`

	// SecAgg is filled in by the key ceremony (not an input): the epoch's
	// members, parameters and collective public key, so a restarted
	// coordinator continues with the same keys.
	SecAgg *EpochRecord `json:"secagg,omitempty"`
}

// Secure aggregation modes.
const (
	SecureNone = "none"
	SecureHE   = "he"
)

// DefaultClipBound is 2^20: with up to 1,024 sites the secure sum's scale
// still leaves about 2^-37 absolute precision (see docs/secure-aggregation.md).
const DefaultClipBound = 1 << 20

// Duration is a time.Duration that reads and writes JSON as a Go duration string.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// DefaultRunConfig returns the settings `cohort simulate` uses with no flags.
func DefaultRunConfig() RunConfig {
	return RunConfig{
		Model:           "logreg",
		Classes:         2,
		Strategy:        "fedavg",
		StrategyOptions: aggregation.DefaultOptions(),
		Rounds:          20,
		FractionFit:     1,
		MinClients:      2,
		RoundTimeout:    Duration(60 * time.Second),
		WaitForClients:  Duration(30 * time.Second),
		OnFailure:       OnFailureRetry,
		MaxRetries:      3,
		LocalEpochs:     1,
		BatchSize:       32,
		LearningRate:    0.1,
		Optimizer:       "sgd",
		Standardize:     true,
		Seed:            1,
		Secure:          SecureNone,
		ClipBound:       DefaultClipBound,
	}
}

// Validate reports every problem with c at once.
func (c RunConfig) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.RunID == "" || strings.ContainsAny(c.RunID, " /\\\t\n") {
		bad("run_id %q must be non-empty and contain no spaces or slashes", c.RunID)
	}
	switch c.Model {
	case "logreg", "softmax", "mlp":
	default:
		bad("model %q is unknown (want logreg, softmax or mlp)", c.Model)
	}
	if c.Classes < 2 {
		bad("classes = %d, want at least 2", c.Classes)
	}
	if c.Features < 0 {
		bad("features = %d, want >= 0 (0: learn from the statistics phase)", c.Features)
	}
	if c.Rounds < 1 {
		bad("rounds = %d, want at least 1", c.Rounds)
	}
	if !(c.FractionFit > 0 && c.FractionFit <= 1) {
		bad("fraction_fit = %v, want a value in (0, 1]", c.FractionFit)
	}
	if c.MinClients < 1 {
		bad("min_clients = %d, want at least 1", c.MinClients)
	}
	if c.RoundTimeout <= 0 {
		bad("round_timeout = %v, want a positive duration", time.Duration(c.RoundTimeout))
	}
	if c.WaitForClients < 0 {
		bad("wait_for_clients = %v, want a non-negative duration", time.Duration(c.WaitForClients))
	}
	switch c.OnFailure {
	case OnFailureRetry, OnFailureStop:
	default:
		bad("on_failure %q is unknown (want retry or stop)", c.OnFailure)
	}
	if c.StartSites < 0 {
		bad("start_sites = %d, want >= 0", c.StartSites)
	}
	if c.MaxRetries < 0 {
		bad("max_retries = %d, want >= 0", c.MaxRetries)
	}
	if c.LocalEpochs < 1 {
		bad("local_epochs = %d, want at least 1", c.LocalEpochs)
	}
	if c.BatchSize < 1 {
		bad("batch_size = %d, want at least 1", c.BatchSize)
	}
	if !(c.LearningRate > 0) {
		bad("learning_rate = %v, want > 0", c.LearningRate)
	}
	switch c.Optimizer {
	case "sgd", "adam":
	default:
		bad("optimizer %q is unknown (want sgd or adam)", c.Optimizer)
	}
	if c.L2 < 0 {
		bad("l2 = %v, want >= 0", c.L2)
	}
	if c.TargetAccuracy < 0 || c.TargetAccuracy > 1 {
		bad("target_accuracy = %v, want a value in [0, 1]", c.TargetAccuracy)
	}
	if c.Patience < 0 {
		bad("patience = %d, want >= 0", c.Patience)
	}
	strat, err := aggregation.New(c.Strategy, c.StrategyOptions)
	if err != nil {
		bad("strategy: %w", err)
	}
	c.DP.validate(c, bad)
	c.Fairness.validate(c, bad)
	if c.ExplainRows < 0 {
		bad("explain_rows = %d, want >= 0", c.ExplainRows)
	}
	if c.ExplainRows > 0 && c.Classes != 2 {
		bad("explain_rows needs a binary model (classes = 2), got classes = %d", c.Classes)
	}
	if c.ExplainRows > 0 && !c.Standardize {
		bad("explain_rows needs standardize = true: the shared background is the federated feature mean, which standardisation makes the zero vector")
	}
	if len(c.FeatureNames) > 0 && c.Features > 0 && len(c.FeatureNames) != c.Features {
		bad("feature_names has %d names for %d features", len(c.FeatureNames), c.Features)
	}
	if c.Policy != nil {
		if err := c.Policy.Validate(); err != nil {
			bad("policy: %w", err)
		}
	}
	if c.DP != nil && c.DP.Client != nil {
		if _, ok := strat.(aggregation.MeanStrategy); strat != nil && !ok {
			bad("strategy %q cannot run with client-level DP, which needs the sum of clipped updates", c.Strategy)
		}
	}
	switch c.Secure {
	case SecureNone, "":
	case SecureHE:
		if _, ok := strat.(aggregation.MeanStrategy); strat != nil && !ok {
			bad("strategy %q needs every update in the clear and cannot run with secure=he (use fedavg, fedprox, fedadam, fedyogi or fedadagrad)", c.Strategy)
		}
		if c.Threshold < 2 {
			bad("threshold = %d: secure=he needs a decryption threshold t >= 2", c.Threshold)
		}
		if c.MinClients < 2 {
			bad("min_clients = %d: secure=he never decrypts a sum of fewer than 2 contributions", c.MinClients)
		}
		if !(c.ClipBound >= 1 && c.ClipBound <= 1<<30) {
			bad("clip_bound = %v, want a value in [1, 2^30]", c.ClipBound)
		}
	default:
		bad("secure %q is unknown (want none or he)", c.Secure)
	}
	if len(errs) > 0 {
		return fmt.Errorf("coordinator: invalid run config: %w", errors.Join(errs...))
	}
	return nil
}
