package sim

import (
	"errors"
	"fmt"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/gate"

	"github.com/cohortfl/cohort/dataset"
)

// Config describes one simulation. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	Dataset   string `json:"dataset,omitempty"`  // embedded dataset name
	DataPath  string `json:"data,omitempty"`     // or a CSV file
	Label     string `json:"label,omitempty"`    // label column (CSV, or override)
	Positive  string `json:"positive,omitempty"` // positive class value (CSV)
	Clients   int    `json:"clients"`            // simulated sites (ignored by column partitions)
	Rounds    int    `json:"rounds"`             //
	Partition string `json:"partition"`          // iid, dirichlet:A, quantity:A, column:NAME
	Model     string `json:"model"`              // logreg, softmax, mlp
	Hidden    []int  `json:"hidden,omitempty"`   // mlp hidden sizes
	Strategy  string `json:"strategy"`           // fedavg, fedprox, fedadam, ...
	Seed      uint64 `json:"seed"`               //
	Transport string `json:"transport"`          // inproc or grpc

	FractionFit  float64 `json:"fraction_fit"`
	MinClients   int     `json:"min_clients"`
	LocalEpochs  int     `json:"local_epochs"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"`
	Optimizer    string  `json:"optimizer"`
	L2           float64 `json:"l2"`
	ProximalMu   float64 `json:"proximal_mu,omitempty"`

	Secure    string `json:"secure"`              // none or he
	Threshold int    `json:"threshold,omitempty"` // t of t-of-n decryption (he); 0 = majority

	DP *coordinator.DPConfig `json:"dp,omitempty"` // differential privacy

	// Fairness: protected attributes ("afam", "Age<=25"), the mode (off,
	// audit or reweigh), the favourable label (nil: the dataset's), whether
	// protected columns are kept out of the features, Gaussian noise on the
	// reweighing counts, rows each site explains, and the publish gate.
	Protected        []string     `json:"protected,omitempty"`
	Fairness         string       `json:"fairness"`
	Favorable        *int         `json:"favorable,omitempty"`
	ExcludeProtected bool         `json:"exclude_protected,omitempty"`
	CountNoise       float64      `json:"count_noise,omitempty"`
	ExplainRows      int          `json:"explain_rows"`
	Policy           *gate.Policy `json:"policy,omitempty"`

	TestFraction float64 `json:"test_fraction"` // global held-out test set
	EvalFraction float64 `json:"eval_fraction"` // each site's local held-out share
}

// DefaultConfig is what `cohort simulate` runs with no flags.
func DefaultConfig() Config {
	return Config{
		Dataset: "hmda", Clients: 5, Rounds: 20, Partition: "dirichlet:0.5", Model: "logreg",
		Strategy: "fedavg", Seed: 1, Transport: "inproc", FractionFit: 1, MinClients: 2,
		LocalEpochs: 1, BatchSize: 32, LearningRate: 0.1, Optimizer: "sgd",
		TestFraction: 0.2, EvalFraction: 0.2, Secure: "none", Fairness: "off", ExplainRows: 100,
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	switch {
	case c.Dataset == "" && c.DataPath == "":
		bad("give --dataset NAME or --data FILE.csv")
	case c.Dataset != "" && c.DataPath != "":
		bad("give either --dataset or --data, not both")
	case c.DataPath != "" && c.Label == "":
		bad("--data needs --label (the label column)")
	}
	if c.Clients < 1 {
		bad("--clients = %d, want at least 1", c.Clients)
	}
	if c.Rounds < 1 {
		bad("--rounds = %d, want at least 1", c.Rounds)
	}
	if _, err := dataset.ParsePartitionSpec(c.Partition); err != nil {
		bad("--partition: %w", err)
	}
	switch c.Transport {
	case "inproc", "grpc":
	default:
		bad("--transport %q is unknown (want inproc or grpc)", c.Transport)
	}
	switch c.Secure {
	case "none", "he":
	default:
		bad("--secure %q is unknown (want none or he)", c.Secure)
	}
	switch c.Fairness {
	case "", "off":
	case "audit", "reweigh":
		if len(c.Protected) == 0 {
			bad("--fairness %s needs --protected COL[,COL]", c.Fairness)
		}
	default:
		bad("--fairness %q is unknown (want off, audit or reweigh)", c.Fairness)
	}
	if c.Favorable != nil && *c.Favorable != 0 && *c.Favorable != 1 {
		bad("--favorable = %d, want 0 or 1", *c.Favorable)
	}
	if c.CountNoise < 0 {
		bad("--count-noise = %v, want >= 0", c.CountNoise)
	}
	if c.ExplainRows < 0 {
		bad("--explain-rows = %d, want >= 0", c.ExplainRows)
	}
	if !(c.TestFraction > 0 && c.TestFraction < 1) {
		bad("test fraction %v outside (0, 1)", c.TestFraction)
	}
	if !(c.EvalFraction >= 0 && c.EvalFraction < 1) {
		bad("eval fraction %v outside [0, 1)", c.EvalFraction)
	}
	if len(errs) > 0 {
		return fmt.Errorf("simulate: %w", errors.Join(errs...))
	}
	return nil
}
