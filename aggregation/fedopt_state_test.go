package aggregation

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

var fedOptNames = []string{NameFedAdam, NameFedYogi, NameFedAdagrad}

// stateRounds returns the updates of rounds 1..n: k clients, dim coordinates.
func stateRounds(seed uint64, n, k, dim int) [][]Update {
	r := rand.New(rand.NewPCG(seed, 17))
	rounds := make([][]Update, n)
	for i := range rounds {
		for c := range k {
			rounds[i] = append(rounds[i], Update{Client: fmt.Sprint("c", c), Delta: randVec(r, dim, 0.1), NumExamples: int64(1 + r.IntN(50))})
		}
	}
	return rounds
}

func newStateful(t *testing.T, name string, o Options) StatefulStrategy {
	t.Helper()
	s, err := New(name, o)
	if err != nil {
		t.Fatal(err)
	}
	ss, ok := s.(StatefulStrategy)
	if !ok {
		t.Fatalf("%s does not implement StatefulStrategy", name)
	}
	return ss
}

func runRound(t *testing.T, s Strategy, round int, global []float64, ups []Update) []float64 {
	t.Helper()
	agg := s.NewAggregator(round, global)
	for _, u := range ups {
		if err := agg.Add(u); err != nil {
			t.Fatal(err)
		}
	}
	out, err := agg.Result()
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	return out
}

