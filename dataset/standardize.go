package dataset

import (
	"fmt"
	"math"
	"slices"

	"github.com/cohortfl/cohort/model"
)

// LocalMoments returns a site's contribution to the global feature moments:
// a vector of length 3*D laid out in three blocks,
//
//	[0, D)    count of non-missing (non-NaN) values of each feature
//	[D, 2D)   sum of those values
//	[2D, 3D)  sum of their squares
//
// so the element-wise sum of every site's vector is the moment vector of the
// pooled data. Weights are ignored. The result is meant for a secure sum; it
// must not be sent anywhere in the clear.
func LocalMoments(x model.Examples) []float64 {
	d := x.D
	m := make([]float64, 3*d)
	for i := 0; i < x.N; i++ {
		row := x.X[i*d : (i+1)*d]
		for j, v := range row {
			if math.IsNaN(v) {
				continue
			}
			m[j]++
			m[d+j] += v
			m[2*d+j] += v * v
		}
	}
	return m
}

// Standardizer holds the global mean and population standard deviation of
// every feature. It is immutable and safe for concurrent use.
type Standardizer struct {
	mean, std []float64
}

// NewStandardizer computes means and standard deviations from the sum of all
// sites' LocalMoments vectors. For feature j with count n, sum s and sum of
// squares q: mean = s/n and std = sqrt(max(0, q/n - mean²)). A feature with
// no observed values gets mean 0; a feature whose variance is zero (up to a
// relative rounding tolerance of 1e-12) gets std 1, so it is centred but not
// scaled. Counts need not be integers (fixed-point secure sums round), but
// every entry must be finite, counts and sums of squares non-negative.
func NewStandardizer(totalMoments []float64, d int) (*Standardizer, error) {
	if d <= 0 || len(totalMoments) != 3*d {
		return nil, fmt.Errorf("%w: got %d values for %d features, want 3*%d", ErrMoments, len(totalMoments), d, d)
	}
	for i, v := range totalMoments {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: entry %d is %v", ErrMoments, i, v)
		}
	}
	st := &Standardizer{mean: make([]float64, d), std: make([]float64, d)}
	for j := 0; j < d; j++ {
		n, s, q := totalMoments[j], totalMoments[d+j], totalMoments[2*d+j]
		if n < 0 || q < 0 {
			return nil, fmt.Errorf("%w: feature %d has count %v and sum of squares %v; both must be >= 0", ErrMoments, j, n, q)
		}
		st.std[j] = 1
		if n == 0 {
			if s != 0 || q != 0 {
				return nil, fmt.Errorf("%w: feature %d has count 0 but sum %v, sum of squares %v", ErrMoments, j, s, q)
			}
			continue
		}
		mu := s / n
		v := q/n - mu*mu
		st.mean[j] = mu
		if v > 1e-12*math.Max(1, mu*mu) {
			st.std[j] = math.Sqrt(v)
		}
	}
	return st, nil
}

// Dim returns the number of features.
func (s *Standardizer) Dim() int { return len(s.mean) }

// Mean returns a copy of the global feature means.
func (s *Standardizer) Mean() []float64 { return slices.Clone(s.mean) }

// Std returns a copy of the global feature standard deviations (1 for
// constant or unobserved features).
func (s *Standardizer) Std() []float64 { return slices.Clone(s.std) }

// Apply standardises x in place, x[j] = (x[j]-mean[j])/std[j], and replaces
// every missing (NaN) value with 0, which is the global mean after
// standardisation. It fails, leaving x untouched, if x.D differs from Dim or
// len(x.X) != x.N*x.D.
func (s *Standardizer) Apply(x *model.Examples) error {
	d := len(s.mean)
	if x == nil {
		return fmt.Errorf("%w: nil examples", ErrMoments)
	}
	if x.D != d || x.N < 0 || len(x.X) != x.N*x.D {
		return fmt.Errorf("%w: examples have D=%d, N=%d, len(X)=%d; standardizer has %d features", ErrMoments, x.D, x.N, len(x.X), d)
	}
	for i := 0; i < x.N; i++ {
		row := x.X[i*d : (i+1)*d]
		for j, v := range row {
			if math.IsNaN(v) {
				row[j] = 0
				continue
			}
			row[j] = (v - s.mean[j]) / s.std[j]
		}
	}
	return nil
}
