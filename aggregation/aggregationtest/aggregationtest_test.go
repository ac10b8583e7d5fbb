package aggregationtest

import (
	"fmt"
	"math"
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

func TestChecksPassCorrectToy(t *testing.T) {
	TestStrategy(t, func() aggregation.Strategy { return &toyMean{} })
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
}
