package progress

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// PlainInterval is the longest time between two plain (non-terminal) lines
// while progress is being made.
const PlainInterval = 10 * time.Second

type mode int

const (
	modeOff mode = iota
	modeTerminal
	modePlain
)

// Bar reports progress towards a total. Its methods may be called from
// several goroutines. A nil *Bar is valid and does nothing.
type Bar struct {
	mode mode
	bar  *progressbar.ProgressBar // modeTerminal only

	mu       sync.Mutex // guards the fields below (modePlain)
	w        io.Writer
	total    int
	current  int
	desc     string
	now      func() time.Time
	start    time.Time
	lastLine time.Time
	lastStep int // last 10% step printed
	finished bool
}

// New returns a Bar that reports to w. total is the expected number of
// units; total <= 0 means unknown, in which case plain output is time based
// only. description names the unit of work, e.g. "round". When enabled is
// false the Bar does nothing.
func New(w io.Writer, total int, description string, enabled bool) *Bar {
	switch {
	case !enabled || w == nil:
		return &Bar{mode: modeOff}
	case isTerminal(w):
		max := total
		if max <= 0 {
			max = -1 // spinner
		}
		return &Bar{mode: modeTerminal, bar: progressbar.NewOptions(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(description),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)}
	default:
		return newPlain(w, total, description, time.Now)
	}
}

func newPlain(w io.Writer, total int, description string, now func() time.Time) *Bar {
	if description == "" {
		description = "progress"
	}
	t := now()
	return &Bar{mode: modePlain, w: w, total: total, desc: description,
		now: now, start: t, lastLine: t}
}

// isTerminal reports whether w is a file descriptor attached to a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// Add records n more units of completed work.
func (b *Bar) Add(n int) {
	if b == nil {
		return
	}
	switch b.mode {
	case modeTerminal:
		_ = b.bar.Add(n)
	case modePlain:
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.finished {
			return
		}
		b.current += n
		now := b.now()
		step := b.step()
		if step > b.lastStep || now.Sub(b.lastLine) >= PlainInterval {
			b.lastStep = max(b.lastStep, step)
			b.printLocked(now, "")
		}
	}
}

// Describe replaces the description shown with the progress.
func (b *Bar) Describe(s string) {
	if b == nil {
		return
	}
	switch b.mode {
	case modeTerminal:
		b.bar.Describe(s)
	case modePlain:
		b.mu.Lock()
		b.desc = s
		b.mu.Unlock()
	}
}

// Finish ends the report: the terminal bar is completed, plain output gets a
// final "done" line. Calls after the first, and Adds after Finish, do
// nothing.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	switch b.mode {
	case modeTerminal:
		_ = b.bar.Finish()
	case modePlain:
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.finished {
			return
		}
		b.finished = true
		b.printLocked(b.now(), " done")
	}
}

// step returns how many whole tenths of the total are done (0 to 10); 0
// when the total is unknown.
func (b *Bar) step() int {
	if b.total <= 0 {
		return 0
	}
	return min(10, max(0, b.current*10/b.total))
}

func (b *Bar) printLocked(now time.Time, suffix string) {
	b.lastLine = now
	elapsed := now.Sub(b.start).Round(time.Second)
	if b.total > 0 {
		pct := b.current * 100 / b.total
		fmt.Fprintf(b.w, "%s %d/%d (%d%%)%s elapsed %s\n", b.desc, b.current, b.total, pct, suffix, elapsed)
		return
	}
	fmt.Fprintf(b.w, "%s %d%s elapsed %s\n", b.desc, b.current, suffix, elapsed)
}
