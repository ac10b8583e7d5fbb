package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/privacy/accountant"
	"github.com/cohortfl/cohort/privacy/ledger"
)

// PrivacyOptions are the flags of `cohort privacy`.
type PrivacyOptions struct {
	IO         *IO
	Q, Sigma   float64
	Steps      int
	Delta      float64
	Epsilon    float64
	Accountant string
	Output     string
	DB         string
}

func newCmdPrivacy(ios *IO) *cobra.Command {
	o := &PrivacyOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "privacy",
		Short: "Privacy accounting: ε for a mechanism, the σ for a budget, and a run's ledger",
		Long: `Accounting for the Poisson-subsampled Gaussian mechanism with add/remove
adjacency: q is the sampling rate, sigma the noise multiplier (noise standard
deviation divided by the clipping norm), steps the number of compositions.
The RDP accountant is exact per order; PLD is tighter. See
docs/differential-privacy.md.`,
	}
	cmd.PersistentFlags().StringVar(&o.Output, "output", "text", "text or json")
	eps := &cobra.Command{
		Use: "epsilon", Short: "ε spent by steps of the subsampled Gaussian at δ", Args: cobra.NoArgs,
		Example: "  cohort privacy epsilon --q 0.004267 --sigma 1.1 --steps 14063 --delta 1e-5 --accountant pld",
		RunE:    func(*cobra.Command, []string) error { return privacyEpsilonRun(o) },
	}
	eps.Flags().Float64Var(&o.Q, "q", 0, "sampling rate in (0, 1]")
	eps.Flags().Float64Var(&o.Sigma, "sigma", 0, "noise multiplier (> 0)")
	eps.Flags().IntVar(&o.Steps, "steps", 0, "number of steps (>= 1)")
	eps.Flags().Float64Var(&o.Delta, "delta", 1e-5, "δ in (0, 1)")
	eps.Flags().StringVar(&o.Accountant, "accountant", "rdp", "rdp or pld")
	sig := &cobra.Command{
		Use: "sigma", Short: "the smallest noise multiplier that keeps steps within (ε, δ)", Args: cobra.NoArgs,
		Example: "  cohort privacy sigma --epsilon 3 --delta 1e-5 --q 0.1 --steps 100",
		RunE:    func(*cobra.Command, []string) error { return privacySigmaRun(o) },
	}
	sig.Flags().Float64Var(&o.Epsilon, "epsilon", 0, "target ε (> 0)")
	sig.Flags().Float64Var(&o.Delta, "delta", 1e-5, "δ in (0, 1)")
	sig.Flags().Float64Var(&o.Q, "q", 0, "sampling rate in (0, 1]")
	sig.Flags().IntVar(&o.Steps, "steps", 0, "number of steps (>= 1)")
	sig.Flags().StringVar(&o.Accountant, "accountant", "rdp", "rdp or pld")
	led := &cobra.Command{
		Use: "ledger RUN", Short: "a run's privacy ledger and the ε it spends", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error { return privacyLedgerRun(o, a[0]) },
	}
	led.Flags().StringVar(&o.DB, "db", "cohort.db", "coordinator SQLite state file")
	led.Flags().StringVar(&o.Accountant, "accountant", "rdp", "rdp or pld")
	cmd.AddCommand(eps, sig, led)
	return cmd
}

func pickAccountant(name string) (accountant.Accountant, error) {
	switch name {
	case "rdp":
		return accountant.NewRDP(accountant.DefaultOrders())
	case "pld":
		return accountant.NewPLD(accountant.DefaultPLDConfig())
	}
	return nil, fmt.Errorf("--accountant %q: want rdp or pld", name)
}

