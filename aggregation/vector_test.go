package aggregation

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// chunked is a Vector served in pieces of size step; failOn makes the read
// with that number (1-based) fail after its first chunk, and shift moves
// every chunk's offset (a faulty source).
type chunked struct {
	v      []float64
	step   int
	reads  int
	failOn int
	shift  int
}

var errRead = errors.New("disk went away")

func (c *chunked) Len() int { return len(c.v) }

func (c *chunked) Chunks(fn func(int, []float64) error) error {
	c.reads++
	for off := 0; off < len(c.v); off += c.step {
		if c.reads == c.failOn && off > 0 {
			return errRead
		}
		if err := fn(off+c.shift, c.v[off:min(off+c.step, len(c.v))]); err != nil {
			return err
		}
	}
	return nil
}

// TestAddVectorEqualsAdd: folding an update chunk by chunk gives bit for bit
// the sum that folding it whole gives (the same operations in the same
// order per coordinate).
func TestAddVectorEqualsAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const dim = 1000
	whole, parts := NewWeightedSum(dim), NewWeightedSum(dim)
	for k := range 5 {
		d := randVec(r, dim, math.Pow(10, float64(k-2)))
		w := float64(1 + r.IntN(100))
		id := string(rune('a' + k))
		if err := whole.Add(id, d, w); err != nil {
			t.Fatal(err)
		}
		if err := parts.AddVector(id, &chunked{v: d, step: 37}, w); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := whole.Mean()
	b, _ := parts.Mean()
	if !slices.Equal(a, b) {
		t.Fatal("chunked and whole folding differ")
	}
}

// TestAddVectorLeavesStateOnBadValue: a NaN in the last chunk is found by
// the validating pass, before any chunk is folded.
func TestAddVectorLeavesStateOnBadValue(t *testing.T) {
	ws := NewWeightedSum(10)
	if err := ws.Add("a", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 1); err != nil {
		t.Fatal(err)
	}
	before, _ := ws.Mean()
	bad := []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, math.NaN()}
	err := ws.AddVector("b", &chunked{v: bad, step: 3}, 1)
	var ue *UpdateError
	if !errors.Is(err, ErrNotFinite) || !errors.As(err, &ue) || ue.Index != 9 || ue.Client != "b" {
		t.Fatalf("got %v, want ErrNotFinite at coordinate 9 of client b", err)
	}
	after, _ := ws.Mean()
	if !slices.Equal(before, after) || ws.Count() != 1 {
		t.Fatalf("state changed: %v -> %v (count %d)", before, after, ws.Count())
	}
	// The client was not marked seen: it may still send a valid update.
	if err := ws.AddVector("b", &chunked{v: make([]float64, 10), step: 4}, 1); err != nil {
		t.Fatalf("valid retry of b: %v", err)
	}
}

// TestAddVectorFaultySource: chunks at the wrong offsets or too few values
// are ErrWrongLength and change nothing; a source that fails while being
// folded breaks the sum for good.
func TestAddVectorFaultySource(t *testing.T) {
	ws := NewWeightedSum(6)
	for _, c := range []*chunked{
		{v: make([]float64, 6), step: 2, shift: 1},
		{v: make([]float64, 6), step: 2, shift: -1},
	} {
		if err := ws.AddVector("x", c, 1); !errors.Is(err, ErrWrongLength) {
			t.Errorf("shift %d: got %v, want ErrWrongLength", c.shift, err)
		}
	}
	short := Values(make([]float64, 6))
	if err := ws.AddVector("x", truncated{short}, 1); !errors.Is(err, ErrWrongLength) {
		t.Errorf("short source: got %v, want ErrWrongLength", err)
	}
	if ws.Count() != 0 || ws.Err() != nil {
		t.Fatalf("count %d, err %v after rejected vectors", ws.Count(), ws.Err())
	}
	// First read (validation) succeeds, the second (fold) fails midway.
	err := ws.AddVector("y", &chunked{v: []float64{1, 2, 3, 4, 5, 6}, step: 2, failOn: 2}, 1)
	if !errors.Is(err, errRead) {
		t.Fatalf("got %v, want the read error", err)
	}
	if !errors.Is(ws.Err(), errRead) {
		t.Fatalf("Err() = %v, want the read error", ws.Err())
	}
	if _, err := ws.Mean(); !errors.Is(err, errRead) {
		t.Fatalf("Mean after a broken fold: %v, want the read error", err)
	}
	if err := ws.Add("z", make([]float64, 6), 1); !errors.Is(err, errRead) {
		t.Fatalf("Add after a broken fold: %v, want the read error", err)
	}
}

// truncated serves all but the last value of v.
type truncated struct{ v Values }

func (t truncated) Len() int { return len(t.v) }
func (t truncated) Chunks(fn func(int, []float64) error) error {
	return fn(0, t.v[:len(t.v)-1])
}

// TestAddVectorFallback: an aggregator without AddVector (a buffering one)
// gets the update materialised, equal to the source.
func TestAddVectorFallback(t *testing.T) {
	s, err := New("median", Options{})
	if err != nil {
		t.Fatal(err)
	}
	global := make([]float64, 5)
	agg := s.NewAggregator(1, global)
	if _, ok := agg.(VectorAdder); ok {
		t.Skip("median streams now; the fallback is untested here")
	}
	d := []float64{1, -2, 3, -4, 5}
	if err := AddVector(agg, "a", &chunked{v: d, step: 2}, 3); err != nil {
		t.Fatal(err)
	}
	got, err := agg.Result()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, d) { // the median of one update is that update (global is zero)
		t.Fatalf("got %v, want %v", got, d)
	}
	if err := AddVector(agg, "b", truncated{Values(d)}, 1); err == nil {
		t.Fatal("a short source was accepted")
	}
}
