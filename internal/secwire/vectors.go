package secwire

import (
	"fmt"
	"math"

	"github.com/cohortfl/cohort/model"
)

// FitVector is what a site contributes to the secure sum of a fit round:
// [n·Δ, n, n·loss]. The coordinator learns only Σn·Δ, Σn and Σn·loss.
func FitVector(delta []float64, n int64, loss float64) []float64 {
	v := make([]float64, len(delta)+2)
	for i, d := range delta {
		v[i] = float64(n) * d
	}
	v[len(delta)] = float64(n)
	v[len(delta)+1] = float64(n) * loss
	return v
}

// CountsVector is what a site contributes to the secure sum of an evaluation:
// [N, Σloss, correct, positive histogram, negative histogram].
func CountsVector(c model.Counts) []float64 {
	v := append([]float64{float64(c.N), c.LossSum, float64(c.Correct)}, c.PosHist...)
	return append(v, c.NegHist...)
}

// CountsLen is the length of CountsVector's result: N, Σloss and the
// number correct, then, for a binary model, the two score histograms of
// bins each.
func CountsLen(binary bool, bins int) int {
	if binary {
		return 3 + 2*bins
	}
	return 3
}

// CountsFromVector inverts CountsVector on a decrypted sum; counts are rounded
// to the integers they are.
func CountsFromVector(v []float64, bins int) (model.Counts, error) {
	if len(v) != CountsLen(true, bins) && len(v) != CountsLen(false, bins) {
		return model.Counts{}, fmt.Errorf("secwire: counts vector has %d values, want %d", len(v), CountsLen(true, bins))
	}
	c := model.Counts{N: int64(math.Round(v[0])), LossSum: v[1], Correct: int64(math.Round(v[2]))}
	if len(v) > 3 {
		c.PosHist, c.NegHist = make([]float64, bins), make([]float64, bins)
		for i := 0; i < bins; i++ {
			c.PosHist[i], c.NegHist[i] = math.Round(v[3+i]), math.Round(v[3+bins+i])
		}
	}
	return c, nil
}
