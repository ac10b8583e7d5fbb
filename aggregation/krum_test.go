package aggregation

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// bruteScore is Krum's score by its definition: the minimum, over every set S
// of n−f−2 other updates, of Σ_{j∈S} ‖V_i − V_j‖², found by enumerating subsets.
func bruteScore(rows [][]float64, i, f int) float64 {
	n := len(rows)
	var others []int
	for j := range n {
		if j != i {
			others = append(others, j)
		}
	}
	size := n - f - 2
	best := math.Inf(1)
	for mask := 0; mask < 1<<len(others); mask++ {
		if popcount(mask) != size {
			continue
		}
		var s float64
		for b, j := range others {
			if mask&(1<<b) != 0 {
				for k := range rows[i] {
					d := rows[i][k] - rows[j][k]
					s += d * d
				}
			}
		}
		best = min(best, s)
	}
	return best
}

func popcount(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

func TestKrumScoresMatchBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, tc := range []struct{ n, f int }{{5, 1}, {7, 2}, {9, 3}, {8, 0}} {
		rows := make([][]float64, tc.n)
		for i := range rows {
			rows[i] = randVec(r, 4, 1)
		}
		got := krumScores(rows, tc.f)
		for i := range rows {
			if want := bruteScore(rows, i, tc.f); !closeRel(got[i], want, 1e-12) {
				t.Errorf("n=%d f=%d: score[%d] = %v, want %v", tc.n, tc.f, i, got[i], want)
			}
		}
	}
}

// Seven honest clients near Δ* and f = 2 attackers far away (and colluding,
// sending the same vector): Krum picks an honest update, Multi-Krum averages
// honest ones only.
func TestKrumChoosesHonestCluster(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	const dim, honest, f = 10, 7, 2
	center := randVec(r, dim, 0.1)
	var deltas [][]float64
	for range honest {
		d := randVec(r, dim, 0.01)
		for i := range d {
			d[i] += center[i]
		}
		deltas = append(deltas, d)
	}
	evil := slices.Repeat([]float64{50}, dim)
	deltas = append(deltas, evil, slices.Clone(evil))
	global := make([]float64, dim)

	s, _ := New(NameKrum, Options{KrumByzantine: f})
	got := aggregate(t, s, global, deltas, nil)
	if !slices.ContainsFunc(deltas[:honest], func(d []float64) bool { return slices.Equal(d, got) }) {
		t.Errorf("krum chose %v, not one of the honest updates", got)
	}
	// Multi-Krum with m = n−f = 7 must average exactly the honest updates.
	mk, _ := New(NameMultiKrum, Options{KrumByzantine: f})
	got = aggregate(t, mk, global, deltas, nil)
	for j := range dim {
		var want float64
		for _, d := range deltas[:honest] {
			want += d[j]
		}
		want /= honest
		if !closeRel(got[j], want, 1e-12) {
			t.Errorf("multi-krum coordinate %d = %v, want honest mean %v", j, got[j], want)
		}
	}
	// Plain FedAvg, for contrast, is dragged far off by the attackers.
	fa, _ := New(NameFedAvg, Options{})
	if avg := aggregate(t, fa, global, deltas, nil); avg[0] < 5 {
		t.Errorf("fedavg coordinate 0 = %v; the attack should have moved it past 5", avg[0])
	}
}

// Krum picks the update with the smallest brute-force score; with ties it picks
// the smallest client id, whatever the arrival order.
func TestKrumSelectionAndTies(t *testing.T) {
	rows := [][]float64{{0}, {1}, {3}, {6}, {10}}
	// f = 1, n−f−2 = 2 nearest: scores 0:1+9=10, 1:1+4=5, 2:4+9=13, 3:9+16=25, 4:16+36=52.
	s, _ := New(NameKrum, Options{KrumByzantine: 1})
	if got := aggregate(t, s, []float64{0}, rows, nil); got[0] != 1 {
		t.Errorf("krum chose %v, want 1 (score 5)", got[0])
	}
	// n = 4 with f = 1 is below Krum's n > 2f+2, in any order.
	tie := [][]float64{{-1}, {1}, {0.5}, {-0.5}}
	for _, order := range [][]int{{0, 1, 2, 3}, {1, 0, 3, 2}} {
		agg := s.NewAggregator(1, []float64{0})
		ids := []string{"a", "b", "c", "d"}
		for _, k := range order {
			if err := agg.Add(Update{Client: ids[k], Delta: tie[k], NumExamples: 1}); err != nil {
				t.Fatal(err)
			}
		}
		// f=1, n=4 is not > 2f+2 = 4.
		if _, err := agg.Result(); !errors.Is(err, ErrTooFewUpdates) {
			t.Fatalf("n=4 f=1: Result = %v, want ErrTooFewUpdates", err)
		}
	}
	k0, _ := New(NameKrum, Options{})
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}} {
		agg := k0.NewAggregator(1, []float64{0})
		ids := []string{"b", "a", "d", "c"}
		for _, k := range order {
			if err := agg.Add(Update{Client: ids[k], Delta: tie[k], NumExamples: 1}); err != nil {
				t.Fatal(err)
			}
		}
		// f=0 keeps 2 nearest: scores ±1: 0.25+2.25 = 2.5, ±0.5: 0.25+1 = 1.25.
		// ±0.5 tie; ids "d" (0.5) and "c" (−0.5): "c" wins.
		got, err := agg.Result()
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != -0.5 {
			t.Errorf("order %v: krum chose %v, want -0.5 (client c)", order, got[0])
		}
	}
}

func TestMultiKrumTooLarge(t *testing.T) {
	s, _ := New(NameMultiKrum, Options{KrumMulti: 6})
	agg := s.NewAggregator(1, []float64{0})
	for i := range 4 {
		if err := agg.Add(Update{Client: fmt.Sprint(i), Delta: []float64{float64(i)}, NumExamples: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := agg.Result(); !errors.Is(err, ErrTooFewUpdates) {
		t.Errorf("m=6 with 4 updates: Result = %v, want ErrTooFewUpdates", err)
	}
}
