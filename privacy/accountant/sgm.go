package accountant

import (
	"math"

	"gonum.org/v1/gonum/integrate/quad"
)

// This file computes the Rényi divergence of one application of the
// Poisson-subsampled Gaussian mechanism (SGM),
//
//	RDP(α) = log(A_α)/(α-1),  A_α = E_{z~μ0}[(μ(z)/μ0(z))^α],
//
// with μ0 = N(0, σ²) and μ = (1-q)·N(0, σ²) + q·N(1, σ²). See doc.go.

// sgmRDP returns the exact RDP of one SGM step at order alpha > 1.
func sgmRDP(q, sigma, alpha float64) float64 {
	switch {
	case q == 0:
		return 0
	case q == 1:
		// Plain Gaussian mechanism: D_α(N(1,σ²) || N(0,σ²)) = α/(2σ²).
		return alpha / (2 * sigma * sigma)
	}
	var logA float64
	if alpha == math.Trunc(alpha) && alpha <= maxIntegerSeriesOrder {
		logA = logAInt(q, sigma, int(alpha))
	} else {
		logA = logAFrac(q, sigma, alpha)
	}
	r := logA / (alpha - 1)
	if !(r > 0) { // A_α ≥ 1, so a non-positive value is rounding noise.
		return 0
	}
	return r
}

// maxIntegerSeriesOrder bounds the orders evaluated with the O(α) binomial
// series; larger integer orders use the fractional-order routine.
const maxIntegerSeriesOrder = 1 << 16

// logAInt returns log A_α for integer α ≥ 2 and 0 < q < 1 using the
// binomial expansion of (1-q+q·e^{(2z-1)/(2σ²)})^α:
//
//	A_α = Σ_{k=0}^{α} C(α,k) q^k (1-q)^{α-k} exp((k²-k)/(2σ²)),
//
// summed in log space (all terms are positive, so this is exact up to
// rounding).
func logAInt(q, sigma float64, alpha int) float64 {
	logq, log1mq := math.Log(q), math.Log1p(-q)
	inv := 1 / (2 * sigma * sigma)
	a := float64(alpha)
	lgA, _ := math.Lgamma(a + 1)
	m, s := math.Inf(-1), 0.0 // running log-sum-exp: sum = s·e^m
	var lc float64            // log C(α,k)
	for k := 0; k <= alpha; k++ {
		fk := float64(k)
		if k%256 == 0 {
			// Re-anchor the recurrence so rounding cannot accumulate.
			lk, _ := math.Lgamma(fk + 1)
			lak, _ := math.Lgamma(a - fk + 1)
			lc = lgA - lk - lak
		}
		t := lc + fk*logq + (a-fk)*log1mq + (fk*fk-fk)*inv
		if t > m {
			s = s*math.Exp(m-t) + 1
			m = t
		} else if t > m-40 {
			// Terms below e^{-40}·max are under half an ulp of s ≥ 1 and
			// would not change the sum; skipping them saves the exp.
			s += math.Exp(t - m)
		}
		lc += math.Log((a - fk) / (fk + 1)) // C(α,k+1) = C(α,k)·(α-k)/(k+1)
	}
	return m + math.Log(s)
}

// logAFrac returns log A_α for real α > 1 and 0 < q < 1. It uses the
// two-series formula of Mironov, Talwar and Zhang (2019, §3.3) with signed
// binomial coefficients when the split point satisfies |z0| ≤ 30, and
// numerical integration of the defining integral otherwise, or when the
// alternating series would lose more than three digits to cancellation or
// fails to converge.
func logAFrac(q, sigma, alpha float64) float64 {
	// The series needs about z0 terms whose logarithms are of size
	// ~z0²/(2σ²) before they cancel to O(1); for |z0| > 30 their rounding
	// (~1e-16 times that size) would exceed what quadrature achieves.
	if z0 := sigma*sigma*(math.Log1p(-q)-math.Log(q)) + 0.5; math.Abs(z0) <= 30 {
		if v, ok := logAFracSeries(q, sigma, alpha); ok {
			return v
		}
	}
	return logAQuad(q, sigma, alpha)
}

