package model

import (
	crand "crypto/rand"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// DPConfig configures record-level DP-SGD (Abadi et al. 2016). The privacy
// guarantee is for the addition or removal of one example under Poisson
// subsampling with rate SampleRate = expected batch size / N: TrainDP is the
// composition of DPSteps(Epochs, SampleRate) Poisson-subsampled Gaussian
// mechanisms with sampling rate SampleRate and noise multiplier NoiseMult,
// which is exactly what an RDP or PLD accountant for the subsampled Gaussian
// takes as input.
type DPConfig struct {
	// Clip is the per-example L2 clip norm C, finite and > 0.
	Clip float64
	// NoiseMult is σ: Gaussian noise with standard deviation σ·C is added to
	// every coordinate of the SUM of clipped per-example gradients. It must be
	// finite and >= 0; 0 means no noise and no privacy (tests only).
	NoiseMult float64
	// SampleRate is q in (0, 1]: each example joins each step's batch
	// independently with probability q.
	SampleRate float64
}

// MaxDPSteps bounds DPSteps (and so the work of one TrainDP call); configs
// needing more steps are rejected.
const MaxDPSteps = 1 << 31

// Validate checks the DP configuration on its own. Errors wrap ErrInvalidConfig.
func (c DPConfig) Validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !(c.Clip > 0) || !finite(c.Clip):
		return fmt.Errorf("%w: dp clip norm must be finite and > 0, got %v", ErrInvalidConfig, c.Clip)
	case !(c.NoiseMult >= 0) || !finite(c.NoiseMult):
		return fmt.Errorf("%w: dp noise multiplier must be finite and >= 0, got %v", ErrInvalidConfig, c.NoiseMult)
	case !finite(c.NoiseMult * c.Clip):
		return fmt.Errorf("%w: dp noise stddev σ·C = %v·%v overflows", ErrInvalidConfig, c.NoiseMult, c.Clip)
	case !(c.SampleRate > 0 && c.SampleRate <= 1):
		return fmt.Errorf("%w: dp sample rate must be in (0, 1], got %v", ErrInvalidConfig, c.SampleRate)
	}
	return nil
}

// DPSteps returns the number of noisy steps TrainDP takes for the given epochs
// and sample rate q, so the accountant can be charged before training:
//
//	steps = ⌈epochs / q⌉
//
// where a quotient within a relative 1e-9 of an integer counts as that integer
// (so epochs = 3, q = 0.1 gives 30, not the 31 that the floating-point
// quotient 30.000000000000004 would round up to). One "epoch" is thus ⌈1/q⌉
// steps, each of which touches q·N rows in expectation. DPSteps returns 0 when
// epochs < 1, q is outside (0, 1] or NaN, or the count exceeds MaxDPSteps.
func DPSteps(epochs int, q float64) int {
	if epochs < 1 || !(q > 0 && q <= 1) {
		return 0
	}
	r := float64(epochs) / q
	if !(r <= MaxDPSteps+0.5) { // also catches +Inf
		return 0
	}
	n := math.Round(r)
	if math.Abs(r-n) > 1e-9*n {
		n = math.Ceil(r)
	}
	if n > MaxDPSteps {
		return 0
	}
	return int(n)
}

// DPStats summarises one call to TrainDP.
//
// Only Steps, SampleRate and NoiseMult are data-independent (they are what
// the accountant needs). MeanBatch, ClippedFraction and FinalLoss are computed
// from the private data WITHOUT noise: they are local diagnostics that are not
// covered by the DP guarantee and must not be released off-site unless they
// are privatised and accounted for separately.
type DPStats struct {
	Steps      int     // noisy optimiser steps taken, = DPSteps(cfg.Epochs, SampleRate)
	SampleRate float64 // q
	NoiseMult  float64 // σ
	// MeanBatch is the mean realised Poisson batch size (expected value q·N).
	MeanBatch float64
	// ClippedFraction is the fraction of sampled per-example gradients whose
	// norm exceeded Clip and were scaled down (0 when nothing was sampled).
	ClippedFraction float64
	// FinalLoss is the mean, over the last min(Steps, ⌈1/q⌉) steps (the last
	// "epoch"), of the un-noised step objective Σ_{i∈B} w_i·ℓ_i/(q·N) + penalty,
	// each measured before its step. Its expectation over the sampling is the
	// full-data objective Σ_i w_i·ℓ_i/N + penalty.
	FinalLoss float64
}

