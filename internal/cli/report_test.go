package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/internal/sim"
	"github.com/cohortfl/cohort/report"
)

// TestReportCommand writes the report of a simulated run in every format,
// refuses to overwrite without --force, and names the problem for an
// unknown run, format or unwritable path.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cohort.db")
	c := sim.DefaultConfig()
	c.Rounds, c.Protected, c.Fairness = 2, []string{"afam"}, "audit"
	res, err := sim.Run(context.Background(), c, sim.Options{DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	id := res.RunID

	outs := map[string]string{}
	for _, f := range []string{"html", "md", "json"} {
		path := filepath.Join(dir, "report."+f)
		stdout, stderr, code := run(t, "report", id, "--db", db, "--format", f, "--out", path)
		if code != 0 {
			t.Fatalf("report --format %s: exit %d: %s", f, code, stderr)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout, "wrote "+path) || !strings.Contains(stdout, "verification (verified)") ||
			strings.Count(stdout, "\n") != 1 {
			t.Errorf("report --format %s: stdout %q, want one line naming the file and the verdict", f, stdout)
		}
		if !strings.Contains(string(b), id) {
			t.Errorf("%s report does not name run %s", f, id)
		}
		outs[f] = string(b)
	}
	for _, sec := range []string{"summary", "rounds", "participation", "utility", "privacy", "fairness", "gate", "explanations", "lineage", "verification"} {
		if !strings.Contains(outs["html"], `<section id="`+sec+`">`) {
			t.Errorf("HTML report has no section %q", sec)
		}
	}
	if !strings.Contains(outs["md"], "## Rounds") || !strings.Contains(outs["md"], "## Fairness") {
		t.Errorf("Markdown report lacks its section headings")
	}
	var d report.Data
	if err := json.Unmarshal([]byte(outs["json"]), &d); err != nil {
		t.Fatalf("JSON report does not decode into report.Data: %v", err)
	}
	sdb, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := sdb.Rounds(context.Background(), id)
	sdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	if d.Summary.RunID != id || len(d.Rounds) != len(recs) || d.Fairness == nil || d.Privacy != nil ||
		d.GeneratedAt.IsZero() || d.Verification.Verdict() != report.VerdictVerified {
		t.Errorf("JSON report: run %q, %d rounds (store %d), fairness %v, privacy %v, generated %v, verdict %q",
			d.Summary.RunID, len(d.Rounds), len(recs), d.Fairness != nil, d.Privacy, d.GeneratedAt, d.Verification.Verdict())
	}

	// An existing file is not replaced without --force.
	html := filepath.Join(dir, "report.html")
	if err := os.WriteFile(html, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run(t, "report", id, "--db", db, "--out", html)
	if b, _ := os.ReadFile(html); code == 0 || !strings.Contains(stderr, "exists; pass --force") || string(b) != "keep me" {
		t.Errorf("report over an existing file: exit %d, %q, file now %d bytes; want a refusal that leaves it alone", code, stderr, len(b))
	}
	if _, stderr, code := run(t, "report", id, "--db", db, "--out", html, "--force"); code != 0 {
		t.Errorf("report --force: exit %d: %s", code, stderr)
	} else if b, _ := os.ReadFile(html); !strings.HasPrefix(string(b), "<!DOCTYPE html>") {
		t.Errorf("report --force did not replace the file: %.40q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"unknown run", []string{"report", "nope", "--db", db, "--out", filepath.Join(dir, "x.html")},
			[]string{`has no run "nope"`, "known runs: " + id}},
		{"unknown format", []string{"report", id, "--db", db, "--format", "pdf", "--out", filepath.Join(dir, "x.pdf")},
			[]string{`unknown format "pdf"`, "html, md, json"}},
		{"unwritable path", []string{"report", id, "--db", db, "--out", filepath.Join(dir, "no", "such", "dir", "x.html")},
			[]string{"cannot write in", "no such file or directory"}},
		{"missing db", []string{"report", id, "--db", filepath.Join(dir, "none.db"), "--out", filepath.Join(dir, "x.html")},
			[]string{"none.db"}},
		{"out is a directory", []string{"report", id, "--db", db, "--out", dir}, []string{"is a directory"}},
		{"no out", []string{"report", id, "--db", db}, []string{`"out" not set`}},
	} {
		_, stderr, code := run(t, tc.args...)
		if code == 0 {
			t.Errorf("%s: exit 0", tc.name)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr %q does not contain %q", tc.name, stderr, w)
			}
		}
	}
	for _, p := range []string{"x.html", "x.pdf"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("a failed report left %s behind", p)
		}
	}
}
