package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/internal/reportdata"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/registry"
	"github.com/cohortfl/cohort/report"
)

// ReportOptions are the flags of `cohort report`.
type ReportOptions struct {
	IO     *IO
	DB     string
	Format string
	Out    string
	Force  bool
	// Trust anchors for the signed artifacts (local mode), and the remote
	// mode's operator bundle (--coordinator, --cert, --key, --ca).
	CA, Cert, Key, Coordinator, ServerName string
	CoordinatorKeys                        []string
}

func newCmdReport(ios *IO) *cobra.Command {
	o := &ReportOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "report RUN",
		Short: "Write an auditor's report of one run (HTML, Markdown or JSON)",
		Long: `Render everything the coordinator's state file records about a run:
summary and configuration, every round attempt with its metrics, site
participation, utility, the privacy ledger with ε recomputed by the run's
accountant, the per-round fairness audits and the final model's group rates,
the publication gate's checks, the federated explanations, and the result of
re-verifying the audit log's hash chain.

HTML is one self-contained page (inline CSS and SVG, no scripts); md has the
same sections with charts as tables; json is the machine-readable form. The
file is written atomically and an existing file is not replaced without
--force.

With --ca and --coordinator-key the signed model versions' hashes and
signatures are verified and the results listed (without them they are not
checked). With --coordinator the report is fetched from a running
coordinator through its admin API instead (an auditor's or admin's bundle:
--cert, --key, --ca); the coordinator verifies the signatures with its own
key and the consortium CA.`,
		Example: "  cohort report r1 --db cohort.db --out r1.html\n  cohort report r1 --db cohort.db --format json --out r1.json --ca ca.pem --coordinator-key coordinator-signing.pub\n  cohort report r1 --coordinator coord:7443 --cert carol.pem --key carol-key.pem --ca ca.pem --out r1.html",
		Args:    cobra.ExactArgs(1),
		RunE:    func(_ *cobra.Command, a []string) error { return reportRun(o, a[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.DB, "db", "cohort.db", "coordinator SQLite state file")
	f.StringVar(&o.Format, "format", "html", "html, md or json")
	f.StringVar(&o.Out, "out", "", "file to write (required)")
	f.BoolVar(&o.Force, "force", false, "replace --out if it exists")
	f.StringVar(&o.CA, "ca", "", "consortium CA certificate (PEM): with --coordinator-key, verify the run's signed models; with --coordinator, the TLS root")
	f.StringSliceVar(&o.CoordinatorKeys, "coordinator-key", nil, "trusted coordinator signing key(s) (PEM) for verifying signed models")
	f.StringVar(&o.Coordinator, "coordinator", "", "fetch the report from this coordinator's admin API (host:port) instead of reading --db")
	f.StringVar(&o.Cert, "cert", "", "with --coordinator: your operator certificate (role auditor or admin)")
	f.StringVar(&o.Key, "key", "", "with --coordinator: your private key")
	f.StringVar(&o.ServerName, "server-name", "", "with --coordinator: expected coordinator certificate name")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func reportRun(o *ReportOptions, run string) error {
	format, err := report.ParseFormat(o.Format)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	if o.Out == "" {
		return errors.New("--out is required")
	}
	if err := checkReportOut(o.Out, o.Force); err != nil {
		return err
	}
	if o.Coordinator != "" {
		return reportRemote(o, run, format)
	}
	var bo reportdata.Options
	switch {
	case o.CA != "" && len(o.CoordinatorKeys) > 0:
		trust, err := registry.LoadTrust(o.CA, o.CoordinatorKeys...)
		if err != nil {
			return err
		}
		bo.Trust = &trust
	case o.CA != "" || len(o.CoordinatorKeys) > 0:
		return errors.New("verifying signed models needs both --ca and --coordinator-key")
	}
	ctx := context.Background()
	db, err := openExisting(o.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	d, b, err := renderReport(ctx, db, run, bo, format)
	if err != nil {
		var nf *reportdata.RunNotFoundError
		if errors.As(err, &nf) {
			known := "it holds no runs"
			if len(nf.Known) > 0 {
				known = "known runs: " + strings.Join(nf.Known, ", ")
			}
			return fmt.Errorf("--db %s has no run %q (%s)", o.DB, run, known)
		}
		return err
	}
	if err := writeFileAtomic(o.Out, b, o.Force); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "wrote %s: %d bytes, %s report of run %s: %s\n", o.Out, len(b), format, run, sectionSummary(d))
	return nil
}

// renderReport builds the report of run runID from db (a run not in db
// gives reportdata's *RunNotFoundError), stamps it with the current time
// to the second, UTC, and renders it in format f.
func renderReport(ctx context.Context, db *store.DB, runID string, opts reportdata.Options, f report.Format) (report.Data, []byte, error) {
	d, err := reportdata.BuildWith(ctx, db, runID, opts)
	if err != nil {
		return report.Data{}, nil, err
	}
	d.GeneratedAt = time.Now().UTC().Truncate(time.Second)
	var buf bytes.Buffer
	if err := report.Render(&buf, d, f); err != nil {
		return report.Data{}, nil, err
	}
	return d, buf.Bytes(), nil
}

// reportRemote fetches the report from a coordinator's admin API.
func reportRemote(o *ReportOptions, run string, format report.Format) error {
	ao := &AdminOptions{IO: o.IO, Coordinator: o.Coordinator, Cert: o.Cert, Key: o.Key, CA: o.CA, ServerName: o.ServerName,
		Timeout: 2 * time.Minute, Output: "text"}
	api, ctx, done, err := adminCall(ao)
	if err != nil {
		return err
	}
	defer done()
	stream, err := api.GetReport(ctx, &cohortv1.GetReportRequest{RunId: run, Format: string(format)})
	if err != nil {
		return callError(ao, err)
	}
	var buf bytes.Buffer
	for {
		c, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return callError(ao, err)
		}
		if buf.Len()+len(c.Data) > maxRemoteReport {
			return fmt.Errorf("coordinator %s: the report exceeds %d bytes", o.Coordinator, maxRemoteReport)
		}
		buf.Write(c.Data)
	}
	if err := writeFileAtomic(o.Out, buf.Bytes(), o.Force); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "wrote %s: %d bytes, %s report of run %s from coordinator %s\n", o.Out, buf.Len(), format, run, o.Coordinator)
	return nil
}

// maxRemoteReport bounds a report fetched from a coordinator.
const maxRemoteReport = 256 << 20

// checkReportOut refuses an --out that exists (unless force) or is a
// directory, before any work is done.
func checkReportOut(path string, force bool) error {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return fmt.Errorf("--out %s is a directory; name a file", path)
	case err == nil && !force:
		return fmt.Errorf("--out %s exists; pass --force to replace it", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--out %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic writes b to a temporary file beside path and moves it
// into place, so that a reader never sees a partial report. Without
// replace, an existing path is left alone: the file is linked into place,
// which fails if the name exists (on a filesystem without hard links it is
// checked, then renamed).
func writeFileAtomic(path string, b []byte, replace bool) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("--out %s: cannot write in %s: %w", path, dir, err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name()) // gone already once linked or renamed
	}()
	if _, err := tmp.Write(b); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	if replace {
		if err := os.Rename(tmp.Name(), path); err != nil {
			return fmt.Errorf("--out %s: %w", path, err)
		}
		return nil
	}
	switch err := os.Link(tmp.Name(), path); {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("--out %s exists; pass --force to replace it", path)
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("--out %s exists; pass --force to replace it", path)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	return nil
}

// sectionSummary lists the report's sections with what each holds.
func sectionSummary(d report.Data) string {
	committed := 0
	for _, r := range d.Rounds {
		if r.Status == report.RoundCommitted {
			committed++
		}
	}
	parts := []string{
		"summary",
		fmt.Sprintf("rounds (%s, %d committed)", plural(len(d.Rounds), "attempt"), committed),
		fmt.Sprintf("participation (%s)", plural(len(d.Participation), "site")),
		"utility",
	}
	if p := d.Privacy; p != nil {
		parts = append(parts, fmt.Sprintf("privacy (%s)", plural(len(p.Ledger), "ledger entry")))
	} else {
		parts = append(parts, "privacy (not enabled)")
	}
	if f := d.Fairness; f != nil {
		parts = append(parts, fmt.Sprintf("fairness (%s, %s)", plural(len(f.Rounds), "audit"), plural(len(f.Groups), "group")))
	} else {
		parts = append(parts, "fairness (not enabled)")
	}
	if len(d.Gate) == 0 {
		parts = append(parts, "gate (no decision)")
	} else {
		g := d.Gate[len(d.Gate)-1]
		outcome := "rejected"
		if g.Passed {
			outcome = "passed"
		}
		parts = append(parts, fmt.Sprintf("gate (%s, %s)", outcome, plural(len(g.Checks), "check")))
	}
	if e := d.Explanations; e != nil {
		parts = append(parts, fmt.Sprintf("explanations (%s)", plural(len(e.Global), "feature")))
	} else {
		parts = append(parts, "explanations (not enabled)")
	}
	parts = append(parts, fmt.Sprintf("lineage (%s)", plural(len(d.Lineage), "version")),
		fmt.Sprintf("verification (%s)", d.Verification.Verdict()))
	return strings.Join(parts, ", ")
}

// plural is "1 check", "2 checks", "1 ledger entry", "3 ledger entries".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if s, ok := strings.CutSuffix(noun, "y"); ok {
		return fmt.Sprintf("%d %sies", n, s)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
