package progress

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func lines(buf *bytes.Buffer) []string {
	s := strings.TrimRight(buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestPlainEveryTenPercent(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	b := newPlain(&buf, 20, "round", clk.now)
	for range 20 {
		clk.advance(time.Second)
		b.Add(1)
	}
	b.Finish()
	var want []string
	for r := 2; r <= 20; r += 2 {
		want = append(want, fmt.Sprintf("round %d/20 (%d%%) elapsed %ds", r, r*5, r))
	}
	want = append(want, "round 20/20 (100%) done elapsed 20s")
	got := lines(&buf)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPlainIntervalAndDescribe(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	b := newPlain(&buf, 1000, "round", clk.now)
	b.Add(1) // 0.1%, no time passed: silent
	clk.advance(PlainInterval - time.Second)
	b.Add(1) // still under the interval: silent
	clk.advance(time.Second)
	b.Describe("aggregating")
	b.Add(1) // interval reached: prints
	clk.advance(time.Second)
	b.Add(1) // interval restarted: silent
	want := []string{"aggregating 3/1000 (0%) elapsed 10s"}
	if got := lines(&buf); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output = %q; want %q", got, want)
	}
}

func TestPlainUnknownTotal(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	b := newPlain(&buf, 0, "", clk.now)
	b.Add(5)
	clk.advance(PlainInterval)
	b.Add(5)
	b.Finish()
	want := []string{"progress 10 elapsed 10s", "progress 10 done elapsed 10s"}
	if got := lines(&buf); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output = %q; want %q", got, want)
	}
}

func TestPlainFinishIdempotent(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	b := newPlain(&buf, 4, "round", clk.now)
	b.Add(4)
	b.Finish()
	b.Finish()
	b.Add(4)
	want := []string{"round 4/4 (100%) elapsed 0s", "round 4/4 (100%) done elapsed 0s"}
	if got := lines(&buf); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output = %q; want %q", got, want)
	}
}

// New on a non-terminal writer must choose the plain path.
func TestNewNonTerminalIsPlain(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, 10, "round", true)
	b.Add(3)
	b.Finish()
	out := buf.String()
	for _, want := range []string{"round 3/10 (30%)", "round 3/10 (30%) done"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "\r") || strings.Contains(out, "\x1b") {
		t.Errorf("plain output %q contains terminal control characters", out)
	}
}

func TestDisabledWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, 10, "round", false)
	b.Describe("x")
	b.Add(10)
	b.Finish()
	if buf.Len() != 0 {
		t.Errorf("disabled bar wrote %q", buf.String())
	}
	var nilBar *Bar
	nilBar.Add(1)
	nilBar.Describe("x")
	nilBar.Finish()
}

func TestIsTerminalRegularFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("isTerminal(regular file) = true; want false")
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("isTerminal(*bytes.Buffer) = true; want false")
	}
}

func TestPlainConcurrentAdd(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, 800, "client", true)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Add(1)
			}
		})
	}
	wg.Wait()
	b.Finish()
	got := lines(&buf)
	if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "client 800/800 (100%) done") {
		t.Errorf("last line = %q; want client 800/800 (100%%) done ...", got)
	}
	// One line per 10% step plus the final line; no step printed twice.
	if len(got) != 11 {
		t.Errorf("got %d lines; want 11:\n%s", len(got), buf.String())
	}
}
