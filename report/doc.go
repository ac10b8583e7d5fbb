// Package report renders an auditor's report of one training run as HTML,
// Markdown or JSON.
//
// The input is a plain [Data] value: a run summary, the rounds, site
// participation, utility, privacy accounting and ledger, fairness audits,
// publication gate decisions, explanations, model lineage and the results of
// verifying signatures and the audit chain. The caller fills it (from the
// coordinator's store); this package does no I/O besides writing the
// rendered report and never reads the clock, so the same Data always
// renders the same bytes.
//
// Usage:
//
//	f, err := report.ParseFormat(flagValue) // "html", "md" or "json"
//	if err != nil {
//		return err // names the valid formats
//	}
//	d := report.Data{Summary: report.Summary{RunID: run.ID /* ... */}}
//	if err := report.Render(os.Stdout, d, f); err != nil {
//		return err
//	}
//
// # Formats
//
// JSON is Data itself with snake_case keys and is the stable machine-readable
// contract. Metric values are [Float]s: NaN and ±Inf, which JSON cannot
// represent, are written as null and read back as NaN. Nil slices and maps
// are written as [] and {}; a section that was not enabled for the run
// (nil Privacy, Fairness or Explanations) is null. Verification carries a
// derived "verdict".
//
// HTML is one self-contained file: inline CSS and inline SVG charts, no
// scripts, fonts, images or links to other files, and a Content Security
// Policy (default-src 'none') so that a browser fetches nothing even if the
// file is altered. It is built with html/template, so site, feature and
// group names, which are untrusted input, are escaped. Each section has a
// stable id (summary, rounds, participation, utility, privacy, fairness,
// gate, explanations, lineage, verification) and the page prints cleanly.
// Pass/fail cells are coloured and also spelled out.
//
// Markdown has the same sections and tables; charts become tables of their
// values, and pass/fail is shown with ✓ and ✗. Untrusted text is
// backslash-escaped so it cannot break a table or inject markup.
//
// In HTML and Markdown, non-finite values show as "n/a". A section whose
// feature was not used shows one line saying so, never an empty table.
//
// # Charts
//
// Utility (evaluation accuracy and AUC of the committed rounds), cumulative
// ε with the budget as a threshold line, disparate impact per attribute
// family with the policy threshold, global mean |SHAP| of the top 15
// features as horizontal bars, and the same features per protected group as
// small multiples on a shared scale. A non-finite point is a gap in its
// line; a point with no neighbour is drawn as a dot.
package report
