package explain

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Limits on KernelConfig, so a bad config cannot ask for 2^60 coalitions.
const (
	maxExactLimit = 20      // 2^20 coalitions
	maxSamples    = 1 << 22 // sampled coalitions per Explain
)

// KernelConfig controls KernelSHAP. The zero value is invalid; start from
// DefaultKernelConfig.
type KernelConfig struct {
	// MaxExact: with M ≤ MaxExact features every one of the 2^M coalitions is
	// evaluated and the result is the exact Shapley value. 1 ≤ MaxExact ≤ 20.
	MaxExact int
	// Samples is the number of coalitions drawn when M > MaxExact. They are
	// drawn in complementary pairs (z and 1−z) and split into Batches equal
	// batches, so Samples must be a positive multiple of 2·Batches.
	Samples int
	// Batches (≥ 2) is the number of independent batches whose spread gives
	// the reported standard error.
	Batches int
}

// DefaultKernelConfig enumerates up to 12 features and otherwise samples 4096
// coalitions (2048 pairs) in 16 batches.
func DefaultKernelConfig() KernelConfig {
	return KernelConfig{MaxExact: 12, Samples: 4096, Batches: 16}
}

// Validate reports whether the configuration is usable.
func (c KernelConfig) Validate() error {
	if c.MaxExact < 1 || c.MaxExact > maxExactLimit {
		return fmt.Errorf("%w: MaxExact = %d, want 1..%d", ErrInvalidConfig, c.MaxExact, maxExactLimit)
	}
	if c.Batches < 2 {
		return fmt.Errorf("%w: Batches = %d, want >= 2", ErrInvalidConfig, c.Batches)
	}
	if c.Samples <= 0 || c.Samples > maxSamples || c.Samples%(2*c.Batches) != 0 {
		return fmt.Errorf("%w: Samples = %d, want a positive multiple of 2·Batches = %d, at most %d", ErrInvalidConfig, c.Samples, 2*c.Batches, maxSamples)
	}
	return nil
}

// Kernel computes interventional KernelSHAP values of a ValueFunc against a
// fixed background set. A Kernel is immutable: Explain may be called
// concurrently provided the ValueFunc is safe for concurrent use and each
// call has its own rng.
type Kernel struct {
	f   ValueFunc
	bg  []float64 // n rows of d features, owned copy
	n   int
	d   int
	cfg KernelConfig
}

// NewKernel builds a KernelSHAP explainer for f over d features against the
// row-major background (len a positive multiple of d, finite). The
// background is copied. The cost of one Explain is (number of coalitions) ×
// (background rows) calls of f, so keep the background small (tens to a few
// hundred rows; a k-means or random summary of the data works well).
func NewKernel(f ValueFunc, background []float64, d int, cfg KernelConfig) (*Kernel, error) {
	if f == nil {
		return nil, fmt.Errorf("kernel shap: %w: nil value function", ErrInvalidInput)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kernel shap: %w", err)
	}
	n, err := checkBackground(background, d)
	if err != nil {
		return nil, fmt.Errorf("kernel shap: %w", err)
	}
	return &Kernel{f: f, bg: append([]float64(nil), background...), n: n, d: d, cfg: cfg}, nil
}

