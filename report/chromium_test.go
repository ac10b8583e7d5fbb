package report

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// chromiumRun is one headless Chromium invocation.
type chromiumRun struct {
	name           string
	args           []string
	stdout, stderr bytes.Buffer
	err            error
	took           time.Duration
}

// consoleLines returns the browser console messages Chromium logged to
// stderr (with --enable-logging=stderr they appear as "...:CONSOLE...").
func (r *chromiumRun) consoleLines() []string {
	var out []string
	for _, l := range strings.Split(r.stderr.String(), "\n") {
		if strings.Contains(l, "CONSOLE") {
			out = append(out, l)
		}
	}
	return out
}

// TestChromium renders the sample report in headless Chromium: the page
// must load with no console message at all (no script errors, no blocked
// resource, since the report references none), its DOM must hold every
// section and chart, and a 1280×4000 screenshot must show the tables and
// charts in their colours. A control page (the same report plus one
// external image) must produce a console message, which proves the console
// check can fail.
func TestChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil && os.Getenv("CI") != "" {
		t.Fatal("chromium is not on PATH but CI is set: .ci/run must install it (apt-get install chromium)")
	}
	if err != nil {
		t.Skip("chromium is not on PATH, skipping the headless browser check " +
			"(.ci/run installs it: apt-get install chromium)")
	}
	if testing.Short() {
		t.Skip("-short: skipping the headless browser check")
	}
	start := time.Now()
	dir := t.TempDir()
	page := render(t, sampleData(), HTML)
	reportPath := filepath.Join(dir, "report.html")
	controlPath := filepath.Join(dir, "control.html")
	shotPath := filepath.Join(dir, "report.png")
	control := strings.Replace(page, "<main>", `<main><img src="https://example.invalid/x.png" alt="">`, 1)
	for p, s := range map[string]string{reportPath: page, controlPath: control} {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	url := func(p string) string { return "file://" + filepath.ToSlash(p) }

	const width, height = 1280, 4000
	runs := []*chromiumRun{
		{name: "screenshot", args: []string{"--screenshot=" + shotPath, fmt.Sprintf("--window-size=%d,%d", width, height), url(reportPath)}},
		{name: "dom", args: []string{"--dump-dom", url(reportPath)}},
		{name: "control", args: []string{"--dump-dom", url(controlPath)}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range runs {
		profile := filepath.Join(dir, "profile-"+r.name)
		args := append([]string{
			"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
			"--no-first-run", "--no-default-browser-check", "--disable-extensions",
			"--disable-background-networking", "--disable-sync", "--hide-scrollbars",
			"--force-device-scale-factor=1", "--enable-logging=stderr", "--v=0",
			"--user-data-dir=" + profile,
		}, r.args...)
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
		cmd.WaitDelay = 10 * time.Second // helpers that keep the pipes open
		wg.Go(func() {
			t0 := time.Now()
			r.err = cmd.Run()
			r.took = time.Since(t0)
		})
	}
	wg.Wait()
	for _, r := range runs {
		t.Logf("chromium %s: %v", r.name, r.took.Round(time.Millisecond))
		if r.err != nil {
			t.Fatalf("chromium %s: %v\n%s", r.name, r.err, r.stderr.String())
		}
	}
	screenshot, dom, ctrl := runs[0], runs[1], runs[2]

	// Console: nothing for the report, something for the control.
	for _, r := range []*chromiumRun{screenshot, dom} {
		if lines := r.consoleLines(); len(lines) > 0 {
			t.Errorf("chromium %s: the report logged console messages:\n%s", r.name, strings.Join(lines, "\n"))
		}
	}
	if lines := ctrl.consoleLines(); len(lines) == 0 || !strings.Contains(strings.Join(lines, "\n"), "Content Security Policy") {
		t.Errorf("control page with an external image logged no CSP violation, so the console check cannot detect errors; stderr:\n%s",
			ctrl.stderr.String())
	}

	// DOM: every section and every chart survived parsing.
	got := dom.stdout.String()
	for _, id := range sectionIDs {
		if !strings.Contains(got, `<section id="`+id+`">`) {
			t.Errorf("DOM has no section %q", id)
		}
	}
	if n, want := strings.Count(got, "<svg"), 4+len(sampleGroups); n != want {
		t.Errorf("DOM has %d <svg> elements; want %d", n, want)
	}

	// Screenshot: right size, not blank, chart and pass/fail colours drawn.
	f, err := os.Open(shotPath)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, screenshot.stderr.String())
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Errorf("screenshot is %dx%d; want %dx%d", b.Dx(), b.Dy(), width, height)
	}
	colours, nonWhite := imageStats(img)
	if colours < 200 {
		t.Errorf("screenshot has %d distinct colours; want at least 200 (blank page?)", colours)
	}
	if frac := float64(nonWhite) / float64(width*height); frac < 0.03 {
		t.Errorf("only %.2f%% of the screenshot is not white", 100*frac)
	}
	for name, c := range map[string][3]uint8{
		"series 1 (accuracy)": {0x00, 0x72, 0xb2},
		"series 2 (AUC)":      {0xd5, 0x5e, 0x00},
		"pass cell":           {0xe3, 0xf4, 0xe8},
		"fail cell":           {0xfb, 0xe4, 0xe2},
	} {
		if n := countColour(img, c, 3); n < 50 {
			t.Errorf("screenshot has %d pixels of the %s colour #%02x%02x%02x; want at least 50", n, name, c[0], c[1], c[2])
		}
	}
	t.Logf("HTML %d bytes, screenshot %d distinct colours, %.1f%% non-white; whole test %v",
		len(page), colours, 100*float64(nonWhite)/float64(width*height), time.Since(start).Round(time.Millisecond))
}

// imageStats returns the number of distinct colours of img and of its
// pixels that are not (almost) white.
func imageStats(img image.Image) (colours, nonWhite int) {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if r>>8 < 245 || g>>8 < 245 || bl>>8 < 245 {
				nonWhite++
			}
		}
	}
	return len(seen), nonWhite
}

// countColour counts the pixels of img within tol of c in every channel.
func countColour(img image.Image, c [3]uint8, tol int) int {
	n := 0
	b := img.Bounds()
	near := func(v uint32, w uint8) bool { d := int(v>>8) - int(w); return d >= -tol && d <= tol }
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r, c[0]) && near(g, c[1]) && near(bl, c[2]) {
				n++
			}
		}
	}
	return n
}
