package secwire

import (
	"fmt"
	"math"
)

// Wide values. The secure sum bounds every coordinate by a clip bound C so that
// the sum cannot wrap. Feature moments (Σx², say) exceed any useful C, so they
// are written in limbs of base B = C: v = a·B² + b·B + c with integers a, b
// and |c| < B. Every limb is within the bound, the integer limbs' sums are
// integers (decryption error ≪ ½ is removed by rounding), and only the last
// limb carries decryption error. Three limbs cover |v| < C³ per site.

// Limbs is the number of limbs per wide value.
const Limbs = 3

// SplitWide writes each value of v as Limbs coordinates of base b.
func SplitWide(v []float64, b float64) ([]float64, error) {
	out := make([]float64, 0, Limbs*len(v))
	b2 := b * b
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("secwire: value %d is %v", i, x)
		}
		if math.Abs(x) >= b2*b {
			return nil, fmt.Errorf("secwire: value %d = %g exceeds the wide-value range ±%g", i, x, b2*b)
		}
		a := math.Trunc(x / b2)
		r := x - a*b2
		m := math.Trunc(r / b)
		c := r - m*b
		out = append(out, a, m, c)
	}
	return out, nil
}

// JoinWide inverts SplitWide on a sum of split vectors.
func JoinWide(s []float64, b float64) ([]float64, error) {
	if len(s)%Limbs != 0 {
		return nil, fmt.Errorf("secwire: %d limbs is not a multiple of %d", len(s), Limbs)
	}
	out := make([]float64, len(s)/Limbs)
	for i := range out {
		a, m, c := math.Round(s[Limbs*i]), math.Round(s[Limbs*i+1]), s[Limbs*i+2]
		out[i] = (a*b+m)*b + c
	}
	return out, nil
}