// NoiseSource yields independent standard normal variates. *rand.Rand from
// math/rand/v2 satisfies it. Production uses NewCryptoNoise; simulations and
// tests use NewSeededNoise.
type NoiseSource interface {
	NormFloat64() float64
}

// seededNoiseStream is the PCG stream used by NewSeededNoise, fixed so that a
// seed means the same sequence on every run.
const seededNoiseStream = 0xd9_5e_ed_00

// NewSeededNoise returns a reproducible NoiseSource: math/rand/v2's
// NormFloat64 (ziggurat) over a PCG generator seeded with (seed, a fixed
// stream). Its output is predictable from the seed, so it gives NO privacy:
// use it only for simulation and tests. Not safe for concurrent use.
func NewSeededNoise(seed uint64) NoiseSource {
	return rand.New(rand.NewPCG(seed, seededNoiseStream))
}

// cryptoReseedEvery is the number of 64-bit words a cryptoSource produces
// before it rekeys from crypto/rand.
const cryptoReseedEvery = 1 << 20

// cryptoSource is a rand.Source producing ChaCha8 output keyed from
// crypto/rand and rekeyed from crypto/rand every cryptoReseedEvery words.
type cryptoSource struct {
	c    rand.ChaCha8
	left int
}

func (s *cryptoSource) reseed() {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // never fails (crashes the program instead) since Go 1.24
	s.c.Seed(seed)
	clear(seed[:])
	s.left = cryptoReseedEvery
}

func (s *cryptoSource) Uint64() uint64 {
	if s.left == 0 {
		s.reseed()
	}
	s.left--
	return s.c.Uint64()
}

// NewCryptoNoise returns the production NoiseSource. Uniform bits come from
// math/rand/v2's ChaCha8, a cryptographically strong generator with fast key
// erasure, keyed with 32 bytes from crypto/rand and rekeyed from crypto/rand
// after every 2^20 64-bit outputs (about every 10^5 normal variates); normal
// variates are then made by math/rand/v2's ziggurat NormFloat64. This costs a
// few ns per variate instead of a system call per variate, and the output is
// unpredictable to anyone who does not hold the in-memory key.
//
// Caveat: like every floating-point Gaussian sampler (Opacus, TF Privacy),
// the variates are doubles, not an exact continuous or discrete Gaussian; the
// known floating-point attacks on such samplers are not mitigated here.
//
// The source is not safe for concurrent use; create one per training run.
// Creating it reads 32 bytes from crypto/rand and never fails.
func NewCryptoNoise() NoiseSource {
	s := &cryptoSource{}
	s.reseed()
	return rand.New(s)
}

