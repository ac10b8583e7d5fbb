package aggregation

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func randVec(r *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * (2*r.Float64() - 1)
	}
	return v
}

func TestWeightedSumMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const dim, k = 50, 20
	ws := NewWeightedSum(dim)
	naive := make([]float64, dim)
	var total float64
	for c := range k {
		d := randVec(r, dim, 1)
		w := float64(1 + r.IntN(1000))
		if err := ws.Add(string(rune('a'+c)), d, w); err != nil {
			t.Fatal(err)
		}
		total += w
		for i := range d {
			naive[i] += w * d[i]
		}
	}
	if ws.Count() != k {
		t.Errorf("Count() = %d, want %d", ws.Count(), k)
	}
	if ws.TotalWeight() != total {
		t.Errorf("TotalWeight() = %v, want %v", ws.TotalWeight(), total)
	}
	mean, err := ws.Mean()
	if err != nil {
		t.Fatal(err)
	}
	sum := sumOf(t, ws)
	for i := range naive {
		if !closeRel(sum[i], naive[i], 1e-12) {
			t.Errorf("Sum()[%d] = %v, want %v", i, sum[i], naive[i])
		}
		if !closeRel(mean[i], naive[i]/total, 1e-12) {
			t.Errorf("Mean()[%d] = %v, want %v", i, mean[i], naive[i]/total)
		}
	}
}

// TestWeightedSumHandValues checks a case small enough to do by hand:
// (2·[1, -2] + 6·[3, 0.5]) / 8 = [20, -1] / 8 = [2.5, -0.125].
func TestWeightedSumHandValues(t *testing.T) {
	ws := NewWeightedSum(2)
	if err := ws.Add("a", []float64{1, -2}, 2); err != nil {
		t.Fatal(err)
	}
	if err := ws.Add("b", []float64{3, 0.5}, 6); err != nil {
		t.Fatal(err)
	}
	got, err := ws.Mean()
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{2.5, -0.125}; !slices.Equal(got, want) {
		t.Errorf("Mean() = %v, want %v", got, want)
	}
	if got, want := sumOf(t, ws), []float64{20, -1}; !slices.Equal(got, want) {
		t.Errorf("Sum() = %v, want %v", got, want)
	}
}

// TestWeightedSumOrderIndependent permutes 200 clients whose contributions
// mostly cancel; plain left-to-right float64 summation differs across such
// orders by far more than 1e-12 relative (the test checks that too).
func TestWeightedSumOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const dim, k = 64, 200
	deltas := make([][]float64, k)
	weights := make([]float64, k)
	for c := 0; c < k; c += 2 {
		// A pair of clients whose large components cancel, leaving small ones
		// of varied magnitude: the sum is ill-conditioned (about 1e6).
		big := randVec(r, dim, 1e4)
		small := math.Pow(10, float64(r.IntN(6)-4))
		deltas[c], deltas[c+1] = randVec(r, dim, small), randVec(r, dim, small)
		for i := range big {
			deltas[c][i] += big[i]
			deltas[c+1][i] -= big[i]
		}
		weights[c] = float64(1 + r.IntN(5000))
		weights[c+1] = weights[c]
	}
	mean := func(order []int) []float64 {
		ws := NewWeightedSum(dim)
		for _, c := range order {
			if err := ws.Add(string(rune(0x100+c)), deltas[c], weights[c]); err != nil {
				t.Fatal(err)
			}
		}
		m, err := ws.Mean()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	order := make([]int, k)
	for i := range order {
		order[i] = i
	}
	naive := func(order []int) []float64 {
		s := make([]float64, dim)
		for _, c := range order {
			for i, x := range deltas[c] {
				s[i] += weights[c] * x
			}
		}
		return s
	}
	ref, naiveRef := mean(order), naive(order)
	naiveSpread := 0.0
	for trial := range 10 {
		r.Shuffle(k, func(i, j int) { order[i], order[j] = order[j], order[i] })
		got := mean(order)
		for i := range ref {
			if !closeRel(got[i], ref[i], 1e-12) {
				t.Fatalf("permutation %d: coordinate %d = %v, want %v", trial, i, got[i], ref[i])
			}
		}
		for i, v := range naive(order) {
			naiveSpread = max(naiveSpread, math.Abs(v-naiveRef[i])/math.Abs(naiveRef[i]))
		}
	}
	// The data must be hard enough that the test means something.
	if naiveSpread <= 1e-12 {
		t.Errorf("plain summation varies only %.1e across orders; the data does not exercise compensation", naiveSpread)
	}
	t.Logf("plain summation varies by up to %.1e relative across orders", naiveSpread)
}

