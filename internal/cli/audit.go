package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cohortfl/cohort/audit"
)

// ErrAuditFailed is returned (exit status 1) when the audit log fails
// verification.
var ErrAuditFailed = errors.New("the audit log fails verification")

// AuditOptions are the flags of `cohort audit`.
type AuditOptions struct {
	IO     *IO
	DB     string
	Run    string
	Kind   string
	Limit  int
	Anchor string
	Output string
}

func newCmdAudit(ios *IO) *cobra.Command {
	o := &AuditOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and read the coordinator's tamper-evident audit log",
		Long: `The coordinator records every event that matters to an auditor in an
append-only, hash-chained log in its SQLite file: runs started and finished,
sites joined or refused, rounds, every update received (its SHA-256 and
signature), decryption shares given or refused, privacy-ledger rows, gate
decisions, publications and denied roles.

'audit verify' recomputes the chain and names every edited, deleted or
reordered entry. A chain alone cannot show that entries were cut off the end
or that the whole log was rewritten by someone with write access: record the
head ('audit verify' prints it, model cards carry it) and pass it back with
--anchor to check against it.`,
	}
	cmd.PersistentFlags().StringVar(&o.DB, "db", "cohort.db", "coordinator SQLite state file")
	cmd.PersistentFlags().StringVar(&o.Output, "output", "text", "text or json")

	verify := &cobra.Command{
		Use:     "verify",
		Short:   "Check the hash chain; exit 1 and name the entries if it was altered",
		Example: "  cohort audit verify --db cohort.db\n  cohort audit verify --db cohort.db --anchor 1234:9f86d0...",
		Args:    cobra.NoArgs,
		RunE:    func(*cobra.Command, []string) error { return auditVerify(o) },
	}
	verify.Flags().StringVar(&o.Anchor, "anchor", "", "a head recorded earlier, SEQ:HEX: also detect truncation or a rewrite before it")
	list := &cobra.Command{
		Use:     "log",
		Short:   "List audit events (oldest first)",
		Example: "  cohort audit log --db cohort.db --run r1\n  cohort audit log --db cohort.db --kind gate_decision --output json",
		Args:    cobra.NoArgs,
		RunE:    func(*cobra.Command, []string) error { return auditList(o) },
	}
	list.Flags().StringVar(&o.Run, "run", "", "only events of this run")
	list.Flags().StringVar(&o.Kind, "kind", "", "only events of this kind (e.g. update_received, gate_decision, role_denied)")
	list.Flags().IntVar(&o.Limit, "limit", 0, "at most this many events (0: all)")
	cmd.AddCommand(verify, list)
	return cmd
}

func openAudit(ctx context.Context, path string) (*audit.Log, func(), error) {
	db, err := openExisting(path)
	if err != nil {
		return nil, nil, err
	}
	l, err := audit.Open(ctx, db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return l, func() { db.Close() }, nil
}

type auditReportJSON struct {
	OK       bool            `json:"ok"`
	Entries  int             `json:"entries"`
	Head     string          `json:"head"`
	Anchor   string          `json:"anchor,omitempty"`
	Problems []audit.Problem `json:"problems"`
	Omitted  int             `json:"omitted,omitempty"`
}

func auditVerify(o *AuditOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	ctx := context.Background()
	l, closeDB, err := openAudit(ctx, o.DB)
	if err != nil {
		return err
	}
	defer closeDB()
	var rep audit.Report
	if o.Anchor != "" {
		a, err := audit.ParseAnchor(o.Anchor)
		if err != nil {
			return fmt.Errorf("--anchor: %w", err)
		}
		rep, err = l.VerifyAgainst(ctx, a)
		if err != nil {
			return err
		}
	} else if rep, err = l.Verify(ctx); err != nil {
		return err
	}
	if o.Output == "json" {
		out := auditReportJSON{OK: rep.OK, Entries: rep.Entries, Head: rep.Head.String(), Anchor: o.Anchor,
			Problems: rep.Problems, Omitted: rep.Omitted}
		if out.Problems == nil {
			out.Problems = []audit.Problem{}
		}
		if err := writeJSON(o.IO.Out, out); err != nil {
			return err
		}
	} else if rep.OK {
		fmt.Fprintf(o.IO.Out, "audit log %s: %d entries, hash chain intact; head %s\n", o.DB, rep.Entries, rep.Head)
		if o.Anchor != "" {
			fmt.Fprintf(o.IO.Out, "consistent with anchor %s\n", o.Anchor)
		}
	} else {
		fmt.Fprintf(o.IO.Out, "audit log %s: %d entries, %d problem(s):\n", o.DB, rep.Entries, len(rep.Problems)+rep.Omitted)
		for _, p := range rep.Problems {
			fmt.Fprintf(o.IO.Out, "  %s\n", p)
		}
		if rep.Omitted > 0 {
			fmt.Fprintf(o.IO.Out, "  ... and %d more\n", rep.Omitted)
		}
	}
	if !rep.OK {
		return ErrAuditFailed
	}
	return nil
}

type auditEventJSON struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Kind     string          `json:"kind"`
	RunID    string          `json:"run_id,omitempty"`
	Round    int             `json:"round,omitempty"`
	Actor    string          `json:"actor"`
	Subject  string          `json:"subject,omitempty"`
	Detail   json.RawMessage `json:"detail,omitempty"`
	Hash     string          `json:"hash"`
	PrevHash string          `json:"prev_hash"`
}

func auditList(o *AuditOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.Limit < 0 {
		return fmt.Errorf("--limit = %d, want >= 0", o.Limit)
	}
	ctx := context.Background()
	l, closeDB, err := openAudit(ctx, o.DB)
	if err != nil {
		return err
	}
	defer closeDB()
	evs, err := l.List(ctx, audit.Filter{RunID: o.Run, Kind: o.Kind, Limit: o.Limit})
	if err != nil {
		return err
	}
	if o.Output == "json" {
		out := make([]auditEventJSON, len(evs))
		for i, e := range evs {
			out[i] = auditEventJSON{Seq: e.Seq, Time: e.Time, Kind: e.Kind, RunID: e.RunID, Round: e.Round, Actor: e.Actor,
				Subject: e.Subject, Detail: e.Detail, Hash: fmt.Sprintf("%x", e.Hash), PrevHash: fmt.Sprintf("%x", e.PrevHash)}
		}
		return writeJSON(o.IO.Out, out)
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tRUN\tROUND\tACTOR\tDETAIL")
	for _, e := range evs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Kind, e.RunID, e.Round, e.Actor, e.Detail)
	}
	return tw.Flush()
}
