package accountant

import (
	"fmt"
	"math"
	"math/cmplx"

	"gonum.org/v1/gonum/dsp/fourier"
)

// composeGroups returns the distribution of the sum of privacy losses when
// pmfs[g] is composed groups[g].count times, for all g.
//
// Every group is folded into one circular buffer of length N ≥ the width of
// a window [L, U] that, by a Chernoff bound, holds all but ≤ τ of the
// composed mass on each side; the buffers' real FFTs are raised to the
// group counts and multiplied; one inverse FFT gives the composition modulo
// N. Mass outside the window aliases into it; its total (≤ 2τ) is added to
// the infinity mass, which keeps the result pessimistic.
func (p *PLD) composeGroups(groups []group, pmfs []*pmf) (*pmf, error) {
	d, tau := p.cfg.Discretization, p.cfg.TailMass

	// Mass at +∞: 1 - Π (1-inf_g)^count_g.
	logKeep := 0.0
	for g, gr := range groups {
		logKeep += float64(gr.count) * math.Log1p(-pmfs[g].inf)
	}
	inf := -math.Expm1(logKeep)

	if len(groups) == 1 && groups[0].count == 1 {
		c := *pmfs[0]
		return &c, nil
	}

	// Trivial support of the composition, in grid units (float64: the
	// products can exceed int64 only for absurd inputs, which MaxBins
	// rejects below).
	var triLo, triHi float64
	for g, gr := range groups {
		triLo += float64(gr.count) * float64(pmfs[g].offset)
		triHi += float64(gr.count) * float64(pmfs[g].offset+len(pmfs[g].probs)-1)
	}
	cgf := func(t float64) float64 {
		var s float64
		for g, gr := range groups {
			s += float64(gr.count) * logMGF(pmfs[g], t, d)
		}
		return s
	}
	logTau := math.Log(tau)
	// Upper bound U: P(S ≥ U) ≤ e^{K(t) - tU} = τ at U = (K(t) - log τ)/t.
	upper := minimizeLogT(func(t float64) float64 { return (cgf(t) - logTau) / t })
	// Lower bound L: P(S ≤ L) ≤ e^{K(-t) + tL} = τ at L = (log τ - K(-t))/t.
	lower := -minimizeLogT(func(t float64) float64 { return (cgf(-t) - logTau) / t })

	hi, lo := triHi, triLo
	if u := math.Ceil(upper / d); !math.IsInf(u, 0) && u < hi {
		hi = u
		inf += tau
	}
	if l := math.Floor(lower / d); !math.IsInf(l, 0) && l > lo {
		lo = l
		inf += tau
	}
	if !(hi-lo+1 <= float64(p.cfg.MaxBins)) {
		return nil, fmt.Errorf("%w: composition needs %.3g grid points over losses [%.4g, %.4g] at discretisation %g (limit %d)",
			ErrTooLarge, hi-lo+1, lo*d, hi*d, d, p.cfg.MaxBins)
	}
	width := int(hi-lo) + 1
	n := nextSmooth(width)
	if n > p.cfg.MaxBins {
		n = width // still correct, only slower for awkward factors
	}

	fft := fourier.NewFFT(n)
	buf := make([]float64, n)
	coef := make([]complex128, n/2+1)
	acc := make([]complex128, n/2+1)
	for i := range acc {
		acc[i] = 1
	}
	for g, gr := range groups {
		clear(buf)
		pm := pmfs[g]
		for i, v := range pm.probs {
			buf[mod(pm.offset+i, n)] += v
		}
		fft.Coefficients(coef, buf)
		for i, z := range coef {
			acc[i] *= powInt(z, gr.count)
		}
	}
	fft.Sequence(buf, acc)

	out := &pmf{offset: int(lo), probs: make([]float64, width), inf: math.Min(inf, 1)}
	scale := 1 / float64(n)
	for k := range out.probs {
		// Negative values are FFT rounding noise; zeroing them can only
		// increase δ.
		out.probs[k] = math.Max(buf[mod(out.offset+k, n)]*scale, 0)
	}
	return out, nil
}

// logMGF returns log Σ_i p_i e^{t·ℓ_i} for the finite part of d, evaluated
// by Horner's rule in e^{-|t|Δ} from the end where e^{tℓ} is largest, so it
// cannot overflow.
func logMGF(d *pmf, t, delta float64) float64 {
	n := len(d.probs)
	var acc float64
	if t >= 0 {
		r := math.Exp(-t * delta)
		for _, p := range d.probs {
			acc = acc*r + p
		}
		return t*delta*float64(d.offset+n-1) + math.Log(acc)
	}
	s := math.Exp(t * delta)
	for i := n - 1; i >= 0; i-- {
		acc = acc*s + d.probs[i]
	}
	return t*delta*float64(d.offset) + math.Log(acc)
}

// minimizeLogT minimises f over t in [1e-4, 1e7] by golden-section search
// on log t. The Chernoff objective (K(t) + c)/t with K convex and c > 0 is
// quasi-convex in t, so the search finds its minimum; any t gives a valid
// bound, so a slightly sub-optimal t only widens the window.
func minimizeLogT(f func(float64) float64) float64 {
	const iters = 40
	g := (math.Sqrt(5) - 1) / 2
	a, b := math.Log(1e-4), math.Log(1e7)
	x1, x2 := b-g*(b-a), a+g*(b-a)
	f1, f2 := f(math.Exp(x1)), f(math.Exp(x2))
	for range iters {
		if f1 <= f2 {
			b, x2, f2 = x2, x1, f1
			x1 = b - g*(b-a)
			f1 = f(math.Exp(x1))
		} else {
			a, x1, f1 = x1, x2, f2
			x2 = a + g*(b-a)
			f2 = f(math.Exp(x2))
		}
	}
	return math.Min(f1, f2)
}

// powInt returns z^k for k ≥ 1 via polar form; |z| ≤ 1 here, so small
// moduli underflow harmlessly to 0.
func powInt(z complex128, k int) complex128 {
	if k == 1 {
		return z
	}
	r := cmplx.Abs(z)
	if r == 0 {
		return 0
	}
	lr := float64(k) * math.Log(r)
	if lr < -745 {
		return 0
	}
	return cmplx.Rect(math.Exp(lr), float64(k)*cmplx.Phase(z))
}

// nextSmooth returns the smallest n' ≥ n of the form 2^a·3^b·5^c, sizes
// for which gonum's FFT is fast.
func nextSmooth(n int) int {
	best := math.MaxInt
	for p5 := 1; p5 < best; p5 *= 5 {
		for p35 := p5; p35 < best; p35 *= 3 {
			v := p35
			for v < n {
				v *= 2
			}
			best = min(best, v)
			if p35 > math.MaxInt/3 {
				break
			}
		}
		if p5 > math.MaxInt/5 {
			break
		}
	}
	return best
}

// mod returns i mod n in [0, n).
func mod(i, n int) int {
	m := i % n
	if m < 0 {
		m += n
	}
	return m
}
