package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/dataset"
	"github.com/cohortfl/cohort/internal/tlsconf"
	"github.com/cohortfl/cohort/model"
)

// ClientRunOptions are the flags of `cohort client run`.
type ClientRunOptions struct {
	IO            *IO
	Coordinator   string
	Cert, Key, CA string
	CRL           string
	ServerName    string
	Insecure      bool
	Name          string
	Data          string
	Dataset       string
	Label         string
	Positive      string
	Schema        string
	EvalFraction  float64
	Seed          uint64
	Shard         string
	ExitWhenDone  bool
	ExitAfterFit  int
	Policy        string
	cmd           *cobra.Command
}

func newCmdClient(ios *IO) *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Run a site that takes part in federated runs"}
	o := &ClientRunOptions{IO: ios}
	run := &cobra.Command{
		Use:   "run",
		Short: "Connect to a coordinator and train on this site's data",
		Long: `Dial out to the coordinator (the coordinator never dials a site), authenticate
with this site's certificate (it must have the site role: see cohort provision
site), and execute the tasks the coordinator sends:
feature statistics, local training and evaluation on held-out rows. The site
reconnects with backoff if the coordinator restarts.

The site's data is a CSV (--data, with --label) or an embedded dataset
(--dataset), optionally one shard of it (--shard I/N, an IID split), which is
how the walkthrough in docs/consortium.md gives three sites different rows.
Every site must encode features identically: pass the same --schema file
(written by 'cohort datasets show NAME --schema') at every site.`,
		Example: `  cohort client run --coordinator 127.0.0.1:7443 --dataset hmda --shard 1/3 \
    --cert pki/site-a/site-a.pem --key pki/site-a/site-a-key.pem --ca pki/site-a/ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { o.cmd = cmd; return clientRun(o) },
	}
	f := run.Flags()
	f.StringVar(&o.Coordinator, "coordinator", "127.0.0.1:7443", "coordinator address host:port")
	f.StringVar(&o.Cert, "cert", "", "this site's certificate (PEM); its subject common name is the site's identity")
	f.StringVar(&o.Key, "key", "", "this site's private key (PEM)")
	f.StringVar(&o.CA, "ca", "", "consortium CA certificate (PEM)")
	f.StringVar(&o.CRL, "crl", "", "optional revocation list (crl.pem) to check this site's and the coordinator's certificates against")
	f.StringVar(&o.ServerName, "server-name", "", "expected coordinator certificate name (default: the host of --coordinator)")
	f.BoolVar(&o.Insecure, "insecure", false, "no TLS; only for demos on a loopback address")
	f.StringVar(&o.Name, "name", "", "site name when --insecure (otherwise the certificate's common name)")
	f.StringVar(&o.Data, "data", "", "this site's CSV file")
	f.StringVar(&o.Dataset, "dataset", "", "an embedded dataset instead of --data")
	f.StringVar(&o.Label, "label", "", "label column (with --data)")
	f.StringVar(&o.Positive, "positive", "", "positive label value (with --data)")
	f.StringVar(&o.Schema, "schema", "", "JSON schema with fixed category levels, shared by all sites")
	f.Float64Var(&o.EvalFraction, "eval-fraction", 0.2, "share of local rows held out for federated evaluation")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the local eval split and of --shard")
	f.StringVar(&o.Shard, "shard", "", "use only shard I of N of the rows (I/N, 1-based), e.g. 2/3")
	f.BoolVar(&o.ExitWhenDone, "exit-when-done", false, "exit when the coordinator reports the run finished")
	f.StringVar(&o.Policy, "privacy-policy", "", "this site's own record-level budget, epsilon=E,delta=D: the site refuses rounds beyond it whatever the run asks")
	f.IntVar(&o.ExitAfterFit, "exit-after-fit", 0, "fault injection for tests: exit right after uploading the update of this round")
	_ = f.MarkHidden("exit-after-fit")
	cmd.AddCommand(run)
	return cmd
}

func clientRun(o *ClientRunOptions) error {
	log, err := logger(o.cmd, o.IO.Err, "info")
	if err != nil {
		return err
	}
	var tlsCfg *tls.Config
	if o.Insecure {
		if err := tlsconf.CheckLoopback(o.Coordinator); err != nil {
			return fmt.Errorf("--coordinator: %w", err)
		}
	} else {
		if o.Cert == "" || o.Key == "" || o.CA == "" {
			return fmt.Errorf("mTLS needs --cert, --key and --ca (or --insecure with a loopback --coordinator for a demo)")
		}
		opts := []tlsconf.Option{tlsconf.WithUse(tlsconf.UseSite)}
		if o.CRL != "" {
			crl, err := tlsconf.NewCRLChecker(o.CRL, o.CA)
			if err != nil {
				return fmt.Errorf("--crl: %w", err)
			}
			opts = append(opts, tlsconf.WithRevocationChecker(crl))
		}
		if tlsCfg, err = tlsconf.ClientConfig(o.Cert, o.Key, o.CA, o.ServerName, opts...); err != nil {
			return err
		}
	}
	train, eval, prot, err := loadSiteData(o)
	if err != nil {
		return err
	}
	tr, err := client.NewModelTrainer(train, eval)
	if err != nil {
		return err
	}
	if err := tr.SetProtected(prot[0], prot[1]); err != nil {
		return err
	}
	if o.Policy != "" {
		if tr.Policy, err = parsePolicy(o.Policy); err != nil {
			return err
		}
	}
	log.Info("site data loaded", "train_rows", train.N, "eval_rows", eval.N, "features", train.D)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return client.Run(ctx, client.Options{Address: o.Coordinator, TLS: tlsCfg, Insecure: o.Insecure, SiteName: o.Name,
		Trainer: tr, Logger: log, ExitWhenDone: o.ExitWhenDone, NumExamples: int64(train.N),
		ExitAfterFitRound: o.ExitAfterFit})
}

// loadSiteData loads, encodes and splits the site's rows, and returns the
// raw values of the schema's protected attributes for the training and
// held-out rows (for fairness audits and reweighing).
func loadSiteData(o *ClientRunOptions) (model.Examples, model.Examples, [2]map[string][]string, error) {
	var prot [2]map[string][]string
	fail := func(err error) (model.Examples, model.Examples, [2]map[string][]string, error) {
		return model.Examples{}, model.Examples{}, prot, err
	}
	t, err := loadTableFlags(o.Dataset, o.Data, o.Label, o.Positive, o.Schema)
	if err != nil {
		return fail(err)
	}
	enc, err := dataset.NewEncoder(t)
	if err != nil {
		return fail(err)
	}
	all, err := enc.Encode(t)
	if err != nil {
		return fail(err)
	}
	rows := make([]int, all.N)
	for i := range rows {
		rows[i] = i
	}
	if o.Shard != "" {
		var i, n int
		if _, err := fmt.Sscanf(o.Shard, "%d/%d", &i, &n); err != nil || n < 1 || i < 1 || i > n {
			return fail(fmt.Errorf("--shard %q: want I/N with 1 ≤ I ≤ N, e.g. 2/3", o.Shard))
		}
		parts, err := dataset.IID(all.N, n, o.Seed)
		if err != nil {
			return fail(fmt.Errorf("--shard: %w", err))
		}
		rows = parts[i-1]
	}
	fit, ev, err := dataset.LocalSplit(rows, o.EvalFraction, o.Seed)
	if err != nil {
		return fail(fmt.Errorf("--eval-fraction: %w", err))
	}
	for i, rows := range [][]int{fit, ev} {
		if prot[i], err = t.ProtectedRows(t.ProtectedNames(), rows); err != nil {
			return fail(err)
		}
	}
	return all.Subset(fit), all.Subset(ev), prot, nil
}

// parsePolicy parses --privacy-policy epsilon=E,delta=D.
func parsePolicy(s string) (*client.SitePolicy, error) {
	p := &client.SitePolicy{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("--privacy-policy %q: %q is not KEY=NUMBER", s, part)
		}
		switch k {
		case "epsilon":
			p.Epsilon = f
		case "delta":
			p.Delta = f
		default:
			return nil, fmt.Errorf("--privacy-policy %q: unknown key %q (want epsilon, delta)", s, k)
		}
	}
	if !(p.Epsilon > 0) || !(p.Delta > 0 && p.Delta < 1) {
		return nil, fmt.Errorf("--privacy-policy %q: need epsilon > 0 and delta in (0, 1)", s)
	}
	return p, nil
}