func mustMarshal(t *testing.T, s StatefulStrategy) []byte {
	t.Helper()
	b, err := s.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// A coordinator that crashes after committing round 2 and resumes from the
// stored state computes round 3 exactly as the uninterrupted run.
func TestFedOptStateRoundTrip(t *testing.T) {
	opts := Options{ServerLR: 0.05, Beta1: 0.8, Beta2: 0.95, Tau: 0.02}
	const dim = 6
	for _, name := range fedOptNames {
		rounds := stateRounds(1, 3, 4, dim)
		global0 := randVec(rand.New(rand.NewPCG(2, 3)), dim, 1)

		a := newStateful(t, name, opts)
		if b := mustMarshal(t, a); b != nil {
			t.Errorf("%s: MarshalState before any round = %v, want nil", name, b)
		}
		x1 := runRound(t, a, 1, global0, rounds[0])
		x2 := runRound(t, a, 2, x1, rounds[1])
		state2 := mustMarshal(t, a)
		saved := bytes.Clone(state2)
		x3 := runRound(t, a, 3, x2, rounds[2])
		state3 := mustMarshal(t, a)
		if !bytes.Equal(state2, saved) {
			t.Errorf("%s: round 3 changed the bytes MarshalState returned after round 2", name)
		}

		b := newStateful(t, name, opts)
		if err := b.UnmarshalState(state2); err != nil {
			t.Fatalf("%s: UnmarshalState: %v", name, err)
		}
		clear(state2) // b must not retain the slice
		if got := mustMarshal(t, b); !bytes.Equal(got, saved) {
			t.Errorf("%s: MarshalState after UnmarshalState differs from the input", name)
		}
		if got := runRound(t, b, 3, x2, rounds[2]); !sameBits(got, x3) {
			t.Errorf("%s: round 3 after restoring = %v, want %v bit for bit", name, got, x3)
		}
		if got := mustMarshal(t, b); !bytes.Equal(got, state3) {
			t.Errorf("%s: state after the restored round 3 differs from the uninterrupted run's", name)
		}

		// The same through ApplyMean, the secure-aggregation path.
		c := newStateful(t, name, opts)
		if err := c.UnmarshalState(saved); err != nil {
			t.Fatal(err)
		}
		mean := weightedMean(rounds[2])
		want, errA := newRestored(t, name, opts, saved).(MeanStrategy).ApplyMean(3, x2, mean)
		got, errC := c.(MeanStrategy).ApplyMean(3, x2, mean)
		if errA != nil || errC != nil || !sameBits(got, want) {
			t.Errorf("%s: ApplyMean after restoring = %v, %v; want %v, %v", name, got, errC, want, errA)
		}

		// An empty state resets to a fresh optimiser.
		if err := c.UnmarshalState(nil); err != nil {
			t.Fatalf("%s: UnmarshalState(nil): %v", name, err)
		}
		if b := mustMarshal(t, c); b != nil {
			t.Errorf("%s: MarshalState after UnmarshalState(nil) = %v, want nil", name, b)
		}
		fresh := newStateful(t, name, opts)
		if got, want := runRound(t, c, 1, global0, rounds[0]), runRound(t, fresh, 1, global0, rounds[0]); !sameBits(got, want) {
			t.Errorf("%s: after UnmarshalState(nil), round 1 = %v, want the fresh strategy's %v", name, got, want)
		}

		// A restored state fixes the dimension like a computed one.
		if _, err := newRestored(t, name, opts, saved).(MeanStrategy).ApplyMean(3, []float64{1}, []float64{1}); !errors.Is(err, ErrWrongLength) {
			t.Errorf("%s: ApplyMean of another dimension after restoring: %v, want ErrWrongLength", name, err)
		}
	}
}

func newRestored(t *testing.T, name string, o Options, state []byte) StatefulStrategy {
	t.Helper()
	s := newStateful(t, name, o)
	if err := s.UnmarshalState(state); err != nil {
		t.Fatal(err)
	}
	return s
}

func weightedMean(ups []Update) []float64 {
	ws := NewWeightedSum(len(ups[0].Delta))
	for _, u := range ups {
		if err := ws.Add(u.Client, u.Delta, float64(u.NumExamples)); err != nil {
			panic(err)
		}
	}
	m, err := ws.Mean()
	if err != nil {
		panic(err)
	}
	return m
}

// reseal recomputes the checksum of a state blob whose body was edited.
func reseal(b []byte) []byte {
	b = bytes.Clone(b)
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// Every malformed blob is rejected with ErrInvalidState and a message saying
// why, and the strategy's state stays what it was.
func TestFedOptStateRejected(t *testing.T) {
	const dim = 3
	rounds := stateRounds(4, 2, 3, dim)
	global := []float64{0.5, -0.25, 1}
	for _, name := range fedOptNames {
		src := newStateful(t, name, Options{})
		runRound(t, src, 2, runRound(t, src, 1, global, rounds[0]), rounds[1])
		good := mustMarshal(t, src)
		nameLen := len(name)
		mOff := len(stateMagic) + 2 + nameLen + 8 // m[0]
		vOff := mOff + 8*dim                      // v[0]
		withFloat := func(off int, x float64) []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint64(b[off:], math.Float64bits(x))
			return reseal(b)
		}
		other := NameFedYogi
		if name == NameFedYogi {
			other = NameFedAdam
		}
		foreign := newStateful(t, other, Options{})
		runRound(t, foreign, 1, global, rounds[0])

		type badBlob struct {
			what, wantMsg string
			b             []byte
		}
		bad := []badBlob{
			{"other strategy", other, mustMarshal(t, foreign)},
			{"trailing byte", "trailing", append(bytes.Clone(good), 0)},
			{"bad magic", "magic", append([]byte("JUNK"), good[4:]...)},
			{"version 2", "version 2", append(append(bytes.Clone(good[:4]), 2), good[5:]...)},
			{"NaN in m", "m[1]", withFloat(mOff+8, math.NaN())},
			{"+Inf in v", "v[2]", withFloat(vOff+16, math.Inf(1))},
			{"negative v", "v[0]", withFloat(vOff, -1e-9)},
			{"huge dimension", "dimension 18446744073709551615", func() []byte {
				b := bytes.Clone(good)
				binary.LittleEndian.PutUint64(b[mOff-8:], math.MaxUint64)
				return reseal(b)
			}()},
			{"dimension 2 of 3", "trailing", func() []byte {
				b := bytes.Clone(good)
				binary.LittleEndian.PutUint64(b[mOff-8:], dim-1)
				return reseal(b)
			}()},
			{"checksum", "checksum", func() []byte { b := bytes.Clone(good); b[len(b)-1] ^= 1; return b }()},
		}
		for n := 1; n < len(good); n++ {
			bad = append(bad, badBlob{fmt.Sprintf("truncated to %d bytes", n), "truncated", good[:n]})
		}
		for i := range good {
			for _, bit := range []byte{0x01, 0x80} {
				b := bytes.Clone(good)
				b[i] ^= bit
				bad = append(bad, badBlob{fmt.Sprintf("bit %#x of byte %d flipped", bit, i), "", b})
			}
		}

		dst := newStateful(t, name, Options{})
		runRound(t, dst, 1, []float64{0, 0, 0}, rounds[1])
		before := mustMarshal(t, dst)
		emptyDst := newStateful(t, name, Options{})
		for _, tc := range bad {
			for _, s := range []StatefulStrategy{dst, emptyDst} {
				err := s.UnmarshalState(tc.b)
				if !errors.Is(err, ErrInvalidState) {
					t.Errorf("%s: UnmarshalState(%s) = %v, want an error wrapping ErrInvalidState", name, tc.what, err)
					continue
				}
				if !strings.Contains(err.Error(), tc.wantMsg) || !strings.Contains(err.Error(), name) {
					t.Errorf("%s: UnmarshalState(%s) = %q, want a message naming the strategy and %q", name, tc.what, err, tc.wantMsg)
				}
			}
			if got := mustMarshal(t, dst); !bytes.Equal(got, before) {
				t.Fatalf("%s: rejected UnmarshalState(%s) changed the state", name, tc.what)
			}
			if got := mustMarshal(t, emptyDst); got != nil {
				t.Fatalf("%s: rejected UnmarshalState(%s) gave a fresh strategy state", name, tc.what)
			}
		}
		if testing.Verbose() {
			for _, tc := range bad[:10] {
				t.Logf("%s: %s: %v", name, tc.what, dst.UnmarshalState(tc.b))
			}
		}
	}
}

// FuzzFedOptUnmarshalState: any input is either rejected, leaving the state
// alone, or accepted as the canonical encoding of a valid state.
func FuzzFedOptUnmarshalState(f *testing.F) {
	s, _ := New(NameFedAdam, Options{})
	agg := s.NewAggregator(1, []float64{1, 2})
	_ = agg.Add(Update{Client: "a", Delta: []float64{0.1, -0.2}, NumExamples: 3})
	_, _ = agg.Result()
	good, _ := s.(StatefulStrategy).MarshalState()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte("CHOS\x01\x07fedadam"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, _ := New(NameFedAdam, Options{})
		ss := s.(StatefulStrategy)
		if err := ss.UnmarshalState(good); err != nil {
			t.Fatal(err)
		}
		err := ss.UnmarshalState(b)
		got, _ := ss.MarshalState()
		switch {
		case err != nil && !bytes.Equal(got, good):
			t.Fatalf("rejected input (%v) changed the state", err)
		case err != nil && !errors.Is(err, ErrInvalidState):
			t.Fatalf("error %v does not wrap ErrInvalidState", err)
		case err == nil && len(b) > 0 && !bytes.Equal(got, b):
			t.Fatalf("accepted %x but re-marshals as %x", b, got)
		case err == nil && len(b) == 0 && got != nil:
			t.Fatalf("accepted empty input but kept state %x", got)
		}
	})
}

func TestStatefulStrategies(t *testing.T) {
	for _, name := range Names() {
		s, _ := New(name, Options{})
		_, ok := s.(StatefulStrategy)
		want := name == NameFedAdam || name == NameFedYogi || name == NameFedAdagrad
		if ok != want {
			t.Errorf("%s implements StatefulStrategy: %v, want %v", name, ok, want)
		}
	}
}
