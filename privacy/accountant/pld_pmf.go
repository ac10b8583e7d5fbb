package accountant

import (
	"fmt"
	"math"
)

// pmf is a discretised privacy-loss distribution: probs[i] is the
// probability (under the "upper" distribution P of the dominating pair) of
// privacy loss (offset+i)·Δ, and inf is the probability of loss +∞. The
// finite probabilities and inf sum to at most one.
type pmf struct {
	offset int
	probs  []float64
	inf    float64
}

// lossModel describes one direction of one subsampled Gaussian mechanism:
// the privacy loss L = log(P/Q) as a monotone function of the output x, and
// the masses P and Q put on loss intervals.
type lossModel interface {
	// masses returns P(a < L ≤ b) and Q(a < L ≤ b).
	masses(a, b float64) (p, q float64)
	// tailP returns P(L > a).
	tailP(a float64) float64
	// lossRange returns losses lo ≤ hi with P(L < lo) ≤ tau and
	// P(L > hi) ≤ tau.
	lossRange(tau float64) (lo, hi float64)
}

// removeModel: P = (1-q)N(0,σ²) + qN(1,σ²), Q = N(0,σ²), with loss
// L(x) = log(1-q+q·e^{(2x-1)/(2σ²)}) increasing in x.
type removeModel struct{ q, sigma float64 }

// addModel: P = N(0,σ²), Q = (1-q)N(0,σ²) + qN(1,σ²), with loss
// L(x) = -log(1-q+q·e^{(2x-1)/(2σ²)}) decreasing in x.
type addModel struct{ q, sigma float64 }

// xOfRemoveLoss inverts the remove-direction loss: the x with
// log(1-q+q·e^{(2x-1)/(2σ²)}) = l, or -Inf when l ≤ log(1-q).
func xOfRemoveLoss(q, sigma, l float64) float64 {
	if q == 1 {
		return sigma*sigma*l + 0.5
	}
	// u = e^l - (1-q), computed without cancellation for small l and
	// without overflow for large l.
	var logU float64
	if l > 30 {
		logU = l + math.Log1p(-(1-q)*math.Exp(-l))
	} else {
		u := math.Expm1(l) + q
		if u <= 0 {
			return math.Inf(-1)
		}
		logU = math.Log(u)
	}
	return sigma*sigma*(logU-math.Log(q)) + 0.5
}

func (m removeModel) masses(a, b float64) (p, q float64) {
	xa, xb := xOfRemoveLoss(m.q, m.sigma, a), xOfRemoveLoss(m.q, m.sigma, b)
	s := m.sigma
	q = normBetween(xa/s, xb/s)
	p = (1-m.q)*q + m.q*normBetween((xa-1)/s, (xb-1)/s)
	return p, q
}

func (m removeModel) tailP(a float64) float64 {
	x := xOfRemoveLoss(m.q, m.sigma, a)
	return (1-m.q)*normSurv(x/m.sigma) + m.q*normSurv((x-1)/m.sigma)
}

func (m removeModel) lossRange(tau float64) (lo, hi float64) {
	z := -normQuantile(tau) // Φ̄(z) = tau
	// P(X < -σz) ≤ Φ(-z) and P(X > 1+σz) ≤ Φ̄(z).
	return lossRemove(m.q, m.sigma, -m.sigma*z), lossRemove(m.q, m.sigma, 1+m.sigma*z)
}

func (m addModel) masses(a, b float64) (p, q float64) {
	// a < L ≤ b  ⇔  xOfRemoveLoss(-b) ≤ x < xOfRemoveLoss(-a).
	xa, xb := xOfRemoveLoss(m.q, m.sigma, -b), xOfRemoveLoss(m.q, m.sigma, -a)
	s := m.sigma
	p = normBetween(xa/s, xb/s)
	q = (1-m.q)*p + m.q*normBetween((xa-1)/s, (xb-1)/s)
	return p, q
}

func (m addModel) tailP(a float64) float64 {
	return normCDF(xOfRemoveLoss(m.q, m.sigma, -a) / m.sigma)
}

func (m addModel) lossRange(tau float64) (lo, hi float64) {
	z := -normQuantile(tau)
	// Under P = N(0,σ²): P(X > σz) = P(X < -σz) = tau.
	lo = -lossRemove(m.q, m.sigma, m.sigma*z)
	hi = -lossRemove(m.q, m.sigma, -m.sigma*z)
	if m.q < 1 {
		hi = math.Min(hi, -math.Log1p(-m.q)) // the loss is bounded above
	}
	return lo, hi
}

// discretise builds the connect-the-dots discretisation (Doroshenko et al.
// 2022) of a loss model on the grid Δ·ℤ. The P-mass of every interval
// (kΔ, (k+1)Δ] is split between its two end points so that both the
// P-mass and the Q-mass (E_P[e^{-L}]) are preserved; the resulting
// distribution has exactly the true hockey-stick divergence δ(ε) at every
// grid point ε = kΔ and dominates it in between (δ is convex in e^ε). Loss
// below the tau-quantile is moved up to the lowest grid point (pessimistic,
// free), loss above the upper tau-quantile goes to +∞ (costs at most tau in
// δ).
func discretise(m lossModel, delta, tau float64, maxBins int) (*pmf, error) {
	lo, hi := m.lossRange(tau)
	iLo := math.Floor(lo / delta)
	iHi := math.Ceil(hi / delta)
	if iHi <= iLo {
		iHi = iLo + 1
	}
	if !(iHi-iLo+1 <= float64(maxBins)) {
		return nil, fmt.Errorf("%w: one event needs %.3g grid points over losses [%.4g, %.4g] at discretisation %g (limit %d)",
			ErrTooLarge, iHi-iLo+1, lo, hi, delta, maxBins)
	}
	n := int(iHi-iLo) + 1
	d := &pmf{offset: int(iLo), probs: make([]float64, n)}
	// 1/(1-e^{-Δ}) converts the Q-mass deficit into the upper share.
	denom := -math.Expm1(-delta)
	d.probs[0] = 1 - m.tailP(iLo*delta)
	for k := 0; k < n-1; k++ {
		a := (iLo + float64(k)) * delta
		p, q := m.masses(a, a+delta)
		if p <= 0 {
			continue
		}
		// Upper share u, lower share p-u, with (p-u)e^{-a} + u·e^{-a-Δ} = q.
		u := (p - math.Exp(math.Log(q)+a)) / denom
		u = math.Min(math.Max(u, 0), p)
		d.probs[k] += p - u
		d.probs[k+1] += u
	}
	d.inf = m.tailP(iHi * delta)
	return d, nil
}

// normQuantile returns Φ^{-1}(p) for p in (0, 1).
func normQuantile(p float64) float64 {
	return -math.Sqrt2 * math.Erfcinv(2*p)
}
