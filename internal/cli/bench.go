package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/internal/bench"
)

// BenchOptions are the flags of `cohort bench`.
type BenchOptions struct {
	IO     *IO
	Quick  bool
	Only   []string
	Output string
}

func newCmdBench(ios *IO) *cobra.Command {
	o := &BenchOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput and memory against baselines measured in the same run",
		Long: `Measure Cohort's performance on this machine, each figure as a ratio against a
baseline measured in the same run, so results from noisy or different machines
stay comparable:

  sim     in-process simulation throughput (client updates per second of
          fit-phase wall time), 1,000 FedAvg logreg clients on fertility, one
          local epoch; baseline: the same local training in a bare loop.
  grpc    transfer rate of a fit round over gRPC with mutual TLS on loopback,
          10 clients and a 1M-parameter model; baseline: io.Copy of the same
          bytes over one TLS connection with the same certificates.
  memory  peak resident memory of a coordinator process (this executable,
          re-run as 'coordinator serve') driving 100 clients on a
          1M-parameter model, less an idle coordinator; then at 0.5M and 2M
          parameters and with 10 clients. The target (3× the model plus a
          constant) is checked against the least-squares growth per byte
          of model; the growth per client is reported too.
  secure  per-round costs of secure aggregation (secure = "he"), 10 sites,
          t = 6, a 1M-parameter update: seal, the coordinator's checked
          homomorphic additions, decryption shares and combination, each
          timed in process; sealed upload bytes against float32; and the
          round time over gRPC with mTLS against the same run in the clear.
  shap    KernelSHAP explanations per second (one goroutine) for an MLP
          trained on the first 14 encoded columns of hmda, 100 background
          rows: sampled mode (2,048 coalitions in complementary pairs)
          against exact mode (all 2^14 coalitions) on the same 8 rows, and
          the sampled values' error against the exact ones: mean and max
          |error| relative to mean |φ|, the mean reported standard error and
          the share of values within 2 reported standard errors.
  audit   the cost of the federated fairness audit: hmda, 10 sites, 6
          rounds, protected afam and single (and their intersection), run
          with fairness off and on, in the clear and with threshold HE; the
          mean evaluate phase with the audit against without it, and the
          publication audit (audit + 100 explained rows per site + proxy
          moments) against a plain evaluate phase.
  auditlog  the tamper-evident audit log at 100,000 events: appends per
          second (one transaction each, and in batches of 1,000) and Verify
          entries per second, against plain inserts into and a scan of the
          same table without the hash chain.

Progress goes to stderr, the table (or JSON) to stdout. The full run takes
about two minutes on two cores (most of it secure aggregation); --quick runs
smaller sizes in several seconds (its figures are noisier and not comparable
with the targets).`,
		Example: `  cohort bench
  cohort bench --quick --output json
  cohort bench --only sim,grpc
  cohort bench --only secure
  cohort bench --only shap
  cohort bench --only audit
  cohort bench --only auditlog`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return benchRun(o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.Quick, "quick", false, "smaller, faster sizes (for tests and smoke checks)")
	f.StringSliceVar(&o.Only, "only", nil, "measurements to run: "+strings.Join(bench.Measurements, ", ")+" (default all)")
	f.StringVar(&o.Output, "output", "text", "text or json (one JSON object on stdout)")
	return cmd
}

func benchRun(o *BenchOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	launch, err := bench.SelfLauncher("coordinator", "serve")
	if err != nil {
		return err
	}
	cfg := bench.DefaultConfig(launch)
	if o.Quick {
		cfg = bench.QuickConfig(launch)
	}
	cfg.Only, cfg.Progress = o.Only, o.IO.Err
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if o.Output == "json" {
		return writeJSON(o.IO.Out, rep)
	}
	return printBench(o, rep)
}

