package aggregation

import (
	"cmp"
	"fmt"
	"slices"
)

// krum implements Krum and Multi-Krum (Blanchard et al. 2017, "Machine Learning
// with Adversaries: Byzantine Tolerant Gradient Descent"). With n updates of
// which at most f are Byzantine, the score of update i is the sum of squared
// Euclidean distances to its n−f−2 nearest other updates; Krum returns the
// update with the lowest score and Multi-Krum the plain average of the m updates
// with the lowest scores (m = 0 means n−f). Krum's guarantee needs n > 2f+2;
// with fewer updates Result fails with ErrTooFewUpdates. Equal scores are broken
// by client id, so the choice does not depend on arrival order. Cost: O(n²·dim)
// time and O(n²) memory on top of the buffered updates.
func krum(rows [][]float64, ids []string, f, m int) ([]float64, error) {
	n := len(rows)
	if n <= 2*f+2 {
		return nil, fmt.Errorf("aggregation: krum with f=%d needs more than %d updates, got %d: %w",
			f, 2*f+2, n, ErrTooFewUpdates)
	}
	if m == 0 {
		m = n - f
	}
	if m > n {
		return nil, fmt.Errorf("aggregation: multi-krum averages m=%d updates, got only %d: %w",
			m, n, ErrTooFewUpdates)
	}
	scores := krumScores(rows, f)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(scores[a], scores[b]); c != 0 {
			return c
		}
		return cmp.Compare(ids[a], ids[b])
	})
	out := make([]float64, len(rows[0]))
	for _, k := range order[:m] {
		for j, x := range rows[k] {
			out[j] += x / float64(m)
		}
	}
	return out, nil
}

// krumScores returns, for every row, the sum of its n−f−2 smallest squared
// distances to the other rows. The caller guarantees n > 2f+2.
func krumScores(rows [][]float64, f int) []float64 {
	n := len(rows)
	dist := make([][]float64, n)
	for i := range dist {
		dist[i] = make([]float64, n)
	}
	for i := range n {
		for j := i + 1; j < n; j++ {
			d := sqDist(rows[i], rows[j])
			dist[i][j], dist[j][i] = d, d
		}
	}
	keep := n - f - 2
	scores := make([]float64, n)
	others := make([]float64, 0, n-1)
	for i := range n {
		others = others[:0]
		for j := range n {
			if j != i {
				others = append(others, dist[i][j])
			}
		}
		slices.Sort(others)
		var s float64
		for _, d := range others[:keep] {
			s += d
		}
		scores[i] = s
	}
	return scores
}

func sqDist(a, b []float64) float64 {
	var s float64
	for i, x := range a {
		d := x - b[i]
		s += d * d
	}
	return s
}
