package aggregationtest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cohortfl/cohort/aggregation"
)

const (
	dim     = 7
	clients = 9
	round   = 1
	// tol bounds the difference allowed between two computations that are
	// equal in exact arithmetic: relative to max(1, |x|).
	tol = 1e-12
)

// TestStrategy runs every conformance check on fresh strategies from
// newStrategy, each as a subtest. It checks that:
//
//   - Add rejects a wrong length, NaN, ±Inf, NumExamples ≤ 0 and a duplicate
//     client with the matching sentinel (errors.Is), and that the result after
//     a rejected Add equals the result of the same round without it;
//   - Result with no update returns ErrNoUpdates;
//   - Result neither modifies nor aliases the global slice;
//   - Add does not retain Delta (the caller reuses one buffer);
//   - the same inputs give bit-identical output, and a permuted arrival order
//     gives the same output within 1e-12 relative;
//   - all-zero deltas leave the model where it is; identical deltas from every
//     client move every coordinate in the direction of the delta and leave
//     zero coordinates alone. The size of the move is not checked, because
//     adaptive optimisers (FedAdam, ...) scale each coordinate by design; the
//     strategy's own tests should check it (global+delta for FedAvg with η=1);
//   - a MeanStrategy's streamed Result equals ApplyMean of the weighted mean
//     computed independently here, and it is not also a buffering strategy;
//   - a MeanStrategy's ApplyMean returns nil and an error wrapping
//     ErrWrongLength for a mean shorter or longer than global, and ErrNotFinite
//     for a mean with NaN or ±Inf, and such a failure leaves its state
//     unchanged (the next good ApplyMean is bit-identical to a fresh
//     strategy's);
//   - a StatefulStrategy's MarshalState is empty before the first round, and a
//     fresh strategy given UnmarshalState(state after round 2) reproduces round
//     3 bit for bit; UnmarshalState rejects truncated state and then leaves the
//     state unchanged; neither method aliases its bytes;
//   - three chained rounds give finite models of the right length.
func TestStrategy(t *testing.T, newStrategy func() aggregation.Strategy) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(newStrategy); err != nil {
				t.Error(err)
			}
		})
	}
}

type check struct {
	name string
	run  func(newStrategy func() aggregation.Strategy) error
}

var checks = []check{
	{"Name", checkName},
	{"RejectsBadUpdates", checkRejects},
	{"NoUpdates", checkNoUpdates},
	{"GlobalUntouched", checkGlobalUntouched},
	{"DeltaNotRetained", checkNotRetained},
	{"Deterministic", checkDeterministic},
	{"ZeroDeltas", checkZeroDeltas},
	{"IdenticalDeltas", checkIdentical},
	{"MeanConsistency", checkMeanConsistency},
	{"ApplyMeanErrors", checkApplyMeanErrors},
	{"StateRoundTrip", checkStateRoundTrip},
	{"MultiRound", checkMultiRound},
}

// fixture returns a global model and one valid update per client.
func fixture(seed uint64) ([]float64, []aggregation.Update) {
	r := rand.New(rand.NewPCG(seed, 0x636f686f7274))
	global := make([]float64, dim)
	for i := range global {
		global[i] = 2*r.Float64() - 1
	}
	ups := make([]aggregation.Update, clients)
	for k := range ups {
		d := make([]float64, dim)
		for i := range d {
			d[i] = 0.2*r.Float64() - 0.1
		}
		ups[k] = aggregation.Update{Client: fmt.Sprintf("site-%d", k), Delta: d, NumExamples: 1 + r.Int64N(100)}
	}
	return global, ups
}

// run aggregates ups in order on a fresh aggregator and returns the result, with
// nil ("keep the model") replaced by a copy of global.
func run(s aggregation.Strategy, global []float64, ups []aggregation.Update) ([]float64, error) {
	return runRound(s, round, global, ups)
}

func result(agg aggregation.Aggregator, global []float64) ([]float64, error) {
	out, err := agg.Result()
	if err != nil {
		return nil, fmt.Errorf("aggregator.Result: %w", err)
	}
	if out == nil {
		return slices.Clone(global), nil
	}
	if len(out) != len(global) {
		return nil, fmt.Errorf("aggregator.Result has %d values, want %d", len(out), len(global))
	}
	return out, nil
}

func checkName(newStrategy func() aggregation.Strategy) error {
	if newStrategy().Name() == "" {
		return errors.New("Name() is empty")
	}
	return nil
}

