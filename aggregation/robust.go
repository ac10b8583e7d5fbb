package aggregation

import (
	"math"
	"slices"
)

// robustRule reduces a round's buffered deltas (rows, all of equal length, in
// arrival order, with their client ids) to one delta. It must not depend on the
// order of rows beyond documented tie-breaking, and must not modify rows.
type robustRule func(rows [][]float64, ids []string) ([]float64, error)

// robust is a Byzantine-robust strategy: coordinate-wise median, trimmed mean or
// (Multi-)Krum. These rules are non-linear in the updates, so the aggregator
// copies every update and holds all K of them (K·dim floats) until Result; they
// ignore NumExamples (each client counts once, otherwise a client could buy
// influence by claiming many examples) and cannot run under secure aggregation.
// The next global model is global + η·rule(deltas).
type robust struct {
	name string
	lr   float64
	rule robustRule
}

func (s *robust) Name() string { return s.name }

// ConfigureFit asks for plain local training.
func (s *robust) ConfigureFit(int) FitConfig { return FitConfig{} }

// BuffersUpdates reports true: every update of a round is copied and kept.
func (s *robust) BuffersUpdates() bool { return true }

// NewAggregator returns an aggregator that copies global and every update.
func (s *robust) NewAggregator(_ int, global []float64) Aggregator {
	return &bufferAggregator{strategy: s, global: clone(global), seen: make(map[string]struct{})}
}

// bufferAggregator keeps a copy of every accepted delta.
type bufferAggregator struct {
	strategy *robust
	global   []float64
	seen     map[string]struct{}
	ids      []string
	rows     [][]float64
	result   []float64
}

// Add validates u and stores a copy of its delta. NumExamples must be positive
// but does not weigh the update.
func (a *bufferAggregator) Add(u Update) error {
	if a.result != nil {
		return updateErr(u.Client, -1, ErrClosed, "")
	}
	if err := checkHeader(len(a.global), u.Client, len(u.Delta), float64(u.NumExamples), a.seen); err != nil {
		return err
	}
	if err := checkFinite(u.Client, u.Delta); err != nil {
		return err
	}
	a.seen[u.Client] = struct{}{}
	a.ids = append(a.ids, u.Client)
	a.rows = append(a.rows, clone(u.Delta))
	return nil
}

// Result applies the rule and releases the buffered updates. A second call
// returns a copy of the first result.
func (a *bufferAggregator) Result() ([]float64, error) {
	if a.result != nil {
		return clone(a.result), nil
	}
	if len(a.rows) == 0 {
		return nil, ErrNoUpdates
	}
	agg, err := a.strategy.rule(a.rows, a.ids)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(a.global))
	for i, g := range a.global {
		out[i] = g + a.strategy.lr*agg[i]
	}
	if err := checkResult(a.strategy.name, out); err != nil {
		return nil, err
	}
	a.result, a.rows = out, nil
	return clone(out), nil
}

// column copies coordinate j of every row into col and sorts it.
func column(col []float64, rows [][]float64, j int) []float64 {
	for k, r := range rows {
		col[k] = r[j]
	}
	slices.Sort(col)
	return col
}

// median is the coordinate-wise median (Yin et al. 2018); for an even count it
// is the midpoint of the two middle values. Exactly order-independent.
func median(rows [][]float64, _ []string) ([]float64, error) {
	n, dim := len(rows), len(rows[0])
	col := make([]float64, n)
	out := make([]float64, dim)
	for j := range out {
		column(col, rows, j)
		if n%2 == 1 {
			out[j] = col[n/2]
		} else {
			out[j] = col[n/2-1]/2 + col[n/2]/2 // halves first: no overflow
		}
	}
	return out, nil
}

// trimmedMean drops the ⌊β·n⌋ smallest and largest values of each coordinate and
// averages the rest (Yin et al. 2018). β < 0.5 leaves at least one value. The
// sum runs over sorted values, so the result is exactly order-independent.
func trimmedMean(rows [][]float64, beta float64) []float64 {
	n, dim := len(rows), len(rows[0])
	k := int(math.Floor(beta * float64(n)))
	col := make([]float64, n)
	out := make([]float64, dim)
	for j := range out {
		column(col, rows, j)
		var s float64
		for _, x := range col[k : n-k] {
			s += x / float64(n-2*k) // divide first: no overflow
		}
		out[j] = s
	}
	return out
}