// logAFracSeries evaluates
//
//	A_α = Σ_{i≥0} C(α,i) [ q^i (1-q)^{α-i} e^{(i²-i)/(2σ²)} Φ((z0-i)/σ)
//	                     + q^{α-i} (1-q)^i e^{(j²-j)/(2σ²)} Φ((j-z0)/σ) ],
//
// j = α-i, z0 = σ² log(1/q-1) + 1/2, where C(α,i) is the generalised
// binomial coefficient with its sign: for i ≥ ⌊α⌋+2 the terms alternate.
// The alternating tail decays only polynomially (like i^{-α-2}), so the
// partial sums are accelerated by repeated averaging (Euler's transform of
// the tail). ok is false if the result cannot be trusted.
func logAFracSeries(q, sigma, alpha float64) (logA float64, ok bool) {
	const (
		maxTerms = 20000
		levels   = 10 // averaging levels of the Euler transform
		relTol   = 1e-14
	)
	logq, log1mq := math.Log(q), math.Log1p(-q)
	s2 := sigma * sigma
	inv := 1 / (2 * s2)
	z0 := s2*(log1mq-logq) + 0.5
	c := 1 / (math.Sqrt2 * sigma)
	lgA, _ := math.Lgamma(alpha + 1)
	altStart := int(math.Floor(alpha)) + 2

	scale := math.Inf(-1) // sums are stored in units of e^scale
	var sum, abs float64
	var partial [levels + 1]float64 // last partial sums, oldest first
	var avg [levels + 1]float64
	sign := 1.0
	prevEst, prevLt := math.NaN(), math.Inf(1)
	stable := 0
	for i := 0; i < maxTerms; i++ {
		fi := float64(i)
		j := alpha - fi
		li, _ := math.Lgamma(fi + 1)
		lj, _ := math.Lgamma(j + 1) // log|Γ(j+1)|
		lc := lgA - li - lj         // log|C(α,i)|
		s0 := lc + fi*logq + j*log1mq + (fi*fi-fi)*inv + logErfc((fi-z0)*c) - math.Ln2
		s1 := lc + j*logq + fi*log1mq + (j*j-j)*inv + logErfc((z0-j)*c) - math.Ln2
		lt := logAddExp(s0, s1)
		if lt > scale {
			f := math.Exp(scale - lt)
			sum *= f
			abs *= f
			for k := range partial {
				partial[k] *= f
			}
			scale = lt
		}
		t := math.Exp(lt - scale)
		sum += sign * t
		abs += t
		copy(partial[:], partial[1:])
		partial[levels] = sum
		if i >= altStart+levels {
			// Repeated averaging of the last partial sums.
			avg = partial
			for l := levels; l > 0; l-- {
				for k := 0; k < l; k++ {
					avg[k] = 0.5 * (avg[k] + avg[k+1])
				}
			}
			est := avg[0]
			decreasing := lt < prevLt
			if decreasing && est > 0 && math.Abs(est-prevEst) <= relTol*est {
				stable++
			} else {
				stable = 0
			}
			if stable >= 3 || (decreasing && t <= 1e-17*math.Abs(sum) && sum > 0) {
				if abs > 1e3*est { // cancellation would cost more than three digits
					return 0, false
				}
				return scale + math.Log(est), true
			}
			prevEst = est
		}
		prevLt = lt
		// Sign of C(α,i+1) = sign of C(α,i) · sign(α-i).
		if j < 0 {
			sign = -sign
		}
	}
	return 0, false
}

// logAQuad integrates A_α = ∫ μ0(z) (1-q+q·e^{(2z-1)/(2σ²)})^α dz
// numerically with composite Gauss–Legendre quadrature over
// [-14σ, max(α,1)+14σ], panels no wider than min(σ, σ²) (the widths of the
// Gaussian components and of the mixture's transition at z0). Mass outside
// the range is below e^{-98} relative to each Gaussian component. The
// integrand is evaluated in log space and rescaled by its maximum.
func logAQuad(q, sigma, alpha float64) float64 {
	const nodes = 20
	lo := -14 * sigma
	hi := math.Max(alpha, 1) + 14*sigma
	h := math.Min(sigma, sigma*sigma)
	panels := int(math.Ceil((hi - lo) / h))
	panels = min(max(panels, 8), 200000)
	h = (hi - lo) / float64(panels)

	x := make([]float64, nodes)
	w := make([]float64, nodes)
	quad.Legendre{}.FixedLocations(x, w, -1, 1)

	logNorm := -math.Log(sigma * math.Sqrt(2*math.Pi))
	logf := func(z float64) float64 {
		return -z*z/(2*sigma*sigma) + logNorm + alpha*lossRemove(q, sigma, z)
	}
	vals := make([]float64, 0, panels*nodes)
	m := math.Inf(-1)
	for p := 0; p < panels; p++ {
		mid := lo + (float64(p)+0.5)*h
		for k := range x {
			v := logf(mid + 0.5*h*x[k])
			vals = append(vals, v)
			m = math.Max(m, v)
		}
	}
	var s float64
	for i, v := range vals {
		s += w[i%nodes] * math.Exp(v-m)
	}
	return m + math.Log(0.5*h*s)
}

// lossRemove returns log(μ(z)/μ0(z)) = log(1-q+q·e^{(2z-1)/(2σ²)}), the
// privacy loss of output z for the remove direction, without overflow.
func lossRemove(q, sigma, z float64) float64 {
	y := (2*z - 1) / (2 * sigma * sigma)
	switch {
	case q == 1:
		return y
	case y > 0:
		return math.Log(q) + y + math.Log1p((1-q)/q*math.Exp(-y))
	default:
		return math.Log1p(q * math.Expm1(y))
	}
}