func privacyEpsilonRun(o *PrivacyOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	acc, err := pickAccountant(o.Accountant)
	if err != nil {
		return err
	}
	ev := []accountant.Event{{Q: o.Q, Sigma: o.Sigma, Steps: o.Steps}}
	if o.Steps < 1 {
		return fmt.Errorf("--steps = %d, want at least 1", o.Steps)
	}
	eps, err := acc.Epsilon(ev, o.Delta)
	if err != nil {
		return err
	}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, map[string]any{"epsilon": eps, "delta": o.Delta, "q": o.Q, "sigma": o.Sigma,
			"steps": o.Steps, "accountant": o.Accountant})
	}
	fmt.Fprintf(o.IO.Out, "ε = %.6g at δ = %g (%s; q = %g, σ = %g, %d steps)\n", eps, o.Delta, o.Accountant, o.Q, o.Sigma, o.Steps)
	return nil
}

func privacySigmaRun(o *PrivacyOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	acc, err := pickAccountant(o.Accountant)
	if err != nil {
		return err
	}
	if o.Steps < 1 {
		return fmt.Errorf("--steps = %d, want at least 1", o.Steps)
	}
	sigma, err := accountant.SigmaFor(acc, o.Q, o.Steps, o.Epsilon, o.Delta)
	if err != nil {
		return err
	}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, map[string]any{"sigma": sigma, "epsilon": o.Epsilon, "delta": o.Delta, "q": o.Q,
			"steps": o.Steps, "accountant": o.Accountant})
	}
	fmt.Fprintf(o.IO.Out, "σ = %.6g keeps %d steps at q = %g within ε = %g, δ = %g (%s)\n", sigma, o.Steps, o.Q, o.Epsilon, o.Delta, o.Accountant)
	return nil
}

type ledgerReport struct {
	RunID   string             `json:"run_id"`
	Entries []ledger.Entry     `json:"entries"`
	Spent   map[string]float64 `json:"epsilon_by_party"`
	Delta   map[string]float64 `json:"delta_by_party"`
	Budget  map[string]float64 `json:"budget_by_party,omitempty"`
}

func privacyLedgerRun(o *PrivacyOptions, run string) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	acc, err := pickAccountant(o.Accountant)
	if err != nil {
		return err
	}
	ctx := context.Background()
	db, cfg, err := openRunDB(ctx, o.DB, run)
	if err != nil {
		return err
	}
	defer db.Close()
	l, err := ledger.Open(ctx, db)
	if err != nil {
		return err
	}
	entries, err := l.Entries(ctx, run, "")
	if err != nil {
		return err
	}
	rep := ledgerReport{RunID: run, Entries: entries, Spent: map[string]float64{}, Delta: map[string]float64{}, Budget: map[string]float64{}}
	byParty := map[string][]ledger.Entry{}
	var parties []string
	for _, e := range entries {
		if _, ok := byParty[e.Party]; !ok {
			parties = append(parties, e.Party)
		}
		byParty[e.Party] = append(byParty[e.Party], e)
	}
	for _, p := range parties {
		delta, budget := 1e-5, 0.0
		if cfg.DP != nil && cfg.DP.Client != nil && p == ledger.ClientParty {
			delta, budget = cfg.DP.Client.Delta, cfg.DP.Client.Epsilon
		} else if cfg.DP != nil && cfg.DP.Record != nil && p != ledger.ClientParty {
			delta, budget = cfg.DP.Record.Delta, cfg.DP.Record.Epsilon
		}
		eps, err := ledger.Spent(acc, byParty[p], delta)
		if err != nil {
			return err
		}
		rep.Spent[p], rep.Delta[p], rep.Budget[p] = eps, delta, budget
	}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, rep)
	}
	if len(entries) == 0 {
		fmt.Fprintf(o.IO.Out, "run %s has no privacy ledger entries (no DP configured)\n", run)
		return nil
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROUND\tATTEMPT\tPARTY\tPURPOSE\tQ\tSIGMA\tSTEPS\tSTATUS")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%g\t%.4g\t%d\t%s\n", e.ID, e.Round, e.Attempt, e.Party, e.Purpose, e.Q, e.Sigma, e.Steps, e.Status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(o.IO.Out)
	for _, p := range parties {
		fmt.Fprintf(o.IO.Out, "%s: ε = %.4f of budget %.4g at δ = %g (%s, every entry counted, pending included)\n", p, rep.Spent[p], rep.Budget[p], rep.Delta[p], o.Accountant)
	}
	return nil
}
