package bench

import (
	"math"
	"testing"
)

func TestGCStats(t *testing.T) {
	var s gcStats
	lines := []struct {
		line string
		gc   bool
	}{
		{"gc 1 @0.011s 2%: 0.012+1.2+0.005 ms clock, 0.024+0.31/0.52/0.10+0.010 ms cpu, 3->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P", true},
		{"gc 2 @0.500s 1%: 0.02+3+0.01 ms clock, 0.04+0.1/2/0+0.02 ms cpu, 40->42->17 MB, 41 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)", true},
		{"gc 3 @0.900s 1%: 0.02+3+0.01 ms clock, 0.04+0.1/2/0+0.02 ms cpu, 30->31->25 MB, 34 MB goal, 0 MB stacks, 0 MB globals, 2 P", true},
		{`time=2026-01-01T00:00:00Z level=WARN msg="round failed"`, false},
		{"scvg: 1 MB released", false},
	}
	for _, l := range lines {
		if got := s.add(l.line); got != l.gc {
			t.Errorf("add(%q) = %v; want %v", l.line, got, l.gc)
		}
	}
	if want := (gcStats{peakHeap: 40 << 20, maxLive: 25 << 20, cycles: 3}); s != want {
		t.Errorf("after three cycles, stats = %+v; want %+v", s, want)
	}
}

func TestWithGCTrace(t *testing.T) {
	for in, want := range map[string]string{"": "gctrace=1", "madvdontneed=1": "madvdontneed=1,gctrace=1"} {
		if got := withGCTrace(in); got != want {
			t.Errorf("withGCTrace(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestFitLine checks the least-squares fit on points with a known line,
// exactly on it and then with residuals of ±r, whose fitted line is known
// in closed form.
func TestFitLine(t *testing.T) {
	xs := []float64{4e6, 8e6, 16e6}
	on := []float64{2.5*4e6 + 7e7, 2.5*8e6 + 7e7, 2.5*16e6 + 7e7}
	k, c, r := fitLine(xs, on)
	if math.Abs(k-2.5) > 1e-12 || math.Abs(c-7e7) > 1e-3 || r > 1e-3 {
		t.Errorf("fit of points on y = 2.5x + 7e7: slope %v, intercept %v, residual %v", k, c, r)
	}
	// With evenly spaced xs, residuals (+e, −2e, +e) are orthogonal to both
	// the constant and the centred x, so the fitted line is unchanged and
	// the largest residual is 2e.
	xs = []float64{4e6, 8e6, 12e6}
	const e = 1e6
	off := []float64{2.5*4e6 + 7e7 + e, 2.5*8e6 + 7e7 - 2*e, 2.5*12e6 + 7e7 + e}
	k, c, r = fitLine(xs, off)
	if math.Abs(k-2.5) > 1e-12 || math.Abs(c-7e7) > 1e-3 || math.Abs(r-2*e) > 1e-3 {
		t.Errorf("fit with residuals (+e, −2e, +e): slope %v, intercept %v, largest residual %v; want 2.5, 7e7, 2e6", k, c, r)
	}
}