// TrainDP runs record-level DP-SGD (Abadi et al. 2016) on m, updating params
// in place. With q = dp.SampleRate, C = dp.Clip, σ = dp.NoiseMult and N rows it
// takes exactly T = DPSteps(cfg.Epochs, q) = ⌈cfg.Epochs/q⌉ steps. Step t:
//
//  1. Draws a Poisson batch B_t: each row joins independently with
//     probability q, using rng (and nothing else consumes rng). The sampler
//     skips ahead by geometric gaps ⌊ln U / ln(1−q)⌋, which has exactly the
//     distribution of N independent Bernoulli(q) draws at O(q·N) cost.
//  2. For each i ∈ B_t computes g_i = w_i·∇ℓ_i(θ_t) with LossGrad on that one
//     row and clips it: ḡ_i = g_i·min(1, C/‖g_i‖₂).
//  3. Forms ĝ_t = (Σ_{i∈B_t} ḡ_i + σ·C·z_t)/(q·N) with z_t ~ N(0, I) drawn
//     coordinate by coordinate, in parameter order, from noise. The divisor is
//     the EXPECTED batch size q·N, not |B_t|, as the standard analysis of the
//     subsampled Gaussian requires.
//  4. Adds the data-independent penalty gradient L2·θ_t + μ·(θ_t − θ_center)
//     (cfg.Penalty) and applies one step of the optimiser selected by cfg
//     (SGD or Adam, as in Train) to θ_t.
//
// The privacy of the released parameters then follows from the accountant run
// on (q, σ, T); the optimiser, penalties and everything after step 3 are
// post-processing. N = data.N is treated as public, as in Opacus and TF
// Privacy. cfg.BatchSize is ignored (the batch is set by q; any value is accepted).
//
// Sample weights: a per-example loss weight w_i must lie in [0, 1]; larger
// weights are rejected with ErrInvalidData. Clipping bounds each example's
// contribution to C whatever the weight, but weights above 1 would let one
// example count as several at small gradients. Weights must not themselves
// depend on other private rows (for example reweighing factors computed from
// exact local counts), or removing one row changes many contributions and the
// guarantee no longer holds; derive them from public or DP-released counts.
//
// noise may be nil only when σ = 0 (no privacy; for tests). With a seeded
// NoiseSource and the same rng state, the result is bit-for-bit reproducible
// on the same build and architecture. Inputs are validated first (see Check,
// TrainConfig.Validate, DPConfig.Validate). If a per-example gradient, the
// step objective or the parameters become non-finite, params are restored
// to their entry values and the error wraps ErrDiverged; on any error params
// are unchanged and the stats are zero. TrainDP allocates O(NumParams) scratch
// per call and nothing per step or per example (for the mlp, LossGrad's
// per-model scratch pool aside).
//
// DPStats.MeanBatch, ClippedFraction and FinalLoss are NOT private; see DPStats.
func TrainDP(m Model, params []float64, data Examples, cfg TrainConfig, dp DPConfig, rng *rand.Rand, noise NoiseSource) (DPStats, error) {
	if m == nil {
		return DPStats{}, fmt.Errorf("%w: nil model", ErrInvalidSpec)
	}
	name := m.Name()
	if rng == nil {
		return DPStats{}, fmt.Errorf("train-dp %s: %w: nil rng", name, ErrInvalidConfig)
	}
	if cfg.BatchSize < 1 {
		cfg.BatchSize = 1 // ignored; keeps TrainConfig.Validate and NewOptimizer happy
	}
	if err := cfg.Validate(); err != nil {
		return DPStats{}, fmt.Errorf("train-dp %s: %w", name, err)
	}
	if err := dp.Validate(); err != nil {
		return DPStats{}, fmt.Errorf("train-dp %s: %w", name, err)
	}
	if dp.NoiseMult > 0 && noise == nil {
		return DPStats{}, fmt.Errorf("train-dp %s: %w: noise multiplier %v > 0 needs a noise source", name, ErrInvalidConfig, dp.NoiseMult)
	}
	steps := DPSteps(cfg.Epochs, dp.SampleRate)
	if steps == 0 {
		return DPStats{}, fmt.Errorf("train-dp %s: %w: %d epochs at sample rate %v need more than %d steps",
			name, ErrInvalidConfig, cfg.Epochs, dp.SampleRate, MaxDPSteps)
	}
	if err := Check(m, params, data); err != nil {
		return DPStats{}, fmt.Errorf("train-dp %s: %w", name, err)
	}
	if data.N == 0 {
		return DPStats{}, fmt.Errorf("train-dp %s: %w: no examples", name, ErrInvalidData)
	}
	for i, w := range data.W {
		if w > 1 {
			return DPStats{}, fmt.Errorf("train-dp %s: %w: sample weight %v of row %d exceeds 1 (DP-SGD needs weights in [0, 1])", name, ErrInvalidData, w, i)
		}
	}
	if err := checkProxCenter(cfg, len(params)); err != nil {
		return DPStats{}, fmt.Errorf("train-dp %s: %w", name, err)
	}
	opt, err := NewOptimizer(cfg, len(params))
	if err != nil {
		return DPStats{}, fmt.Errorf("train-dp %s: %w", name, err)
	}

	q, clip, sigma := dp.SampleRate, dp.Clip, dp.NoiseMult
	n := data.N
	invExpected := 1 / (q * float64(n))
	if math.IsInf(invExpected, 0) {
		return DPStats{}, fmt.Errorf("train-dp %s: %w: expected batch size q·N = %v·%d underflows", name, ErrInvalidConfig, q, n)
	}
	sampler := newPoissonSampler(q, n)
	lastEpoch := min(steps, DPSteps(1, q))

	backup := slices.Clone(params)
	sum := make([]float64, len(params)) // clipped sum, then the noisy gradient
	g := make([]float64, len(params))   // one example's gradient
	idx := make([]int, 1)
	diverged := func(step int, what string) (DPStats, error) {
		copy(params, backup)
		return DPStats{}, fmt.Errorf("train-dp %s: %w: %s at step %d of %d (learning rate %v too large?)",
			name, ErrDiverged, what, step, steps, cfg.LearningRate)
	}

	var sampled, clipped int
	var lastLoss float64
	for t := 0; t < steps; t++ {
		clear(sum)
		lossSum := 0.0
		for i := sampler.next(rng, -1); i < n; i = sampler.next(rng, i) {
			idx[0] = i
			clear(g)
			l, _ := m.LossGrad(params, data, idx, g)
			lossSum += l
			scale, ok := clipScale(g, clip)
			if !ok {
				return diverged(t, fmt.Sprintf("gradient of row %d is not finite", i))
			}
			if scale < 1 {
				clipped++
			}
			for j, v := range g {
				sum[j] += scale * v
			}
			sampled++
		}
		noisyMean(sum, sigma*clip, invExpected, noise)
		loss := lossSum*invExpected + cfg.Penalty(params, sum)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return diverged(t, fmt.Sprintf("objective is %v", loss))
		}
		opt.Step(params, sum)
		if t >= steps-lastEpoch {
			lastLoss += loss
		}
	}
	for _, p := range params {
		if math.IsNaN(p) || math.IsInf(p, 0) {
			return diverged(steps, fmt.Sprintf("a parameter is %v", p))
		}
	}
	st := DPStats{
		Steps:      steps,
		SampleRate: q,
		NoiseMult:  sigma,
		MeanBatch:  float64(sampled) / float64(steps),
		FinalLoss:  lastLoss / float64(lastEpoch),
	}
	if sampled > 0 {
		st.ClippedFraction = float64(clipped) / float64(sampled)
	}
	return st, nil
}