func checkRejects(newStrategy func() aggregation.Strategy) error {
	global, ups := fixture(1)
	want, err := run(newStrategy(), global, ups)
	if err != nil {
		return err
	}
	withAt := func(i int, v float64) []float64 {
		d := slices.Clone(ups[0].Delta)
		d[i] = v
		return d
	}
	first := ups[0].Client
	bad := []struct {
		name string
		u    aggregation.Update
		want error
	}{
		{"short", aggregation.Update{Client: "bad", Delta: make([]float64, dim-1), NumExamples: 5}, aggregation.ErrWrongLength},
		{"long", aggregation.Update{Client: "bad", Delta: make([]float64, dim+1), NumExamples: 5}, aggregation.ErrWrongLength},
		{"nil delta", aggregation.Update{Client: "bad", NumExamples: 5}, aggregation.ErrWrongLength},
		{"NaN first", aggregation.Update{Client: "bad", Delta: withAt(0, math.NaN()), NumExamples: 5}, aggregation.ErrNotFinite},
		{"NaN last", aggregation.Update{Client: "bad", Delta: withAt(dim-1, math.NaN()), NumExamples: 5}, aggregation.ErrNotFinite},
		{"+Inf last", aggregation.Update{Client: "bad", Delta: withAt(dim-1, math.Inf(1)), NumExamples: 5}, aggregation.ErrNotFinite},
		{"-Inf middle", aggregation.Update{Client: "bad", Delta: withAt(dim/2, math.Inf(-1)), NumExamples: 5}, aggregation.ErrNotFinite},
		{"zero examples", aggregation.Update{Client: "bad", Delta: withAt(0, 0.05), NumExamples: 0}, aggregation.ErrBadWeight},
		{"negative examples", aggregation.Update{Client: "bad", Delta: withAt(0, 0.05), NumExamples: -3}, aggregation.ErrBadWeight},
		{"duplicate client", aggregation.Update{Client: first, Delta: withAt(0, 0.05), NumExamples: 5}, aggregation.ErrDuplicate},
	}
	for _, b := range bad {
		agg := newStrategy().NewAggregator(round, global)
		for k, u := range ups {
			if k == clients/2 {
				err := agg.Add(b.u)
				if !errors.Is(err, b.want) {
					return fmt.Errorf("%s: Add = %v, want an error wrapping %v", b.name, err, b.want)
				}
			}
			if err := agg.Add(u); err != nil {
				return fmt.Errorf("%s: Add(%s) on a valid update after a rejected one: %w", b.name, u.Client, err)
			}
		}
		got, err := result(agg, global)
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s: a rejected Add changed the result: got %v, want %v", b.name, got, want)
		}
	}
	return nil
}

func checkNoUpdates(newStrategy func() aggregation.Strategy) error {
	global, _ := fixture(2)
	_, err := newStrategy().NewAggregator(round, global).Result()
	if !errors.Is(err, aggregation.ErrNoUpdates) {
		return fmt.Errorf("aggregator.Result with no updates = %v, want ErrNoUpdates", err)
	}
	return nil
}

func checkGlobalUntouched(newStrategy func() aggregation.Strategy) error {
	global, ups := fixture(3)
	orig := slices.Clone(global)
	agg := newStrategy().NewAggregator(round, global)
	for _, u := range ups {
		if err := agg.Add(u); err != nil {
			return err
		}
	}
	out, err := agg.Result()
	if err != nil {
		return err
	}
	if !slices.Equal(global, orig) {
		return fmt.Errorf("aggregator.Result modified global: %v, was %v", global, orig)
	}
	if len(out) > 0 && &out[0] == &global[0] {
		return errors.New("aggregator.Result returned the global slice itself")
	}
	for i := range out {
		out[i] = 1e9
	}
	if !slices.Equal(global, orig) {
		return errors.New("aggregator.Result aliases global: writing to the result changed it")
	}
	return nil
}

func checkNotRetained(newStrategy func() aggregation.Strategy) error {
	global, ups := fixture(4)
	want, err := run(newStrategy(), global, ups)
	if err != nil {
		return err
	}
	agg := newStrategy().NewAggregator(round, global)
	buf := make([]float64, dim)
	for _, u := range ups {
		copy(buf, u.Delta)
		if err := agg.Add(aggregation.Update{Client: u.Client, Delta: buf, NumExamples: u.NumExamples}); err != nil {
			return err
		}
		for i := range buf {
			buf[i] = 1e6 // scribble before the next update overwrites it
		}
	}
	for i := range buf {
		buf[i] = math.NaN()
	}
	got, err := result(agg, global)
	if err != nil {
		return err
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("mutating Delta after Add changed the result: got %v, want %v", got, want)
	}
	return nil
}

