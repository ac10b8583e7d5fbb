package client

import "math"

// ClipL2 scales v in place so that its L2 norm is at most c, and returns the
// norm before clipping.
func ClipL2(v []float64, c float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	norm := math.Sqrt(s)
	if norm > c {
		f := c / norm
		for i := range v {
			v[i] *= f
		}
	}
	return norm
}