// checkProxCenter validates cfg.ProximalCenter against the parameter count as
// Train does.
func checkProxCenter(cfg TrainConfig, numParams int) error {
	if !(cfg.ProximalMu > 0) {
		return nil
	}
	if len(cfg.ProximalCenter) != numParams {
		return fmt.Errorf("%w: proximal center has %d entries, want %d", ErrInvalidConfig, len(cfg.ProximalCenter), numParams)
	}
	for i, v := range cfg.ProximalCenter {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: proximal center entry %d is %v", ErrInvalidConfig, i, v)
		}
	}
	return nil
}

// clipScale returns min(1, c/‖g‖₂), the factor that clips g to L2 norm c, and
// false if g has a NaN or infinite entry. The norm is computed without
// overflow for any finite g. In floating point ‖scale·g‖ ≤ c·(1 + O(D·2^-53)).
func clipScale(g []float64, c float64) (float64, bool) {
	ss := 0.0
	for _, v := range g {
		ss += v * v
	}
	if ss <= c*c {
		return 1, true
	}
	if math.IsInf(ss, 1) || math.IsNaN(ss) { // a non-finite entry, or an overflowing sum of squares
		amax := 0.0
		for _, v := range g {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, false
			}
			amax = max(amax, math.Abs(v))
		}
		ss = 0
		for _, v := range g {
			r := v / amax
			ss += r * r
		}
		return min(1, (c/amax)/math.Sqrt(ss)), true
	}
	return min(1, c/math.Sqrt(ss)), true
}

// noisyMean turns the clipped sum into the noisy gradient estimate in place:
// sum[j] = (sum[j] + std·z_j)·scale with z_j standard normal from noise, drawn
// in index order. std = σ·C and scale = 1/(q·N) in TrainDP. With std == 0 no
// variates are drawn and noise may be nil.
func noisyMean(sum []float64, std, scale float64, noise NoiseSource) {
	if std == 0 {
		for j := range sum {
			sum[j] *= scale
		}
		return
	}
	for j := range sum {
		sum[j] = (sum[j] + std*noise.NormFloat64()) * scale
	}
}

// poissonSampler enumerates a Poisson sample of the rows 0..n−1 in increasing
// order: every row is included independently with probability q.
type poissonSampler struct {
	q, logKeep float64 // logKeep = ln(1−q)
	n          int
}

func newPoissonSampler(q float64, n int) poissonSampler {
	return poissonSampler{q: q, logKeep: math.Log1p(-q), n: n}
}

// next returns the first sampled row after prev (use prev = −1 to start), or
// n when no further row is sampled. Rather than one Bernoulli draw per row it
// draws the number of skipped rows G = ⌊ln U / ln(1−q)⌋ with U uniform on
// (0, 1]: P(G ≥ k) = P(U ≤ (1−q)^k) = (1−q)^k, the law of the run of failures
// before the next success in independent Bernoulli(q) trials. It consumes one
// rng.Float64 per sampled row plus one per call that ends the batch (none
// when q = 1).
func (s poissonSampler) next(rng *rand.Rand, prev int) int {
	if s.q >= 1 {
		return prev + 1
	}
	u := 1 - rng.Float64() // (0, 1]
	skip := math.Floor(math.Log(u) / s.logKeep)
	if !(skip < float64(s.n-prev-1)) {
		return s.n
	}
	return prev + 1 + int(skip)
}