func TestWeightedSumRejects(t *testing.T) {
	big := math.MaxFloat64 / 2
	for _, tc := range []struct {
		name   string
		client string
		delta  []float64
		weight float64
		want   error
	}{
		{"no client", "", []float64{1, 2, 3}, 1, ErrNoClient},
		{"short", "x", []float64{1, 2}, 1, ErrWrongLength},
		{"NaN last", "x", []float64{1, 2, math.NaN()}, 1, ErrNotFinite},
		{"-Inf", "x", []float64{math.Inf(-1), 2, 3}, 1, ErrNotFinite},
		{"product overflows", "x", []float64{1, big, 3}, 4, ErrNotFinite},
		{"sum overflows", "x", []float64{1, 2, big}, 1.5, ErrNotFinite},
		{"zero weight", "x", []float64{1, 2, 3}, 0, ErrBadWeight},
		{"negative weight", "x", []float64{1, 2, 3}, -1, ErrBadWeight},
		{"NaN weight", "x", []float64{1, 2, 3}, math.NaN(), ErrBadWeight},
		{"Inf weight", "x", []float64{1, 2, 3}, math.Inf(1), ErrBadWeight},
		{"duplicate", "a", []float64{1, 2, 3}, 1, ErrDuplicate},
	} {
		ws := NewWeightedSum(3)
		if err := ws.Add("a", []float64{0.5, 0.25, big}, 1); err != nil {
			t.Fatal(err)
		}
		before, beforeW := sumOf(t, ws), ws.TotalWeight()
		err := ws.Add(tc.client, tc.delta, tc.weight)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Add = %v, want %v", tc.name, err, tc.want)
		}
		var ue *UpdateError
		if !errors.As(err, &ue) {
			t.Errorf("%s: error %T is not an *UpdateError", tc.name, err)
		}
		if !slices.Equal(sumOf(t, ws), before) || ws.TotalWeight() != beforeW || ws.Count() != 1 {
			t.Errorf("%s: rejected Add changed the state", tc.name)
		}
	}
}

func TestWeightedSumEdges(t *testing.T) {
	if _, err := NewWeightedSum(4).Mean(); !errors.Is(err, ErrNoUpdates) {
		t.Errorf("Mean of empty sum = %v, want ErrNoUpdates", err)
	}
	neg := NewWeightedSum(-1)
	if err := neg.Add("a", nil, 1); !errors.Is(err, ErrWrongLength) {
		t.Errorf("negative dim: Add = %v, want ErrWrongLength", err)
	}
	// Does not retain delta.
	ws := NewWeightedSum(2)
	d := []float64{1, 1}
	if err := ws.Add("a", d, 1); err != nil {
		t.Fatal(err)
	}
	d[0] = 100
	if got := sumOf(t, ws); got[0] != 1 {
		t.Errorf("Sum()[0] = %v after mutating delta, want 1", got[0])
	}
	// Sum and Mean return fresh slices.
	s := sumOf(t, ws)
	s[1] = 42
	if sumOf(t, ws)[1] != 1 {
		t.Error("Sum() aliases internal state")
	}
}

func closeRel(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*max(math.Abs(a), math.Abs(b), 1e-300)
}

// sumOf is ws.Sum, failing the test on error.
func sumOf(t *testing.T, ws *WeightedSum) []float64 {
	t.Helper()
	s, err := ws.Sum()
	if err != nil {
		t.Fatalf("Sum: %v", err)
	}
	return s
}
