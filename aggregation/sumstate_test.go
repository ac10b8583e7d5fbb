package aggregation

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// oddChunks is a Vector that hands out its values in chunks of 7 values,
// so chunk and window boundaries never line up.
type oddChunks []float64

func (v oddChunks) Len() int { return len(v) }
func (v oddChunks) Chunks(fn func(int, []float64) error) error {
	for off := 0; off < len(v); off += 7 {
		if err := fn(off, v[off:min(off+7, len(v))]); err != nil {
			return err
		}
	}
	return nil
}

func scratchFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "sum-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestWeightedSumInFile checks that a sum kept in a file gives bit for bit
// the sum, mean and weight of the same sum kept in memory: the arithmetic
// per coordinate is the same, only where the state lives changes. The
// dimensions straddle the file window, and updates arrive both whole and
// in chunks that cut across windows.
func TestWeightedSumInFile(t *testing.T) {
	for _, dim := range []int{1, fileWindow - 1, fileWindow, 2*fileWindow + 3} {
		r := rand.New(rand.NewPCG(uint64(dim), 1))
		mem, file := NewWeightedSum(dim), NewWeightedSumIn(dim, scratchFile(t))
		for k := range 5 {
			d := make([]float64, dim)
			for i := range d {
				d[i] = r.NormFloat64() * math.Pow(10, float64(r.IntN(12)-6))
			}
			w := float64(1 + r.IntN(50))
			var v Vector = Values(d)
			if k%2 == 1 {
				v = oddChunks(d)
			}
			client := string(rune('a' + k))
			if err := mem.Add(client, d, w); err != nil {
				t.Fatal(err)
			}
			if err := file.AddVector(client, v, w); err != nil {
				t.Fatalf("dim %d, update %d: %v", dim, k, err)
			}
		}
		ms, fs := sumOf(t, mem), sumOf(t, file)
		mm, err1 := mem.Mean()
		fm, err2 := file.Mean()
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		for i := range ms {
			if math.Float64bits(ms[i]) != math.Float64bits(fs[i]) || math.Float64bits(mm[i]) != math.Float64bits(fm[i]) {
				t.Fatalf("dim %d, coordinate %d: file sum %v mean %v, memory sum %v mean %v", dim, i, fs[i], fm[i], ms[i], mm[i])
			}
		}
		if mem.TotalWeight() != file.TotalWeight() || file.Count() != 5 {
			t.Errorf("dim %d: weight %v count %d, want %v and 5", dim, file.TotalWeight(), file.Count(), mem.TotalWeight())
		}
		taken, err := file.takeMean()
		if err != nil || len(taken) != dim || taken[dim-1] != mm[dim-1] {
			t.Fatalf("dim %d: takeMean = %d values, %v", dim, len(taken), err)
		}
		if _, err := file.Mean(); !errors.Is(err, ErrClosed) {
			t.Errorf("dim %d: Mean after takeMean = %v, want ErrClosed", dim, err)
		}
	}
}

// TestWeightedSumInFileRejects checks that a bad value in the last window
// of a file-backed sum is reported with its index and leaves the state as
// it was.
func TestWeightedSumInFileRejects(t *testing.T) {
	dim := fileWindow + 10
	ws := NewWeightedSumIn(dim, scratchFile(t))
	ones := make([]float64, dim)
	for i := range ones {
		ones[i] = 1
	}
	if err := ws.Add("a", ones, 2); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		x    float64
	}{{"NaN", math.NaN()}, {"overflow", math.MaxFloat64}} {
		bad := append([]float64(nil), ones...)
		bad[dim-1] = tc.x
		err := ws.AddVector("b", oddChunks(bad), 3)
		var ue *UpdateError
		if !errors.Is(err, ErrNotFinite) || !errors.As(err, &ue) || ue.Index != dim-1 {
			t.Errorf("%s: AddVector = %v, want ErrNotFinite at %d", tc.name, err, dim-1)
		}
	}
	s := sumOf(t, ws)
	for i, v := range s {
		if v != 2 {
			t.Fatalf("coordinate %d = %v after rejected updates, want 2", i, v)
		}
	}
	if ws.Count() != 1 || ws.TotalWeight() != 2 {
		t.Errorf("count %d, weight %v after rejected updates; want 1 and 2", ws.Count(), ws.TotalWeight())
	}
}

// failingScratch fails reads or writes at or beyond byte offset failAt.
type failingScratch struct {
	f              *os.File
	failReadsAt    int64
	failWritesAt   int64
	reads, writes  int
	errRead, errWr error
}

func (s *failingScratch) ReadAt(p []byte, off int64) (int, error) {
	s.reads++
	if off >= s.failReadsAt {
		return 0, s.errRead
	}
	return s.f.ReadAt(p, off)
}

