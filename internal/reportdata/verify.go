package reportdata

import (
	"context"
	"fmt"

	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/report"
)

// auditChainCheck is the name of the audit-log verification check.
const auditChainCheck = "audit chain"

// fillVerification re-verifies the audit log's hash chain (the whole log,
// which every run in the file shares) and adds the outcome as one check.
// A chain alone cannot show entries cut off its end; checking against an
// anchor kept elsewhere (a signed model card) is the lineage step's.
func fillVerification(ctx context.Context, s *source, d *report.Data) error {
	l, err := audit.Open(ctx, s.db)
	if err != nil {
		return err
	}
	rep, err := l.Verify(ctx)
	if err != nil {
		return err
	}
	events, err := l.List(ctx, audit.Filter{RunID: s.run.ID})
	if err != nil {
		return err
	}
	c := report.VerificationCheck{Name: auditChainCheck, OK: rep.OK}
	if rep.OK {
		c.Detail = fmt.Sprintf("%d entries (%d of this run), hash chain intact; head %s", rep.Entries, len(events), rep.Head)
	} else {
		c.Detail = fmt.Sprintf("%d entries, %d problem(s): %s", rep.Entries, len(rep.Problems)+rep.Omitted, rep.Summary())
	}
	d.Verification.Checks = append(d.Verification.Checks, c)
	return nil
}
