package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cohortfl/cohort/report"
)

// reportSections are the section ids of an HTML report (report/doc.go).
var reportSections = []string{"summary", "rounds", "participation", "utility", "privacy", "fairness", "gate",
	"explanations", "lineage", "verification"}

// TestReportOfSecureDPFairRun runs three real sites on pima_diabetes against
// a real coordinator over gRPC with mTLS, with threshold HE (t = 2 of 3),
// central client-level DP and the fairness gate (DI ≥ 0.8 on age ≤ 30 vs
// > 30; whether it passes does not matter). `cohort report` must then write
// the HTML, Markdown and JSON reports of the run, and the JSON must agree
// with the coordinator's file read directly. If chromium is on PATH, the
// HTML is rendered headless: no console message, every section in the DOM,
// and a screenshot.
//
// Set COHORT_E2E_KEEP=DIR to keep the reports and the screenshot there.
func TestReportOfSecureDPFairRun(t *testing.T) {
	skipShort(t)
	const id, rounds, sigma, delta = "report-he-dp", 4, 1.0, 1e-5
	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "pki"), threeSites...)
	db := filepath.Join(dir, "coordinator.db")
	run := writeRunConfig(t, dir, map[string]any{"run_id": id, "rounds": rounds, "min_clients": 3, "start_sites": 3,
		"round_timeout": "60s", "wait_for_clients": "30s", "model": "logreg", "classes": 2, "strategy": "fedavg",
		"secure": "he", "threshold": 2, "explain_rows": 50,
		"dp": map[string]any{"client": map[string]any{"epsilon": 50, "delta": delta, "clip": 1,
			"noise_multiplier": sigma, "mode": "central", "sample_rate": 1}},
		"fairness": map[string]any{"mode": "audit", "favorable": 0, "attributes": []map[string]any{{"name": "age", "cut": 30}}},
		"policy":   map[string]any{"fairness": map[string]any{"min_disparate_impact": 0.8}}})
	began := time.Now()
	c := startCoordinator(t, p, db, run, "--exit-when-done")
	sites := map[string]*proc{}
	for i, s := range threeSites {
		sites[s] = start(t, "site "+s, append([]string{"client", "run", "--coordinator", c.addr, "--dataset", "pima_diabetes",
			"--shard", fmt.Sprintf("%d/3", i+1), "--exit-when-done"}, p.tlsFlags(s)...)...)
	}
	if code := c.wait(t, 240*time.Second); code != 0 {
		t.Fatalf("coordinator exited with code %d:\n%s", code, tail(c.out.String(), 3000))
	}
	waitSites(t, sites)
	t.Logf("run %s: %d rounds with HE, DP and the fairness audit in %v", id, rounds, time.Since(began).Round(time.Millisecond))
	ro := openRO(t, db)
	if st := runState(t, ro, id); st != "completed" {
		t.Fatalf("run %s is %q, want completed", id, st)
	}
	pub := publication(t, db, id)

	files := map[string][]byte{}
	for _, f := range []string{"html", "md", "json"} {
		out := filepath.Join(dir, "report."+f)
		stdout := mustCLI(t, "report", id, "--db", db, "--format", f, "--out", out)
		t.Logf("report --format %s: %s", f, strings.TrimSpace(stdout))
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(id)) {
			t.Errorf("%s report does not name run %s", f, id)
		}
		files[f] = b
	}
	t.Logf("report sizes: HTML %d bytes, Markdown %d bytes, JSON %d bytes", len(files["html"]), len(files["md"]), len(files["json"]))
	for _, s := range reportSections {
		if !bytes.Contains(files["html"], []byte(`<section id="`+s+`">`)) {
			t.Errorf("HTML report has no section %q", s)
		}
	}
	if _, stderr, code := runCLI(t, 30*time.Second, "report", id, "--db", db, "--out", filepath.Join(dir, "report.html")); code == 0 ||
		!strings.Contains(stderr, "--force") {
		t.Errorf("report over an existing file: exit %d, %q; want a refusal that mentions --force", code, stderr)
	}

	// The JSON report against the file itself.
	var d report.Data
	if err := json.Unmarshal(files["json"], &d); err != nil {
		t.Fatalf("JSON report does not decode into report.Data: %v", err)
	}
	var attempts, ledgerRowsN int
	if err := ro.QueryRow(`SELECT COUNT(*) FROM rounds WHERE run_id = ?`, id).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if err := ro.QueryRow(`SELECT COUNT(*) FROM privacy_ledger WHERE run_id = ?`, id).Scan(&ledgerRowsN); err != nil {
		t.Fatal(err)
	}
	s := d.Summary
	if s.RunID != id || s.State != "completed" || s.RoundsCompleted != rounds || s.DPMode != "central" ||
		s.SecureAggregation != (report.SecureAggregation{Mode: report.SecAggHE, Threshold: 2, Parties: 3}) {
		t.Errorf("summary = %+v; want run %s completed after %d rounds, central DP, HE 2 of 3", s, id, rounds)
	}
	if len(d.Rounds) != attempts {
		t.Errorf("%d rounds in the report, %d attempts in the file", len(d.Rounds), attempts)
	}
	if d.Privacy == nil || len(d.Privacy.Ledger) != ledgerRowsN || ledgerRowsN < rounds || len(d.Privacy.Epsilon) != rounds {
		t.Errorf("privacy: %+v; the file has %d ledger rows for %d rounds", d.Privacy, ledgerRowsN, rounds)
	} else {
		last := float64(d.Privacy.Epsilon[rounds-1].Value)
		want := privacyEpsilon(t, 1, sigma, ledgerRowsN, delta) // every row has q = 1 and this σ
		if diff := last - want; diff > 1e-6*want || diff < -1e-6*want {
			t.Errorf("ε after round %d = %v, `cohort privacy epsilon` for the %d ledger rows gives %v", rounds, last, ledgerRowsN, want)
		}
	}
	if d.Fairness == nil || len(d.Fairness.Rounds) != rounds || len(d.Fairness.Groups) != 2 {
		t.Errorf("fairness: %+v; want one age audit per round and 2 groups", d.Fairness)
	}
	if len(d.Gate) != 1 || d.Gate[0].Passed != pub.Published || len(d.Gate[0].Checks) != len(pub.Decision.Checks) {
		t.Errorf("gate = %+v; publication passed %v with %d checks", d.Gate, pub.Published, len(pub.Decision.Checks))
	} else {
		t.Logf("gate: %s", pub.Decision.Summary())
	}
	if d.Explanations == nil || len(d.Explanations.Global) == 0 || len(d.Explanations.Groups) != 2 {
		t.Errorf("explanations: %+v; want global importance and 2 groups", d.Explanations)
	}
	if v := d.Verification.Verdict(); v != report.VerdictVerified {
		t.Errorf("verification %q: %+v", v, d.Verification.Checks)
	}
	if !bytes.Contains(files["md"], []byte("## Privacy")) || !bytes.Contains(files["md"], []byte(`fairness.min\_disparate\_impact\[age\]`)) {
		t.Errorf("Markdown report lacks the privacy section or the gate check")
	}

	png := renderChromium(t, filepath.Join(dir, "report.html"))
	if keep := os.Getenv("COHORT_E2E_KEEP"); keep != "" {
		if err := os.MkdirAll(keep, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, b := range files {
			if err := os.WriteFile(filepath.Join(keep, "report."+f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if png != nil {
			if err := os.WriteFile(filepath.Join(keep, "report.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("kept the reports in %s", keep)
	}
}

// chromiumConsole returns the browser console lines of Chromium's stderr
// (with --enable-logging=stderr they contain "CONSOLE").
func chromiumConsole(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "CONSOLE") {
			out = append(out, l)
		}
	}
	return out
}

// renderChromium loads the HTML report at page in headless Chromium, as
// report/chromium_test.go does: the page must log no console message (a
// control page with an external image must log its CSP violation, so the
// check can fail), its DOM must hold every section, and the screenshot must
// be a PNG. It returns the PNG, or nil if chromium is not on PATH.
func renderChromium(t *testing.T, page string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not on PATH but CI is set: .ci/run must install it")
		}
		t.Log("chromium is not on PATH: the report is not rendered in a browser")
		return nil
	}
	dir := t.TempDir()
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	control := filepath.Join(dir, "control.html")
	if err := os.WriteFile(control, bytes.Replace(html, []byte("<main>"), []byte(`<main><img src="https://example.invalid/x.png" alt="">`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	const width, height = 1280, 5000
	url := func(p string) string { return "file://" + filepath.ToSlash(p) }
	type browser struct {
		name           string
		args           []string
		stdout, stderr bytes.Buffer
		err            error
	}
	runs := []*browser{
		{name: "screenshot", args: []string{"--screenshot=" + shot, fmt.Sprintf("--window-size=%d,%d", width, height), url(page)}},
		{name: "dom", args: []string{"--dump-dom", url(page)}},
		{name: "control", args: []string{"--dump-dom", url(control)}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range runs {
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
			"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
			"--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1", "--enable-logging=stderr", "--v=0",
			"--user-data-dir=" + filepath.Join(dir, "profile-"+r.name)}, r.args...)
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
		cmd.WaitDelay = 10 * time.Second
		wg.Go(func() { r.err = cmd.Run() })
	}
	wg.Wait()
	for _, r := range runs {
		if r.err != nil {
			t.Fatalf("chromium %s: %v\n%s", r.name, r.err, r.stderr.String())
		}
	}
	for _, r := range runs[:2] {
		if lines := chromiumConsole(r.stderr.String()); len(lines) > 0 {
			t.Errorf("chromium %s: the report logged console messages:\n%s", r.name, strings.Join(lines, "\n"))
		}
	}
	if lines := chromiumConsole(runs[2].stderr.String()); !strings.Contains(strings.Join(lines, "\n"), "Content Security Policy") {
		t.Errorf("the control page logged no CSP violation, so the console check cannot detect errors; stderr:\n%s", runs[2].stderr.String())
	}
	dom := runs[1].stdout.String()
	for _, s := range reportSections {
		if !strings.Contains(dom, `<section id="`+s+`">`) {
			t.Errorf("DOM has no section %q", s)
		}
	}
	if n := strings.Count(dom, "<svg"); n < 4 {
		t.Errorf("DOM has %d <svg> charts; want at least 4 (utility, ε, DI, global importance)", n)
	}
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, runs[0].stderr.String())
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if bd := img.Bounds(); bd.Dx() != width || bd.Dy() != height {
		t.Errorf("screenshot is %dx%d; want %dx%d", bd.Dx(), bd.Dy(), width, height)
	}
	t.Logf("chromium: screenshot %dx%d, %d bytes; %d charts in the DOM", width, height, len(b), strings.Count(dom, "<svg"))
	return b
}