func (s *failingScratch) WriteAt(p []byte, off int64) (int, error) {
	s.writes++
	if off >= s.failWritesAt {
		return 0, s.errWr
	}
	return s.f.WriteAt(p, off)
}

// TestWeightedSumInFileIOErrors: a read failure while validating leaves
// the sum usable; a write failure while folding breaks it for good.
func TestWeightedSumInFileIOErrors(t *testing.T) {
	dim := 2*fileWindow + 1
	ones := make([]float64, dim)
	for i := range ones {
		ones[i] = 1
	}
	readErr, writeErr := errors.New("disk read failed"), errors.New("disk full")
	sc := &failingScratch{f: scratchFile(t), failReadsAt: math.MaxInt64, failWritesAt: math.MaxInt64, errRead: readErr, errWr: writeErr}
	ws := NewWeightedSumIn(dim, sc)
	if err := ws.Add("a", ones, 1); err != nil {
		t.Fatal(err)
	}
	sc.failReadsAt = 8 * fileWindow // the second window of the sums
	if err := ws.Add("b", ones, 1); !errors.Is(err, readErr) {
		t.Errorf("Add with failing reads = %v, want the read error", err)
	}
	sc.failReadsAt = math.MaxInt64
	if ws.Err() != nil || ws.Count() != 1 {
		t.Fatalf("a failed validation read changed the sum: Err %v, count %d", ws.Err(), ws.Count())
	}
	if err := ws.Add("b", ones, 1); err != nil {
		t.Fatalf("Add after the disk recovered: %v", err)
	}
	if s := sumOf(t, ws); s[0] != 2 || s[dim-1] != 2 {
		t.Fatalf("sum %v…%v, want 2", s[0], s[dim-1])
	}

	sc.failWritesAt = 8 * fileWindow
	if err := ws.Add("c", ones, 1); !errors.Is(err, writeErr) {
		t.Errorf("Add with failing writes = %v, want the write error", err)
	}
	sc.failWritesAt = math.MaxInt64
	if ws.Err() == nil {
		t.Fatal("a failed write left the sum usable; it holds part of an update")
	}
	if _, err := ws.Mean(); !errors.Is(err, writeErr) {
		t.Errorf("Mean of a broken sum = %v, want the write error", err)
	}
	if err := ws.Add("d", ones, 1); err == nil {
		t.Error("Add to a broken sum succeeded")
	}
}

// TestSpill checks FedAvg through a spilled aggregator against the same
// round in memory, and that Spill is refused once an update is in.
func TestSpill(t *testing.T) {
	dim := fileWindow + 100
	global := make([]float64, dim)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range global {
		global[i] = r.NormFloat64()
	}
	s, err := New(NameFedAvg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mem := s.NewAggregator(1, global)
	file := s.NewAggregator(1, global)
	if err := file.(Spiller).Spill(scratchFile(t)); err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		d := make([]float64, dim)
		for i := range d {
			d[i] = r.NormFloat64()
		}
		u := Update{Client: string(rune('a' + k)), Delta: d, NumExamples: int64(10 * (k + 1))}
		if err := mem.Add(u); err != nil {
			t.Fatal(err)
		}
		if err := file.Add(u); err != nil {
			t.Fatal(err)
		}
	}
	want, err1 := mem.Result()
	got, err2 := file.Result()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("coordinate %d: spilled FedAvg %v, in memory %v", i, got[i], want[i])
		}
	}
	late := s.NewAggregator(2, global)
	if err := late.Add(Update{Client: "a", Delta: global, NumExamples: 1}); err != nil {
		t.Fatal(err)
	}
	if err := late.(Spiller).Spill(scratchFile(t)); err == nil {
		t.Error("Spill after an Add succeeded")
	}
}

