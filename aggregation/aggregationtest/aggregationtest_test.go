package aggregationtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/cohortfl/cohort/aggregation"
)

// flaws switches on one contract violation in toyMean.
type flaws struct {
	retainDelta, acceptNaN, writeGlobal, partialFold, allowDuplicate, emptyIsOK bool
}

// toyMean is a deliberately simple unweighted-mean strategy used to prove that
// each conformance check can fail.
type toyMean struct{ f flaws }

func (s *toyMean) Name() string                           { return "toy" }
func (s *toyMean) ConfigureFit(int) aggregation.FitConfig { return aggregation.FitConfig{} }
func (s *toyMean) NewAggregator(_ int, global []float64) aggregation.Aggregator {
	return &toyAgg{f: s.f, global: global, sum: make([]float64, len(global)), seen: map[string]bool{}}
}

type toyAgg struct {
	f      flaws
	global []float64
	sum    []float64
	kept   [][]float64
	n      int
	seen   map[string]bool
}

func (a *toyAgg) Add(u aggregation.Update) error {
	if len(u.Delta) != len(a.global) {
		return aggregation.ErrWrongLength
	}
	if u.NumExamples <= 0 {
		return aggregation.ErrBadWeight
	}
	if a.seen[u.Client] && !a.f.allowDuplicate {
		return aggregation.ErrDuplicate
	}
	for i, x := range u.Delta {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if a.f.acceptNaN {
				continue
			}
			return fmt.Errorf("coordinate %d: %w", i, aggregation.ErrNotFinite)
		}
		if a.f.partialFold {
			a.sum[i] += x
		}
	}
	if a.f.retainDelta {
		a.kept = append(a.kept, u.Delta)
	} else if !a.f.partialFold {
		for i, x := range u.Delta {
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				a.sum[i] += x
			}
		}
	}
	a.seen[u.Client] = true
	a.n++
	return nil
}

func (a *toyAgg) Result() ([]float64, error) {
	if a.n == 0 {
		if a.f.emptyIsOK {
			return nil, nil
		}
		return nil, aggregation.ErrNoUpdates
	}
	for _, d := range a.kept {
		for i, x := range d {
			a.sum[i] += x
		}
	}
	out := make([]float64, len(a.global))
	if a.f.writeGlobal {
		out = a.global
	}
	for i, g := range a.global {
		out[i] = g + a.sum[i]/float64(a.n)
	}
	return out, nil
}

// optFlaws switches on one contract violation in toyOpt.
type optFlaws struct {
	unwrappedErr, stepOnError, forgetState, acceptTruncated, keepStateBytes bool
}

// toyOpt is a deliberately simple server-momentum strategy (m ← m/2 + mean,
// x ← x + m) that implements MeanStrategy and StatefulStrategy, used to prove
// that the ApplyMean and state checks can fail. Its state is m as raw
// little-endian float64s.
type toyOpt struct {
	f optFlaws
	m []float64
	// raw holds UnmarshalState's argument until ApplyMean decodes it under
	// keepStateBytes (which retains the caller's slice).
	raw []byte
}

func (s *toyOpt) Name() string                           { return "toyopt" }
func (s *toyOpt) ConfigureFit(int) aggregation.FitConfig { return aggregation.FitConfig{} }
func (s *toyOpt) NewAggregator(_ int, global []float64) aggregation.Aggregator {
	return &toyOptAgg{s: s, global: slices.Clone(global), sum: aggregation.NewWeightedSum(len(global))}
}