// Explain returns the KernelSHAP values of x (len d, finite). The game is
//
//	v(S) = (1/n) Σ_b f(x_S, bg_b,S̄)
//
// (features outside S are replaced by background row b, then averaged), with
// Base = v(∅) = E[f(background)] and Value = v(all) = f(x). The attributions
// solve the Shapley-kernel weighted least squares
//
//	min Σ_z k(z)·(v(z) − v(∅) − Σ_i z_i φ_i)²,  k(z) = (M−1) / (C(M,|z|)·|z|·(M−|z|)),
//
// subject to Σφ = f(x) − v(∅), which is imposed exactly by eliminating the
// last feature (φ_M = Δ − Σ_{i<M} φ_i); gonum's QR solves the reduced system.
//
// With M ≤ MaxExact all 2^M − 2 proper coalitions enter and the solution is
// the exact Shapley value; rng is not used and may be nil. Otherwise Samples
// coalitions are drawn from the kernel distribution (size s with probability
// ∝ 1/(s(M−s)), then a uniform subset of that size), each followed by its
// complement, and weighted equally. Phi is the solution on all samples;
// StdErr is the batch-means estimate sd_b(φ^(b))/√B from re-solving on each
// of the B = Batches disjoint batches, which are independent draws. rng is
// then required and fully determines the result.
func (k *Kernel) Explain(x []float64, rng *rand.Rand) (Explanation, error) {
	if err := checkRow("x", x, k.d); err != nil {
		return Explanation{}, fmt.Errorf("kernel shap: %w", err)
	}
	g := &game{k: k, x: x, buf: make([]float64, k.d), mask: make([]bool, k.d)}
	base, err := g.empty()
	if err != nil {
		return Explanation{}, fmt.Errorf("kernel shap: %w", err)
	}
	value := k.f(x)
	if !finite(value) {
		return Explanation{}, fmt.Errorf("kernel shap: %w: f(x) = %v", ErrNumerical, value)
	}
	m := k.d
	delta := value - base
	e := Explanation{Base: base, Value: value}
	if m == 1 {
		e.Phi, e.Exact, e.Coalitions = []float64{delta}, true, 2
		return e, nil
	}
	if m <= k.cfg.MaxExact {
		e.Phi, e.Coalitions, err = k.exact(g, delta)
		e.Exact = true
	} else {
		if rng == nil {
			return Explanation{}, fmt.Errorf("kernel shap: %w: %d features exceed MaxExact = %d and need an rng for sampling", ErrInvalidInput, m, k.cfg.MaxExact)
		}
		e.Phi, e.StdErr, e.Coalitions, err = k.sampled(g, delta, rng)
	}
	if err != nil {
		return Explanation{}, fmt.Errorf("kernel shap: %w", err)
	}
	return e, nil
}

// exact enumerates every proper coalition.
func (k *Kernel) exact(g *game, delta float64) ([]float64, int, error) {
	m := k.d
	rows := 1<<m - 2
	z := make([]bool, rows*m)
	y := make([]float64, rows)
	w := make([]float64, rows)
	for c := 1; c <= rows; c++ {
		r := c - 1
		mask := z[r*m : (r+1)*m]
		for i := range mask {
			mask[i] = c>>i&1 == 1
		}
		v, err := g.value(mask)
		if err != nil {
			return nil, 0, err
		}
		y[r] = v - g.base
		s := bits.OnesCount(uint(c))
		w[r] = float64(m-1) / (binomial(m, s) * float64(s) * float64(m-s))
	}
	phi, err := solveConstrained(z, y, w, m, delta)
	if err != nil {
		return nil, 0, err
	}
	return phi, rows + 2, nil
}

// sampled draws Samples coalitions in complementary pairs and estimates the
// standard error by batch means.
func (k *Kernel) sampled(g *game, delta float64, rng *rand.Rand) (phi, se []float64, coalitions int, err error) {
	m, n := k.d, k.cfg.Samples
	// Size distribution p(s) ∝ 1/(s(M−s)), symmetric in s ↔ M−s, so a pair
	// (z, 1−z) is a draw of z followed by its complement.
	cdf := make([]float64, m)
	for s := 1; s < m; s++ {
		cdf[s] = cdf[s-1] + 1/float64(s*(m-s))
	}
	total := cdf[m-1]
	z := make([]bool, n*m)
	y := make([]float64, n)
	perm := make([]int, m)
	for r := 0; r < n; r += 2 {
		u := rng.Float64() * total
		s := 1
		for s < m-1 && cdf[s] <= u {
			s++
		}
		for i := range perm {
			perm[i] = i
		}
		for i := 0; i < s; i++ { // partial Fisher–Yates: perm[:s] is a uniform s-subset
			j := i + rng.IntN(m-i)
			perm[i], perm[j] = perm[j], perm[i]
		}
		a, b := z[r*m:(r+1)*m], z[(r+1)*m:(r+2)*m]
		for i := range b {
			b[i] = true
		}
		for _, i := range perm[:s] {
			a[i], b[i] = true, false
		}
		for q, mask := range [][]bool{a, b} {
			v, err := g.value(mask)
			if err != nil {
				return nil, nil, 0, err
			}
			y[r+q] = v - g.base
		}
	}
	phi, err = solveConstrained(z, y, nil, m, delta)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%w (sampled %d coalitions for %d features; raise Samples)", err, n, m)
	}
	nb := k.cfg.Batches
	per := n / nb
	sum := make([]float64, m)
	sumSq := make([]float64, m)
	for b := 0; b < nb; b++ {
		pb, err := solveConstrained(z[b*per*m:(b+1)*per*m], y[b*per:(b+1)*per], nil, m, delta)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("batch %d of %d: %w (%d coalitions per batch for %d features; raise Samples or lower Batches)", b, nb, err, per, m)
		}
		for i, p := range pb {
			sum[i] += p
			sumSq[i] += p * p
		}
	}
	se = make([]float64, m)
	for i := range se {
		mean := sum[i] / float64(nb)
		v := (sumSq[i] - float64(nb)*mean*mean) / float64(nb-1)
		se[i] = math.Sqrt(math.Max(v, 0) / float64(nb))
	}
	return phi, se, n + 2, nil
}