func checkDeterministic(newStrategy func() aggregation.Strategy) error {
	global, ups := fixture(5)
	a, err := run(newStrategy(), global, ups)
	if err != nil {
		return err
	}
	b, err := run(newStrategy(), global, ups)
	if err != nil {
		return err
	}
	if !slices.Equal(a, b) {
		return fmt.Errorf("same inputs, different outputs: %v and %v", a, b)
	}
	perm := slices.Clone(ups)
	rand.New(rand.NewPCG(6, 6)).Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	slices.Reverse(perm[:3])
	c, err := run(newStrategy(), global, perm)
	if err != nil {
		return err
	}
	if i := mismatch(a, c); i >= 0 {
		return fmt.Errorf("arrival order changed coordinate %d: %v vs %v", i, a[i], c[i])
	}
	return nil
}

func checkZeroDeltas(newStrategy func() aggregation.Strategy) error {
	global, ups := fixture(7)
	for k := range ups {
		ups[k].Delta = make([]float64, dim)
	}
	got, err := run(newStrategy(), global, ups)
	if err != nil {
		return err
	}
	if !slices.Equal(got, global) {
		return fmt.Errorf("all-zero deltas moved the model: got %v, want %v", got, global)
	}
	return nil
}

func checkIdentical(newStrategy func() aggregation.Strategy) error {
	global, ups := fixture(8)
	d := []float64{0.05, -0.03, 0, 0.1, -0.2, 0, 0.001}
	for k := range ups {
		ups[k].Delta = slices.Clone(d)
	}
	got, err := run(newStrategy(), global, ups)
	if err != nil {
		return err
	}
	for i, di := range d {
		move := got[i] - global[i]
		if di == 0 && move != 0 || di > 0 && !(move > 0) || di < 0 && !(move < 0) {
			return fmt.Errorf("identical deltas %v: coordinate %d moved by %v, want the sign of %v", d, i, move, di)
		}
	}
	return nil
}

func checkMeanConsistency(newStrategy func() aggregation.Strategy) error {
	s := newStrategy()
	if _, ok := s.(aggregation.MeanStrategy); !ok {
		return nil
	}
	if b, ok := s.(aggregation.BufferingStrategy); ok && b.BuffersUpdates() {
		return errors.New("a MeanStrategy must not buffer updates")
	}
	global, ups := fixture(9)
	got, err := run(s, global, ups)
	if err != nil {
		return err
	}
	// Independent weighted mean: plain sums, in the order given.
	mean := make([]float64, dim)
	var n float64
	for _, u := range ups {
		n += float64(u.NumExamples)
		for i, x := range u.Delta {
			mean[i] += float64(u.NumExamples) * x
		}
	}
	for i := range mean {
		mean[i] /= n
	}
	want, err := newStrategy().(aggregation.MeanStrategy).ApplyMean(round, global, mean)
	if err != nil {
		return fmt.Errorf("ApplyMean(weighted mean): %w", err)
	}
	if len(want) != dim {
		return fmt.Errorf("ApplyMean has %d values, want %d", len(want), dim)
	}
	if i := mismatch(got, want); i >= 0 {
		return fmt.Errorf("streamed Result and ApplyMean(weighted mean) differ at %d: %v vs %v", i, got[i], want[i])
	}
	return nil
}

func checkApplyMeanErrors(newStrategy func() aggregation.Strategy) error {
	s, ok := newStrategy().(aggregation.MeanStrategy)
	if !ok {
		return nil
	}
	global, ups := fixture(11)
	mean := ups[0].Delta
	withAt := func(i int, v float64) []float64 {
		d := slices.Clone(mean)
		d[i] = v
		return d
	}
	for _, b := range []struct {
		name string
		mean []float64
		want error
	}{
		{"short mean", mean[:dim-1], aggregation.ErrWrongLength},
		{"long mean", append(slices.Clone(mean), 0), aggregation.ErrWrongLength},
		{"nil mean", nil, aggregation.ErrWrongLength},
		{"NaN mean", withAt(dim-1, math.NaN()), aggregation.ErrNotFinite},
		{"+Inf mean", withAt(0, math.Inf(1)), aggregation.ErrNotFinite},
	} {
		out, err := s.ApplyMean(round, global, b.mean)
		if !errors.Is(err, b.want) {
			return fmt.Errorf("%s: ApplyMean error = %v, want an error wrapping %v", b.name, err, b.want)
		}
		if out != nil {
			return fmt.Errorf("%s: ApplyMean failed but returned %v, want nil", b.name, out)
		}
	}
	got, err := s.ApplyMean(round, global, mean)
	if err != nil {
		return fmt.Errorf("ApplyMean after rejected calls: %w", err)
	}
	want, err := newStrategy().(aggregation.MeanStrategy).ApplyMean(round, global, mean)
	if err != nil {
		return fmt.Errorf("ApplyMean on a fresh strategy: %w", err)
	}
	if !bitEqual(got, want) {
		return fmt.Errorf("a failed ApplyMean changed the strategy's state: next step %v, fresh strategy's %v", got, want)
	}
	return nil
}