func (s *toyOpt) ApplyMean(_ int, global, mean []float64) ([]float64, error) {
	if s.raw != nil { // keepStateBytes: decode the retained bytes now
		s.decode()
		s.raw = nil
	}
	if len(mean) != len(global) || s.m != nil && len(s.m) != len(global) {
		if s.f.unwrappedErr {
			return nil, errors.New("toyopt: bad length")
		}
		return nil, fmt.Errorf("toyopt: bad length: %w", aggregation.ErrWrongLength)
	}
	m := make([]float64, len(global))
	copy(m, s.m)
	out := make([]float64, len(global))
	for i := range m {
		m[i] = m[i]/2 + mean[i]
		out[i] = global[i] + m[i]
		if s.f.stepOnError {
			s.m = m
		}
		if math.IsNaN(m[i]) || math.IsInf(m[i], 0) {
			return nil, fmt.Errorf("toyopt: coordinate %d: %w", i, aggregation.ErrNotFinite)
		}
	}
	s.m = m
	return out, nil
}

func (s *toyOpt) decode() {
	s.m = make([]float64, len(s.raw)/8)
	for i := range s.m {
		s.m[i] = math.Float64frombits(binary.LittleEndian.Uint64(s.raw[8*i:]))
	}
}

func (s *toyOpt) MarshalState() ([]byte, error) {
	if s.m == nil {
		return nil, nil
	}
	var b []byte
	for _, x := range s.m {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b, nil
}

func (s *toyOpt) UnmarshalState(b []byte) error {
	if s.f.forgetState {
		return nil
	}
	if len(b)%8 != 0 && !s.f.acceptTruncated {
		return fmt.Errorf("toyopt: state of %d bytes is truncated", len(b))
	}
	s.raw = b
	if !s.f.keepStateBytes { // else decoded lazily by ApplyMean, from b
		s.decode()
		s.raw = nil
	}
	return nil
}

type toyOptAgg struct {
	s      *toyOpt
	global []float64
	sum    *aggregation.WeightedSum
}

func (a *toyOptAgg) Add(u aggregation.Update) error {
	return a.sum.Add(u.Client, u.Delta, float64(u.NumExamples))
}

func (a *toyOptAgg) Result() ([]float64, error) {
	mean, err := a.sum.Mean()
	if err != nil {
		return nil, err
	}
	return a.s.ApplyMean(0, a.global, mean)
}

func TestChecksPassCorrectToy(t *testing.T) {
	TestStrategy(t, func() aggregation.Strategy { return &toyMean{} })
	TestStrategy(t, func() aggregation.Strategy { return &toyOpt{} })
}

func TestChecksCatchFlaws(t *testing.T) {
	for _, tc := range []struct {
		flaw  flaws
		check func(func() aggregation.Strategy) error
	}{
		{flaws{retainDelta: true}, checkNotRetained},
		{flaws{acceptNaN: true}, checkRejects},
		{flaws{partialFold: true}, checkRejects},
		{flaws{allowDuplicate: true}, checkRejects},
		{flaws{writeGlobal: true}, checkGlobalUntouched},
		{flaws{emptyIsOK: true}, checkNoUpdates},
	} {
		err := tc.check(func() aggregation.Strategy { return &toyMean{f: tc.flaw} })
		if err == nil {
			t.Errorf("flaw %+v: check passed, want a failure", tc.flaw)
		} else {
			t.Logf("flaw %+v: %v", tc.flaw, err)
		}
	}
	for _, tc := range []struct {
		flaw  optFlaws
		check func(func() aggregation.Strategy) error
	}{
		{optFlaws{unwrappedErr: true}, checkApplyMeanErrors},
		{optFlaws{stepOnError: true}, checkApplyMeanErrors},
		{optFlaws{forgetState: true}, checkStateRoundTrip},
		{optFlaws{acceptTruncated: true}, checkStateRoundTrip},
		{optFlaws{keepStateBytes: true}, checkStateRoundTrip},
	} {
		err := tc.check(func() aggregation.Strategy { return &toyOpt{f: tc.flaw} })
		if err == nil {
			t.Errorf("flaw %+v: check passed, want a failure", tc.flaw)
		} else {
			t.Logf("flaw %+v: %v", tc.flaw, err)
		}
	}
}
