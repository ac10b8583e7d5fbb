package accountant

import "math"

// Standard-normal helpers accurate in both tails.

// normSurv returns Φ̄(z) = P(Z > z) for Z ~ N(0,1), with full relative
// accuracy in the upper tail.
func normSurv(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// normCDF returns Φ(z) = P(Z ≤ z), with full relative accuracy in the lower
// tail.
func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// normBetween returns P(a < Z ≤ b) for a ≤ b, choosing the representation
// that avoids cancellation of two numbers close to 1.
func normBetween(a, b float64) float64 {
	if b <= a {
		return 0
	}
	var p float64
	switch {
	case a >= 0:
		p = normSurv(a) - normSurv(b)
	case b <= 0:
		p = normCDF(b) - normCDF(a)
	default:
		p = 1 - normCDF(a) - normSurv(b)
	}
	if p < 0 {
		return 0
	}
	return p
}

// logErfc returns log(erfc(x)) without underflow for large x.
func logErfc(x float64) float64 {
	if x < 25 {
		return math.Log(math.Erfc(x))
	}
	// Asymptotic expansion erfc(x) = e^{-x²}/(x√π) Σ_k (-1)^k (2k-1)!!/(2x²)^k.
	// For x ≥ 25, 1/(2x²) ≤ 8e-4 and eight terms give full double precision.
	inv := 1 / (2 * x * x)
	sum, term := 1.0, 1.0
	for k := 1; k <= 8; k++ {
		term *= -float64(2*k-1) * inv
		sum += term
	}
	return -x*x - math.Log(x) - 0.5*math.Log(math.Pi) + math.Log(sum)
}

// logAddExp returns log(e^a + e^b).
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}