// solveConstrained solves min Σ_r w_r (y_r − Σ_i z_ri φ_i)² subject to
// Σ_i φ_i = delta, where z holds len(y) rows of m coalition indicators and
// w == nil means unit weights. The constraint is substituted as
// φ_m = delta − Σ_{i<m} φ_i, leaving an (m−1)-column least-squares problem
// solved by QR.
func solveConstrained(z []bool, y, w []float64, m int, delta float64) ([]float64, error) {
	rows := len(y)
	if rows < m-1 {
		return nil, fmt.Errorf("%w: %d coalitions cannot determine %d attributions", ErrNumerical, rows, m)
	}
	a := mat.NewDense(rows, m-1, nil)
	b := mat.NewVecDense(rows, nil)
	for r := 0; r < rows; r++ {
		sw := 1.0
		if w != nil {
			sw = math.Sqrt(w[r])
		}
		zr := z[r*m : (r+1)*m]
		last := ind(zr[m-1])
		for i := 0; i < m-1; i++ {
			a.Set(r, i, sw*(ind(zr[i])-last))
		}
		b.SetVec(r, sw*(y[r]-last*delta))
	}
	var qr mat.QR
	qr.Factorize(a)
	var sol mat.VecDense
	if err := qr.SolveVecTo(&sol, false, b); err != nil {
		return nil, fmt.Errorf("%w: kernel regression is singular: %v", ErrNumerical, err)
	}
	phi := make([]float64, m)
	rest := delta
	for i := 0; i < m-1; i++ {
		phi[i] = sol.AtVec(i)
		rest -= phi[i]
	}
	phi[m-1] = rest
	for i, p := range phi {
		if !finite(p) {
			return nil, fmt.Errorf("%w: attribution %d is %v", ErrNumerical, i, p)
		}
	}
	return phi, nil
}

// game evaluates coalition values for one Explain call.
type game struct {
	k    *Kernel
	x    []float64
	buf  []float64
	mask []bool
	base float64
}

// empty computes and records v(∅) = mean f over the background rows.
func (g *game) empty() (float64, error) {
	clear(g.mask)
	v, err := g.value(g.mask)
	g.base = v
	return v, err
}

// value returns v(S) for the coalition mask (true = feature taken from x).
func (g *game) value(mask []bool) (float64, error) {
	k := g.k
	s := 0.0
	for r := 0; r < k.n; r++ {
		row := k.bg[r*k.d : (r+1)*k.d]
		for j := range g.buf {
			if mask[j] {
				g.buf[j] = g.x[j]
			} else {
				g.buf[j] = row[j]
			}
		}
		v := k.f(g.buf)
		if !finite(v) {
			return 0, fmt.Errorf("%w: f = %v with background row %d", ErrNumerical, v, r)
		}
		s += v
	}
	return s / float64(k.n), nil
}

func ind(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// binomial returns C(n, k) as a float64 (exact for n ≤ 20).
func binomial(n, k int) float64 {
	c := 1.0
	for i := 1; i <= k; i++ {
		c = c * float64(n-k+i) / float64(i)
	}
	return c
}