// TestResultTo checks that ResultTo writes what Result returns, for FedAvg
// (written in place) and FedAdam (through ApplyMean), with the sum in
// memory and in a file, and that the aggregator is closed afterwards.
func TestResultTo(t *testing.T) {
	dim := fileWindow + 9
	r := rand.New(rand.NewPCG(3, 4))
	global := make([]float64, dim)
	for i := range global {
		global[i] = r.NormFloat64()
	}
	updates := make([]Update, 3)
	for k := range updates {
		d := make([]float64, dim)
		for i := range d {
			d[i] = r.NormFloat64()
		}
		updates[k] = Update{Client: string(rune('a' + k)), Delta: d, NumExamples: int64(5 + k)}
	}
	for _, name := range []string{NameFedAvg, NameFedAdam} {
		for _, spill := range []bool{false, true} {
			agg := func() Aggregator {
				s, err := New(name, Options{}) // a fresh strategy: FedAdam keeps state
				if err != nil {
					t.Fatal(err)
				}
				a := s.NewAggregator(1, global)
				if spill {
					if err := a.(Spiller).Spill(scratchFile(t)); err != nil {
						t.Fatal(err)
					}
				}
				for _, u := range updates {
					if err := a.Add(u); err != nil {
						t.Fatal(err)
					}
				}
				return a
			}
			want, err := agg().Result()
			if err != nil {
				t.Fatal(err)
			}
			a := agg()
			rw := a.(ResultWriter)
			if err := rw.ResultTo(make([]float64, dim-1)); !errors.Is(err, ErrWrongLength) {
				t.Errorf("%s spill=%v: ResultTo a short buffer = %v, want ErrWrongLength", name, spill, err)
			}
			dst := make([]float64, dim)
			if err := rw.ResultTo(dst); err != nil {
				t.Fatalf("%s spill=%v: %v", name, spill, err)
			}
			for i := range want {
				if math.Float64bits(dst[i]) != math.Float64bits(want[i]) {
					t.Fatalf("%s spill=%v: coordinate %d = %v, Result gives %v", name, spill, i, dst[i], want[i])
				}
			}
			if _, err := a.Result(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s spill=%v: Result after ResultTo = %v, want ErrClosed", name, spill, err)
			}
			if err := a.Add(Update{Client: "z", Delta: global, NumExamples: 1}); !errors.Is(err, ErrClosed) {
				t.Errorf("%s spill=%v: Add after ResultTo = %v, want ErrClosed", name, spill, err)
			}
		}
	}
}

// bounded is a BoundedVector over oddChunks with a claimed bound; it
// counts how many times its values are read.
type bounded struct {
	oddChunks
	claim float64
	reads int
}

func (b *bounded) MaxAbs() float64 { return b.claim }
func (b *bounded) Chunks(fn func(int, []float64) error) error {
	b.reads++
	return b.oddChunks.Chunks(fn)
}

// TestBoundedVectorSkipsValidation: an update whose bound rules out an
// overflow is read once and folds to the same bits as a validated one; a
// bound that leaves no room is validated as usual; an update that breaks
// its bound breaks the sum instead of corrupting it.
func TestBoundedVectorSkipsValidation(t *testing.T) {
	dim := fileWindow + 5
	r := rand.New(rand.NewPCG(11, 12))
	mk := func() []float64 {
		d := make([]float64, dim)
		for i := range d {
			d[i] = r.NormFloat64()
		}
		return d
	}
	for _, inFile := range []bool{false, true} {
		ref, ws := NewWeightedSum(dim), NewWeightedSum(dim)
		if inFile {
			ws = NewWeightedSumIn(dim, scratchFile(t))
		}
		for k := range 3 {
			d := mk()
			var m float64
			for _, x := range d {
				m = max(m, math.Abs(x))
			}
			b := &bounded{oddChunks: d, claim: m}
			client := string(rune('a' + k))
			if err := ws.AddVector(client, b, 4); err != nil {
				t.Fatal(err)
			}
			if b.reads != 1 {
				t.Errorf("file=%v: a bounded update was read %d times, want 1", inFile, b.reads)
			}
			if err := ref.Add(client, d, 4); err != nil {
				t.Fatal(err)
			}
		}
		got, want := sumOf(t, ws), sumOf(t, ref)
		for i := range want {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Fatalf("file=%v: coordinate %d = %v, validated path gives %v", inFile, i, got[i], want[i])
			}
		}

		// A bound near the top of the range: validated (read twice), and
		// the overflow it hides is refused with the sum unchanged.
		huge := mk()
		huge[dim-1] = math.MaxFloat64 / 2
		b := &bounded{oddChunks: huge, claim: math.MaxFloat64 / 2}
		if err := ws.AddVector("huge", b, 4); !errors.Is(err, ErrNotFinite) || b.reads != 1 {
			t.Errorf("file=%v: overflowing update = %v after %d reads, want ErrNotFinite after the validation read", inFile, err, b.reads)
		}
		if ws.Err() != nil || ws.Count() != 3 {
			t.Fatalf("file=%v: a validated refusal changed the sum: %v, count %d", inFile, ws.Err(), ws.Count())
		}

		// A vector that lies about its bound.
		liar := mk()
		liar[dim-1] = math.NaN()
		if err := ws.AddVector("liar", &bounded{oddChunks: liar, claim: 5}, 4); !errors.Is(err, ErrNotFinite) {
			t.Errorf("file=%v: NaN under a bound of 5 = %v, want ErrNotFinite", inFile, err)
		}
		if ws.Err() == nil {
			t.Errorf("file=%v: the sum is usable after folding part of an update that broke its bound", inFile)
		}
	}
}
