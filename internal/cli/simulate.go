package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/internal/progress"
	"github.com/cohortfl/cohort/internal/runout"
	"github.com/cohortfl/cohort/internal/sim"
	"github.com/cohortfl/cohort/registry"
)

// SimulateOptions are the flags of `cohort simulate`.
type SimulateOptions struct {
	IO     *IO
	Config sim.Config
	Hidden string
	DP     []string
	Policy string
	Prot   string
	Fav    int
	Out    string
	Output string
	cmd    *cobra.Command
}

func newCmdSimulate(ios *IO) *cobra.Command {
	o := &SimulateOptions{IO: ios, Config: sim.DefaultConfig()}
	c := &o.Config
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run a reproducible federated simulation on one machine",
		Long: `Run a federated simulation: the real coordinator engine, SQLite store and
aggregation strategies drive in-process sites (or, with --transport grpc, sites
speaking real gRPC with mutual TLS on 127.0.0.1).

The summary compares the federated model with a centralised baseline (the same
model trained on the pooled training rows for rounds × local epochs) on the same
held-out test set. With no flags it runs hmda, 5 sites, Dirichlet(0.5) label
skew, 20 rounds of FedAvg logistic regression.`,
		Example: `  cohort simulate
  cohort simulate --dataset fertility --clients 100 --rounds 10 --partition dirichlet:0.5
  cohort simulate --data my.csv --label outcome --positive yes --out results/ --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.cmd = cmd
			if !cmd.Flags().Changed("dataset") && cmd.Flags().Changed("data") {
				c.Dataset = ""
			}
			return simulateRun(o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Dataset, "dataset", c.Dataset, "embedded dataset (see: cohort datasets list)")
	f.StringVar(&c.DataPath, "data", "", "CSV file to use instead of an embedded dataset")
	f.StringVar(&c.Label, "label", "", "label column (required with --data)")
	f.StringVar(&c.Positive, "positive", "", "label value of the positive class (with --data; default: the lexically larger of two values)")
	f.IntVar(&c.Clients, "clients", c.Clients, "number of simulated sites")
	f.IntVar(&c.Rounds, "rounds", c.Rounds, "federated rounds")
	f.StringVar(&c.Partition, "partition", c.Partition, "how rows are split among sites: iid, dirichlet:ALPHA, quantity:ALPHA or column:NAME")
	f.StringVar(&c.Model, "model", c.Model, "learner: logreg, softmax or mlp")
	f.StringVar(&o.Hidden, "hidden", "32", "MLP hidden layer sizes, comma separated")
	f.StringVar(&c.Strategy, "strategy", c.Strategy, "aggregation: fedavg, fedprox, fedadam, fedyogi, fedadagrad, median, trimmedmean, krum")
	f.Uint64Var(&c.Seed, "seed", c.Seed, "seed for splits, partitions, initialisation, sampling and training")
	f.StringVar(&c.Transport, "transport", c.Transport, "inproc, or grpc for real gRPC with mTLS on loopback")
	f.Float64Var(&c.FractionFit, "fraction-fit", c.FractionFit, "fraction of sites selected per round")
	f.IntVar(&c.MinClients, "min-clients", c.MinClients, "minimum results for a round to commit")
	f.IntVar(&c.LocalEpochs, "local-epochs", c.LocalEpochs, "local epochs per round")
	f.IntVar(&c.BatchSize, "batch-size", c.BatchSize, "local minibatch size")
	f.Float64Var(&c.LearningRate, "lr", c.LearningRate, "local learning rate")
	f.StringVar(&c.Optimizer, "optimizer", c.Optimizer, "local optimiser: sgd or adam")
	f.Float64Var(&c.L2, "l2", c.L2, "L2 penalty")
	f.Float64Var(&c.ProximalMu, "proximal-mu", 0, "FedProx μ (strategy fedprox)")
	f.StringVar(&c.Secure, "secure", c.Secure, "how site results are summed: none, or he (threshold homomorphic encryption: the coordinator sees only sums)")
	f.IntVar(&c.Threshold, "threshold", 0, "with --secure he: sites needed to decrypt a sum (default: a majority)")
	f.StringArrayVar(&o.DP, "dp", nil, "differential privacy, repeatable: client:epsilon=E,delta=D,clip=C|adaptive[,mode=central|distributed][,q=Q] and/or record:epsilon=E,delta=D,clip=C[,q=Q] (see docs/differential-privacy.md)")
	f.StringVar(&o.Prot, "protected", "", "protected attributes audited and reweighed, comma separated; a numeric column needs a cut: afam or Age<=25 (default with --fairness: none)")
	f.StringVar(&c.Fairness, "fairness", c.Fairness, "off, audit (federated per-group audit of every evaluation and of the candidate) or reweigh (audit, and train with federated Kamiran-Calders weights)")
	f.IntVar(&o.Fav, "favorable", -1, "label class (0 or 1) that is the favourable outcome for fairness audits (default: the dataset's; 1 for CSV files)")
	f.BoolVar(&c.ExcludeProtected, "exclude-protected", false, "keep the protected attributes out of the model's features (they are still used for audits and reweighing)")
	f.Float64Var(&c.CountNoise, "count-noise", 0, "Gaussian σ added to the summed reweighing counts n(g,y) (recorded in the privacy ledger)")
	f.IntVar(&c.ExplainRows, "explain-rows", c.ExplainRows, "held-out rows each site explains for the candidate's global SHAP importance (0: none)")
	f.StringVar(&o.Policy, "policy", "", "publish-gate policy file (YAML; see docs/fairness.md): a candidate that fails is not published")
	f.StringVar(&o.Out, "out", "", "directory for metrics.csv, metrics.json, metrics.png, result.json and the SQLite state")
	f.StringVar(&o.Output, "output", "text", "text or json (one JSON object on stdout)")
	return cmd
}

func parseHidden(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("--hidden %q: want positive integers separated by commas", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func simulateRun(o *SimulateOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.Config.Model == "mlp" {
		h, err := parseHidden(o.Hidden)
		if err != nil {
			return err
		}
		o.Config.Hidden = h
	}
	dp, err := parseDP(o.DP)
	if err != nil {
		return err
	}
	o.Config.DP = dp
	if err := o.applyFairnessFlags(); err != nil {
		return err
	}
	if err := o.Config.Validate(); err != nil {
		return err
	}
	log, err := logger(o.cmd, o.IO.Err, "warn")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var dbPath string
	if o.Out != "" {
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		dbPath = filepath.Join(o.Out, "cohort.db")
		_ = os.Remove(dbPath) // each simulation starts a fresh state file
	}
	// An ephemeral coordinator key signs the published model; with --out
	// its public half, the simulation CA and the artifact are written there
	// so that `cohort models verify` can check them.
	signer, err := registry.GenerateSigner(nil, false)
	if err != nil {
		return err
	}
	bar := progress.New(o.IO.Err, o.Config.Rounds, "rounds", true)
	var rounds []runout.RoundMetrics
	res, err := sim.Run(ctx, o.Config, sim.Options{DBPath: dbPath, Logger: log, Signer: signer,
		OnRound: func(r coordinator.RoundReport) {
			rounds = append(rounds, roundMetrics(r))
			desc := fmt.Sprintf("round %d acc %.3f", r.Round, r.Metrics["eval_accuracy"])
			if eps, ok := r.Metrics["epsilon_client"]; ok {
				desc += fmt.Sprintf(" ε(client) %.3f", eps)
			}
			if eps, ok := r.Metrics["epsilon_record_max"]; ok {
				desc += fmt.Sprintf(" ε(record, max site) %.3f", eps)
			}
			bar.Describe(desc)
			bar.Add(1)
		}})
	bar.Finish()
	if err != nil {
		return err
	}
	if o.Out != "" {
		if err := runout.WriteAll(o.Out, rounds, fmt.Sprintf("%s · %d sites · %s", o.Config.Dataset+o.Config.DataPath, res.Sites, o.Config.Strategy)); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(o.Out, "result.json"))
		if err != nil {
			return err
		}
		if err := writeJSON(f, res); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := writeSimArtifacts(o.Out, signer, res); err != nil {
			return err
		}
	}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, res)
	}
	return printSimSummary(o, res)
}

func roundMetrics(r coordinator.RoundReport) runout.RoundMetrics {
	get := func(k string) float64 {
		if v, ok := r.Metrics[k]; ok {
			return v
		}
		return math.NaN()
	}
	return runout.RoundMetrics{Round: r.Round, Clients: r.Accepted, TrainLoss: get("train_loss"), EvalLoss: get("eval_loss"),
		EvalAccuracy: get("eval_accuracy"), EvalAUC: get("eval_auc"), Epsilon: epsilonOf(r.Metrics), DurationSeconds: r.Duration.Seconds()}
}

// epsilonOf is the ε a round report shows: client-level if present, else the
// largest site's record-level ε, else NaN (no DP).
func epsilonOf(m map[string]float64) float64 {
	if v, ok := m["epsilon_client"]; ok {
		return v
	}
	if v, ok := m["epsilon_record_max"]; ok {
		return v
	}
	return math.NaN()
}

func printSimSummary(o *SimulateOptions, r sim.Result) error {
	c := r.Settings
	name := c.Dataset
	if name == "" {
		name = c.DataPath
	}
	fmt.Fprintf(o.IO.Out, "\n%s: %d sites (%s), %d/%d rounds of %s %s, seed %d, %s transport, %.1fs\n",
		name, r.Sites, c.Partition, r.RoundsRun, c.Rounds, c.Strategy, c.Model, c.Seed, c.Transport, r.Seconds)
	fmt.Fprintf(o.IO.Out, "train rows %d, test rows %d (held out), %d features\n\n", r.TrainRows, r.TestRows, r.Features)
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	di := func(s sim.Scores) string {
		if s.DisparateImpact == nil {
			return "-"
		}
		return fmt.Sprintf("%.3f", *s.DisparateImpact)
	}
	if r.Protected != "" {
		fmt.Fprintf(tw, "model\taccuracy\tAUC\tloss\tdisparate impact (%s)\n", r.Protected)
	} else {
		fmt.Fprintln(tw, "model\taccuracy\tAUC\tloss\tdisparate impact")
	}
	fmt.Fprintf(tw, "federated\t%.4f\t%.4f\t%.4f\t%s\n", r.Federated.Accuracy, r.Federated.AUC, r.Federated.Loss, di(r.Federated))
	fmt.Fprintf(tw, "centralised\t%.4f\t%.4f\t%.4f\t%s\n", r.Centralized.Accuracy, r.Centralized.AUC, r.Centralized.Loss, di(r.Centralized))
	fmt.Fprintf(tw, "difference\t%+.4f\t%+.4f\t%+.4f\n", r.Federated.Accuracy-r.Centralized.Accuracy,
		r.Federated.AUC-r.Centralized.AUC, r.Federated.Loss-r.Centralized.Loss)
	if err := tw.Flush(); err != nil {
		return err
	}
	for level, eps := range r.Epsilon {
		fmt.Fprintf(o.IO.Out, "privacy spent: ε = %.4f (%s level)\n", eps, level)
	}
	if err := printFairness(o.IO.Out, r); err != nil {
		return err
	}
	if o.Out != "" {
		signed := ""
		if r.Artifact != nil {
			signed = "model.cohort.json,"
		}
		fmt.Fprintf(o.IO.Out, "\nwrote %s/{metrics.csv,metrics.json,metrics.png,result.json,cohort.db,%sca.pem,coordinator-signing.pub}\n", o.Out, signed)
	}
	return nil
}
