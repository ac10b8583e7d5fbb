package coordinator

import (
	"errors"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/internal/protocol"
)

// TestSpoolRoundTrip: what is written comes back, in chunks of
// protocol.ChunkValues, bit for bit, any number of times; and the file is
// gone from the directory from the start.
func TestSpoolRoundTrip(t *testing.T) {
	dir := t.TempDir()
	n := 2*protocol.ChunkValues + 123
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Sin(float64(i)) * math.Pow(10, float64(i%7-3))
	}
	v[7] = math.Copysign(0, -1)
	sp, err := newSpool(dir, n)
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the spool file is still linked in %s: %v", dir, ents)
	}
	b := protocol.AppendFloats(nil, v)
	for off := 0; off < len(b); off += 8 * 1000 { // chunks unlike the read side's
		if err := sp.write(b[off:min(off+8*1000, len(b))]); err != nil {
			t.Fatal(err)
		}
		if off == 0 && !math.IsInf(sp.MaxAbs(), 1) {
			t.Errorf("MaxAbs of an incomplete spool = %v, want +Inf (no bound)", sp.MaxAbs())
		}
	}
	var maxAbs float64
	for _, x := range v {
		maxAbs = max(maxAbs, math.Abs(x))
	}
	if sp.MaxAbs() != maxAbs {
		t.Errorf("MaxAbs = %v, want %v", sp.MaxAbs(), maxAbs)
	}
	for range 2 {
		got, err := aggregation.Collect(sp)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, v, func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }) {
			t.Fatal("values read back differ from those written")
		}
	}
	calls := 0
	_ = sp.Chunks(func(off int, c []float64) error {
		if off != calls*protocol.ChunkValues || len(c) > protocol.ChunkValues {
			t.Errorf("chunk %d at %d with %d values", calls, off, len(c))
		}
		calls++
		return nil
	})
	if calls != 3 {
		t.Errorf("%d chunks, want 3", calls)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSpoolRejects: writing past the announced length, and reading an
// incomplete spool, are ErrWrongLength; a callback's error stops the read.
func TestSpoolRejects(t *testing.T) {
	sp, err := newSpool(t.TempDir(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := sp.write(protocol.AppendFloats(nil, []float64{1, 2, 3})); err != nil {
		t.Fatal(err)
	}
	if err := sp.Chunks(func(int, []float64) error { return nil }); !errors.Is(err, aggregation.ErrWrongLength) {
		t.Errorf("reading 3 of 4 values: %v, want ErrWrongLength", err)
	}
	if err := sp.write(protocol.AppendFloats(nil, []float64{4, 5})); !errors.Is(err, aggregation.ErrWrongLength) {
		t.Errorf("writing 5 of 4 values: %v, want ErrWrongLength", err)
	}
	if err := sp.write(protocol.AppendFloats(nil, []float64{4})); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	if err := sp.Chunks(func(int, []float64) error { return stop }); err != stop {
		t.Errorf("Chunks returned %v, want the callback's error", err)
	}
}

// TestSpoolBadDir: a spool directory that does not exist is a clear error.
func TestSpoolBadDir(t *testing.T) {
	_, err := newSpool("/nonexistent/cohort-spool", 10)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
}

// TestVectorSHA256: a spooled update hashes to what the site signs,
// protocol.ValuesSHA256 of its values.
func TestVectorSHA256(t *testing.T) {
	v := make([]float64, protocol.ChunkValues+5)
	for i := range v {
		v[i] = float64(i) / 3
	}
	sp, err := newSpool(t.TempDir(), len(v))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := sp.write(protocol.AppendFloats(nil, v)); err != nil {
		t.Fatal(err)
	}
	got, err := vectorSHA256(sp)
	if err != nil || got != protocol.ValuesSHA256(v) {
		t.Fatalf("vectorSHA256 = %x, %v; want %x", got, err, protocol.ValuesSHA256(v))
	}
}