func checkStateRoundTrip(newStrategy func() aggregation.Strategy) error {
	newStateful := func() aggregation.StatefulStrategy {
		s, _ := newStrategy().(aggregation.StatefulStrategy)
		return s
	}
	a := newStateful()
	if a == nil {
		return nil
	}
	if b, err := a.MarshalState(); err != nil || len(b) != 0 {
		return fmt.Errorf("MarshalState before the first round = %v, %v; want empty", b, err)
	}
	// Reference run: rounds 1..3 on a.
	global, _ := fixture(20)
	var global2, want []float64
	var state, saved []byte
	for r := 1; r <= 3; r++ {
		_, ups := fixture(uint64(200 + r))
		next, err := runRound(a, r, global, ups)
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
		if r == 2 {
			b, err := a.MarshalState()
			if err != nil {
				return fmt.Errorf("MarshalState after round 2: %w", err)
			}
			if len(b) == 0 {
				return errors.New("MarshalState after round 2 is empty")
			}
			state, saved, global2 = b, bytes.Clone(b), next
		}
		if r == 3 {
			want = next
		}
		global = next
	}
	if !bytes.Equal(state, saved) {
		return errors.New("the bytes MarshalState returned after round 2 changed during round 3 (aliased state)")
	}
	_, ups3 := fixture(203)
	// round3 runs round 3 on b from the model after round 2.
	round3 := func(b aggregation.StatefulStrategy) ([]float64, error) {
		return runRound(b, 3, global2, ups3)
	}

	b := newStateful()
	buf := slices.Clone(state)
	if err := b.UnmarshalState(buf); err != nil {
		return fmt.Errorf("UnmarshalState(MarshalState()): %w", err)
	}
	for i := range buf {
		buf[i] = 0xff // UnmarshalState must not retain its argument
	}
	got, err := round3(b)
	if err != nil {
		return fmt.Errorf("round 3 after UnmarshalState: %w", err)
	}
	if !bitEqual(got, want) {
		return fmt.Errorf("round 3 after restoring the state of round 2 = %v, want %v (the uninterrupted run)", got, want)
	}

	for _, cut := range []int{len(state) - 1, len(state) / 2, 1} {
		c := newStateful()
		if err := c.UnmarshalState(state); err != nil {
			return fmt.Errorf("UnmarshalState(MarshalState()): %w", err)
		}
		if err := c.UnmarshalState(slices.Clone(state[:cut])); err == nil {
			return fmt.Errorf("UnmarshalState accepted the state truncated to %d of %d bytes", cut, len(state))
		}
		got, err := round3(c)
		if err != nil {
			return fmt.Errorf("round 3 after a rejected UnmarshalState(%d of %d bytes): %w", cut, len(state), err)
		}
		if !bitEqual(got, want) {
			return fmt.Errorf("a rejected UnmarshalState(%d of %d bytes) changed the state: round 3 = %v, want %v",
				cut, len(state), got, want)
		}
	}
	return nil
}

// runRound is run for round r.
func runRound(s aggregation.Strategy, r int, global []float64, ups []aggregation.Update) ([]float64, error) {
	agg := s.NewAggregator(r, global)
	for _, u := range ups {
		if err := agg.Add(u); err != nil {
			return nil, fmt.Errorf("Add(%s) on a valid update: %w", u.Client, err)
		}
	}
	return result(agg, global)
}

// bitEqual reports whether a and b hold the same float64 bit patterns.
func bitEqual(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

func checkMultiRound(newStrategy func() aggregation.Strategy) error {
	s := newStrategy()
	global, _ := fixture(10)
	for r := 1; r <= 3; r++ {
		if mu := s.ConfigureFit(r).ProximalMu; !(mu >= 0) || math.IsInf(mu, 0) {
			return fmt.Errorf("round %d: ConfigureFit ProximalMu = %v, want finite and >= 0", r, mu)
		}
		_, ups := fixture(uint64(100 + r))
		next, err := run(s, global, ups)
		if err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
		for i, v := range next {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("round %d: coordinate %d is %v", r, i, v)
			}
		}
		global = next
	}
	return nil
}

// mismatch returns the first index where a and b differ by more than tol
// relative to max(1, |a|, |b|), or -1.
func mismatch(a, b []float64) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		scale := max(1, math.Abs(a[i]), math.Abs(b[i]))
		if !(math.Abs(a[i]-b[i]) <= tol*scale) {
			return i
		}
	}
	return -1
}