func printBench(o *BenchOptions, r bench.Report) error {
	size := ""
	if r.Quick {
		size = ", quick sizes (not comparable with the targets)"
	}
	fmt.Fprintf(o.IO.Out, "%s %s/%s, GOMAXPROCS=%d, %.1fs%s\n\n", r.GoVersion, r.GOOS, r.GOARCH, r.GOMAXPROCS, r.Seconds, size)
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measurement\tcohort\tbaseline\tratio\ttarget")
	if s := r.Sim; s != nil {
		fmt.Fprintf(tw, "sim: %d clients, %s, %d rounds\t%.0f updates/s\tnaive loop %.0f updates/s\t%.2f×\t≥ %.0f updates/s %s\n",
			s.Clients, s.Dataset, s.Rounds, s.UpdatesPerSec, s.NaiveUpdatesPerSec, s.Ratio, s.Target, mark(s.MeetsTarget))
	}
	if g := r.GRPC; g != nil {
		fmt.Fprintf(tw, "grpc: %d clients, %s params, mTLS\t%.0f MB/s\tTLS io.Copy %.0f MB/s\t%.2f×\t-\n",
			g.Clients, count(g.Params), g.MBPerSec, g.TLSCopyMBPerSec, g.Ratio)
	}
	if m := r.Memory; m != nil {
		if sc := m.Scaling; sc != nil {
			fmt.Fprintf(tw, "memory: %d clients, %s params\tpeak RSS %.0f MB\tidle %.0f MB\t%.1f× per byte of model (%.1f× model above idle)\t≤ %.0f× model + constant %s\n",
				m.Clients, count(m.Params), float64(m.PeakRSSBytes)/1e6, float64(m.IdleRSSBytes)/1e6, sc.MarginalRatio, m.Ratio, m.Target, mark(m.MeetsTarget))
		} else {
			fmt.Fprintf(tw, "memory: %d clients, %s params\tpeak RSS %.0f MB\tidle %.0f MB\t%.1f× model\t≤ %.0f× model %s\n",
				m.Clients, count(m.Params), float64(m.PeakRSSBytes)/1e6, float64(m.IdleRSSBytes)/1e6, m.Ratio, m.Target, mark(m.MeetsTarget))
		}
	}
	if s := r.Secure; s != nil {
		fmt.Fprintf(tw, "secure: seal at a site, %s values\t%.2fs CPU, %.2fM values/s/core\t-\t-\t≥ %.0fM values/s/core %s\n",
			count(s.Dim), s.SealCPUSeconds, s.SealValuesPerSecPerCore/1e6, s.EncryptTarget/1e6, mark(s.MeetsEncrypt))
		fmt.Fprintf(tw, "secure: coordinator adds %d contributions (checked)\t%.2fs CPU, %.1fM values/s\t-\t-\t≥ %.0fM values/s %s\n",
			s.Sites, s.AddCPUSeconds, s.AddValuesPerSec/1e6, s.AddTarget/1e6, mark(s.MeetsAdd))
		fmt.Fprintf(tw, "secure: decryption share, %d contributions re-verified\t%.2fs CPU, %.2fM values/s/core\t-\t-\t≥ %.0fM values/s/core %s\n",
			s.Sites, s.ShareCPUSeconds, s.ShareValuesPerSecPerCore/1e6, s.ShareTarget/1e6, mark(s.MeetsShare))
		fmt.Fprintf(tw, "secure: sealed upload\t%.1f MB\tfloat32 %.1f MB\t%.2f×\t≤ %.1f× %s\n",
			float64(s.UploadBytes)/1e6, float64(s.PlaintextBytes)/1e6, s.Expansion, s.ExpansionTarget, mark(s.MeetsExpansion))
		he := "failed"
		if s.HEFailedRoundSeconds > 0 {
			he = fmt.Sprintf("failed after %.2fs", s.HEFailedRoundSeconds)
		}
		if s.HERoundSeconds > 0 {
			he = fmt.Sprintf("HE %.2fs", s.HERoundSeconds)
		}
		ratio := "-"
		if s.RoundRatio > 0 {
			ratio = fmt.Sprintf("%.1f×", s.RoundRatio)
		}
		fmt.Fprintf(tw, "secure: round over gRPC, %d sites, t=%d, %s params\t%s\tplaintext %.2fs\t%s\t-\n",
			s.Sites, s.Threshold, count(s.Params), he, s.PlainRoundSeconds, ratio)
	}
	if s := r.Shap; s != nil {
		fmt.Fprintf(tw, "shap: %s, %d features of %s, %d background rows\tsampled %.1f expl/s\texact %.2f expl/s\t%.1f×\t-\n",
			s.Model, len(s.Features), s.Dataset, s.Background, s.SampledPerSec, s.ExactPerSec, s.Ratio)
	}
	if l := r.AuditLog; l != nil {
		fmt.Fprintf(tw, "auditlog: append, one transaction each\t%.0f events/s\tplain insert %.0f/s\t%.2f×\t-\n", l.AppendPerSec, l.PlainInsertPerSec, l.AppendCost)
		fmt.Fprintf(tw, "auditlog: append, batches of %d\t%.0f events/s\tplain insert %.0f/s\t%.2f×\t-\n", l.BatchSize, l.BatchAppendPerSec, l.PlainBatchInsertPerSec, l.BatchAppendCost)
		fmt.Fprintf(tw, "auditlog: verify %d entries\t%.0f entries/s\tplain scan %.0f/s\t%.2f×\t-\n", l.Verified, l.VerifyPerSec, l.PlainScanPerSec, l.VerifyCost)
	}
	if a := r.Audit; a != nil {
		for _, row := range a.Rows {
			fmt.Fprintf(tw, "audit: evaluate phase with fairness audit, %d sites, secure=%s\taudit %.1f ms\tplain %.1f ms\t%.2f×\t-\n",
				a.Clients, row.Secure, 1e3*row.AuditEvalSeconds, 1e3*row.PlainEvalSeconds, row.Ratio)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(o.IO.Out)
	if a := r.Audit; a != nil {
		for _, row := range a.Rows {
			fmt.Fprintf(o.IO.Out, "audit: secure=%s: publication audit (fairness + explanations + proxy moments) %.1f ms, %.2f× a plain evaluate phase; each site adds %d values (%d cells) to an evaluation\n",
				row.Secure, 1e3*row.PublicationSeconds, row.PublicationRatio, a.AuditValues, a.Groups)
		}
	}
	if s := r.Sim; s != nil {
		fmt.Fprintf(o.IO.Out, "sim: %d updates in %.3fs of fit phase; %.0f updates/s counting commit and evaluation; coordinator overhead %.0f µs/update\n",
			s.Updates, s.FitSeconds, s.RoundUpdatesPerSec, s.OverheadMicros)
	}
	if g := r.GRPC; g != nil {
		fmt.Fprintf(o.IO.Out, "grpc: %.0f MB per round (downloads + uploads) in %.3fs of fit phase over %d rounds\n",
			float64(g.BytesPerRound)/1e6, g.FitSeconds, g.Rounds)
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(o.IO.Out, "memory: model %.0f MB; coordinator Go heap peak %.0f MB, max live %.0f MB (%.1f× model) over %d GC cycles\n",
			float64(m.ModelBytes)/1e6, float64(m.PeakHeapBytes)/1e6, float64(m.MaxLiveHeapBytes)/1e6,
			float64(m.MaxLiveHeapBytes)/float64(max(m.ModelBytes, 1)), m.GCCycles)
		if sc := m.Scaling; sc != nil {
			for _, p := range sc.Points {
				fmt.Fprintf(o.IO.Out, "memory: %d clients, %s params: peak RSS %.0f MB, idle %.0f MB\n",
					p.Clients, count(p.Params), float64(p.PeakRSS)/1e6, float64(p.IdleRSS)/1e6)
			}
			fmt.Fprintf(o.IO.Out, "memory: least squares over the three model sizes: peak − idle = %.2f × model + %.0f MB (largest residual %.1f MB); %.0f KB per extra client\n",
				sc.MarginalRatio, sc.ConstantBytes/1e6, sc.MaxResidualBytes/1e6, sc.PerClientBytes/1e3)
		}
	}
	if s := r.Secure; s != nil {
		fmt.Fprintf(o.IO.Out, "secure: per round, %d ciphertexts per update; wall clock: seal %.2fs per site, coordinator add %.2fs (%.1fM values/s with %d goroutines; the bare ring add is not measurable outside secagg), decryption %.2fs on the critical path (request %.2fs + slowest share + combine %.2fs), %.2fs of CPU for %d shares\n",
			s.Ciphertexts, s.SealSeconds, s.AddSeconds, s.AddParallelValuesPerSec/1e6, r.GOMAXPROCS,
			s.DecryptSeconds, s.RequestSeconds, s.CombineSeconds, s.DecryptCPUSeconds, s.Threshold)
		fmt.Fprintf(o.IO.Out, "secure: decrypt request %.0f MB to each of t decryptors, share %.1f MB; max error %.1e; key ceremony %.2fs in process; HE run %.1fs over gRPC\n",
			float64(s.DecryptRequestBytes)/1e6, float64(s.ShareBytes)/1e6, s.MaxAbsError, s.KeygenSeconds, s.HERunSeconds)
		for _, f := range s.CombineFailures {
			fmt.Fprintf(o.IO.Out, "secure: combining decryption shares failed once (retried with another active set): %s\n", f)
		}
		if s.HERunError != "" {
			fmt.Fprintf(o.IO.Out, "secure: the HE run over gRPC failed: %s\n", s.HERunError)
		}
	}
	if s := r.Shap; s != nil {
		fmt.Fprintf(o.IO.Out, "shap: features %s (the first %d encoded columns of %s); in-sample AUC %.3f; explaining P(class 1)\n",
			strings.Join(s.Features, ", "), len(s.Features), s.Dataset, s.TrainAUC)
		fmt.Fprintf(o.IO.Out, "shap: exact: %d rows × %d coalitions in %.2fs; sampled: %d rows × %d seeds × %d coalitions (%d batches) in %.2fs; max efficiency gap %.1e\n",
			s.Rows, s.ExactCoalitions, s.ExactSeconds, s.Rows, s.Repeats, s.Samples, s.Batches, s.SampledSeconds, s.MaxEfficiencyGap)
		fmt.Fprintf(o.IO.Out, "shap: sampled error vs exact: mean |error| %.2e (%.2f%% of mean |φ| %.2e), max %.2e (%.1f%%); mean reported SE %.2e; %.0f%% of values within 2 SE (calibrated: %.0f%%)\n",
			s.MeanAbsError, 100*s.RelMeanError, s.MeanAbsPhi, s.MaxAbsError, 100*s.RelMaxError, s.MeanStdErr, 100*s.WithinTwoSE, 100*s.ExpectedWithinTwoSE)
	}
	return nil
}

func mark(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// count renders n compactly: 1000000 → "1M", 100000 → "100k".
func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
