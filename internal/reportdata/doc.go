// Package reportdata fills a [report.Data] for one run from the
// coordinator's SQLite file, for `cohort report`.
//
// Build reads, all from the same file:
//
//   - the run row and its stored configuration (coordinator.RunConfig):
//     summary, secure aggregation, DP mode, policy thresholds;
//   - every round attempt, committed and failed, with its participants and
//     metrics (coordinator/store): the rounds table, site participation,
//     and the per-round fairness audits, stored as metrics named
//     "fair.<family>.<metric>";
//   - the privacy ledger (privacy/ledger): every release with the ε its
//     party had spent after it, and ε after each committed round, both
//     recomputed with the run's accountant at the budget's δ;
//   - the publication decision (coordinator.LoadPublication): the gate's
//     checks, the final model's per-group rates and its explanations;
//   - the audit log (package audit): the hash chain is verified and the
//     result is one verification check, "audit chain".
//
// Build does not read the clock and does not change any recorded state
// (opening the ledger, the audit log and the publications table only
// creates them if missing), so the same file gives the same Data; the
// caller sets Data.GeneratedAt.
//
// Each report section is filled by one function (fillSummary, fillRounds,
// ...) listed in sections, in order; a new section is one more entry.
//
// Usage:
//
//	db, err := store.Open("cohort.db")
//	d, err := reportdata.Build(ctx, db, runID)
//	d.GeneratedAt = time.Now().UTC()
//	err = report.Render(w, d, report.HTML)
package reportdata
