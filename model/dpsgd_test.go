package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// z9999 is the two-sided 99.99% standard normal quantile Φ⁻¹(1 − 0.0001/2).
const z9999 = 3.890591886413094

// chi2Interval returns a two-sided interval for χ²_ν/ν holding with the
// probability of the standard-normal interval ±z, by the Wilson–Hilferty
// approximation χ²_ν/ν ≈ (1 − 2/(9ν) + Z·√(2/(9ν)))³, Z ~ N(0,1), which is
// accurate to a few parts in 10⁴ of the quantile for ν in the thousands.
func chi2Interval(nu int, z float64) (lo, hi float64) {
	a := 2 / (9 * float64(nu))
	c := func(z float64) float64 { return math.Pow(1-a+z*math.Sqrt(a), 3) }
	return c(-z), c(z)
}

// checkNormalSample checks that xs looks like k i.i.d. N(0, variance) draws:
// the sample mean lies within ±z·√(variance/k) of 0 and the sample variance s²
// satisfies (k−1)s²/variance ~ χ²_{k−1}, so s²/variance lies in the χ²_{k−1}/(k−1)
// interval. Each check fails with probability about 2·(1−Φ(z)) for a correct
// sampler.
func checkNormalSample(t *testing.T, what string, xs []float64, variance, z float64) {
	t.Helper()
	k := len(xs)
	mean := 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= float64(k)
	if lim := z * math.Sqrt(variance/float64(k)); math.Abs(mean) > lim {
		t.Errorf("%s: sample mean %.4g outside ±%.4g", what, mean, lim)
	}
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	ratio := ss / float64(k-1) / variance
	lo, hi := chi2Interval(k-1, z)
	if ratio < lo || ratio > hi {
		t.Errorf("%s: sample variance / true variance = %.5f outside χ² interval [%.5f, %.5f]", what, ratio, lo, hi)
	}
}

// sigmoid and logregPerExample are an independent reference for logreg:
// ℓ = log(1+e^z) − y·z, ∇ℓ = (σ(z) − y)·(x, 1) with z = w·x + b.
func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func logregPerExample(theta []float64, x []float64, y int) (loss float64, grad []float64) {
	d := len(x)
	z := theta[d]
	for j := range x {
		z += theta[j] * x[j]
	}
	p := sigmoid(z)
	loss = math.Log(1+math.Exp(z)) - float64(y)*z
	grad = make([]float64, d+1)
	for j := range x {
		grad[j] = (p - float64(y)) * x[j]
	}
	grad[d] = p - float64(y)
	return loss, grad
}

func unitWeights(rng *rand.Rand, n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = rng.Float64() // [0, 1)
	}
	return w
}

func closeTo(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

// With σ = 0, a huge clip and q = 1, DP-SGD is exactly one full-batch step on
// Σ_i w_i·ℓ_i/N + penalties, computed here from the logistic formulas.
func TestTrainDPOneStepEqualsFullBatchSGD(t *testing.T) {
	const n, d, lr, l2, mu = 50, 4, 0.3, 0.01, 0.2
	rng := newRNG(101)
	m := mustNew(t, Spec{Name: LogReg, Features: d, Classes: 2})
	data := randomExamples(rng, n, d, 2, false)
	data.W = unitWeights(rng, n)
	theta := make([]float64, d+1)
	center := make([]float64, d+1)
	for j := range theta {
		theta[j], center[j] = rng.NormFloat64(), rng.NormFloat64()
	}

	want := slices.Clone(theta)
	g := make([]float64, d+1)
	lossSum := 0.0
	for i := 0; i < n; i++ {
		l, gi := logregPerExample(theta, data.Row(i), data.Y[i])
		lossSum += data.W[i] * l
		for j := range g {
			g[j] += data.W[i] * gi[j]
		}
	}
	pen := 0.0
	for j := range g {
		g[j] = g[j]/n + l2*theta[j] + mu*(theta[j]-center[j])
		want[j] -= lr * g[j]
		pen += l2/2*theta[j]*theta[j] + mu/2*(theta[j]-center[j])*(theta[j]-center[j])
	}

	params := slices.Clone(theta)
	cfg := TrainConfig{Epochs: 1, LearningRate: lr, L2: l2, ProximalMu: mu, ProximalCenter: center}
	st, err := TrainDP(m, params, data, cfg, DPConfig{Clip: 1e12, SampleRate: 1}, newRNG(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	for j := range want {
		if !closeTo(params[j], want[j], 1e-12) {
			t.Errorf("param %d = %.15g, want %.15g", j, params[j], want[j])
		}
	}
	if st.Steps != 1 || st.MeanBatch != n || st.ClippedFraction != 0 || st.SampleRate != 1 || st.NoiseMult != 0 {
		t.Errorf("stats = %+v, want 1 step, batch %d, nothing clipped", st, n)
	}
	if wantLoss := lossSum/n + pen; !closeTo(st.FinalLoss, wantLoss, 1e-12) {
		t.Errorf("FinalLoss = %.15g, want %.15g", st.FinalLoss, wantLoss)
	}
}

// For every model family and both optimisers, the σ = 0, C = ∞-like, q = 1
// step must equal Train's single full-batch step on unweighted data (where
// Train's divisor Σw_i equals N).
func TestTrainDPNoiselessMatchesTrainFullBatch(t *testing.T) {
	specs := []Spec{
		{Name: LogReg, Features: 5, Classes: 2},
		{Name: Softmax, Features: 5, Classes: 3},
		{Name: MLP, Features: 5, Classes: 3, Hidden: []int{7}},
		{Name: MLP, Features: 5, Classes: 2, Hidden: []int{6, 4}, Activation: Tanh},
	}
	for _, spec := range specs {
		for _, opt := range []string{SGD, Adam} {
			m := mustNew(t, spec)
			rng := newRNG(102)
			data := randomExamples(rng, 40, spec.Features, spec.Classes, false)
			init := m.Init(rng)
			for j := range init {
				init[j] += 0.1 * rng.NormFloat64()
			}
			cfg := TrainConfig{Epochs: 1, BatchSize: data.N, LearningRate: 0.2, Optimizer: opt, L2: 0.003}
			ref := slices.Clone(init)
			if _, err := Train(m, ref, data, cfg, newRNG(3)); err != nil {
				t.Fatal(err)
			}
			got := slices.Clone(init)
			if _, err := TrainDP(m, got, data, cfg, DPConfig{Clip: 1e15, SampleRate: 1}, newRNG(4), nil); err != nil {
				t.Fatal(err)
			}
			for j := range ref {
				if !closeTo(got[j], ref[j], 1e-10) {
					t.Errorf("%v %s: param %d = %.15g, Train gives %.15g", spec, opt, j, got[j], ref[j])
					break
				}
			}
		}
	}
}

// Logreg with one feature at θ = 0 has p = 1/2, so example i's gradient is
// (1/2 − y_i)·(x_i, 1) with norm ½√(x_i²+1): clipping is computable by hand.
func TestTrainDPClipping(t *testing.T) {
	xs := []float64{0, 1, 2, 3, -4, 0.5, 10, -1.5}
	ys := []int{0, 1, 1, 0, 1, 0, 0, 1}
	ws := []float64{1, 1, 1, 1, 1, 0.25, 0.5, 1}
	const clip, lr = 1.0, 0.7
	n := len(xs)
	data := Examples{X: xs, Y: ys, W: ws, N: n, D: 1}
	m := mustNew(t, Spec{Name: LogReg, Features: 1, Classes: 2})

	var sum [2]float64
	nClipped := 0
	for i := range xs {
		g := [2]float64{ws[i] * (0.5 - float64(ys[i])) * xs[i], ws[i] * (0.5 - float64(ys[i]))}
		norm := ws[i] * 0.5 * math.Sqrt(xs[i]*xs[i]+1)
		if math.Abs(math.Hypot(g[0], g[1])-norm) > 1e-15 {
			t.Fatalf("row %d: hand norm %v disagrees with %v", i, norm, math.Hypot(g[0], g[1]))
		}
		s := 1.0
		if norm > clip {
			s = clip / norm
			nClipped++
		}
		c := [2]float64{s * g[0], s * g[1]}
		if nc := math.Hypot(c[0], c[1]); nc > clip*(1+1e-15) {
			t.Errorf("row %d: clipped contribution has norm %v > C", i, nc)
		}
		sum[0] += c[0]
		sum[1] += c[1]
	}
	if nClipped != 4 {
		t.Fatalf("test data should clip 4 rows, clips %d", nClipped)
	}
	params := []float64{0, 0}
	st, err := TrainDP(m, params, data, TrainConfig{Epochs: 1, LearningRate: lr}, DPConfig{Clip: clip, SampleRate: 1}, newRNG(5), nil)
	if err != nil {
		t.Fatal(err)
	}
	for j := range params {
		if want := -lr * sum[j] / float64(n); !closeTo(params[j], want, 1e-14) {
			t.Errorf("param %d = %.16g, want clipped sum/(qN) step %.16g", j, params[j], want)
		}
	}
	if want := float64(nClipped) / float64(n); st.ClippedFraction != want {
		t.Errorf("ClippedFraction = %v, want %v", st.ClippedFraction, want)
	}
}

// With q < 1 the divisor must be the expected batch q·N, not the realised
// |B_t|. Rows are identical with x = 0, y = 1 and C far below the gradient
// norm |σ(b) − 1| ≈ ½, so each sampled row contributes exactly −C to the bias
// gradient and, with SGD, b_T = η·C·Σ_t|B_t|/(q·N) = η·C·T·MeanBatch/(q·N).
func TestTrainDPDividesByExpectedBatch(t *testing.T) {
	const n, q, clip, lr = 40, 0.15, 1e-3, 0.5
	data := Examples{X: make([]float64, n), Y: make([]int, n), N: n, D: 1}
	for i := range data.Y {
		data.Y[i] = 1
	}
	m := mustNew(t, Spec{Name: LogReg, Features: 1, Classes: 2})
	params := []float64{0, 0}
	st, err := TrainDP(m, params, data, TrainConfig{Epochs: 3, LearningRate: lr}, DPConfig{Clip: clip, SampleRate: q}, newRNG(6), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Steps != 20 {
		t.Fatalf("steps = %d, want ⌈3/0.15⌉ = 20", st.Steps)
	}
	total := st.MeanBatch * float64(st.Steps)
	if total != math.Round(total) || total == 0 {
		t.Fatalf("MeanBatch·Steps = %v is not a positive row count", total)
	}
	if want := lr * clip * total / (q * n); !closeTo(params[1], want, 1e-12) || params[0] != 0 {
		t.Errorf("params = %v, want [0 %.15g]", params, want)
	}
	if st.ClippedFraction != 1 {
		t.Errorf("ClippedFraction = %v, want 1", st.ClippedFraction)
	}
}

func TestClipScale(t *testing.T) {
	rng := newRNG(7)
	for trial := 0; trial < 2000; trial++ {
		g := make([]float64, 1+rng.IntN(40))
		mag := math.Pow(10, -5+float64(rng.IntN(311))) // 1e-5 … 1e305
		for j := range g {
			g[j] = mag * rng.NormFloat64()
		}
		c := math.Pow(10, -3+6*rng.Float64())
		s, ok := clipScale(g, c)
		if !ok {
			t.Fatalf("finite g reported non-finite (mag %g)", mag)
		}
		// Norm of s·g computed by scaling, immune to overflow.
		amax := 0.0
		for _, v := range g {
			amax = max(amax, math.Abs(v))
		}
		ss := 0.0
		for _, v := range g {
			ss += (v / amax) * (v / amax)
		}
		norm := amax * math.Sqrt(ss)
		clipped := s * norm
		switch {
		case norm <= c && s != 1:
			t.Errorf("‖g‖ = %g <= C = %g but scale %g", norm, c, s)
		case norm > c && !(s < 1):
			t.Errorf("‖g‖ = %g > C = %g but scale %g", norm, c, s)
		case clipped > c*(1+1e-13):
			t.Errorf("clipped norm %g exceeds C = %g", clipped, c)
		case norm > c && clipped < c*(1-1e-13):
			t.Errorf("clipped norm %g below C = %g", clipped, c)
		}
	}
	for _, bad := range [][]float64{{1, math.NaN()}, {math.Inf(1), 0}, {1e300, math.Inf(-1)}} {
		if _, ok := clipScale(bad, 1); ok {
			t.Errorf("clipScale(%v) accepted a non-finite gradient", bad)
		}
	}
	if s, ok := clipScale(make([]float64, 3), 1); s != 1 || !ok {
		t.Errorf("zero gradient: scale %v ok %v", s, ok)
	}
}

// The noisy-mean step on a zero sum must produce i.i.d. N(0, (σC/(qN))²).
func TestNoisyMeanDistribution(t *testing.T) {
	const k, sigma, clip, q, n = 20000, 1.3, 0.7, 0.05, 300
	sum := make([]float64, k)
	scale := 1 / (q * n)
	noisyMean(sum, sigma*clip, scale, NewSeededNoise(8))
	sd := sigma * clip * scale
	checkNormalSample(t, "seeded", sum, sd*sd, z9999)

	// Not seeded: use a 1 − 2·10⁻⁶ interval (z = 4.89) to keep flakes negligible.
	clear(sum)
	noisyMean(sum, sigma*clip, scale, NewCryptoNoise())
	checkNormalSample(t, "crypto", sum, sd*sd, 4.89)

	// σ = 0 draws nothing and only rescales.
	for j := range sum {
		sum[j] = float64(j)
	}
	noisyMean(sum, 0, 0.5, nil)
	for j, v := range sum {
		if v != float64(j)/2 {
			t.Fatalf("σ=0: sum[%d] = %v, want %v", j, v, float64(j)/2)
		}
	}
}

// End to end: with every sample weight 0 all per-example gradients vanish, so
// after T SGD steps at η = 1 from θ = 0 each parameter is minus the sum of T
// independent noise terms, N(0, T·σ²C²/(qN)²).
func TestTrainDPNoiseEndToEnd(t *testing.T) {
	const n, q, sigma, clip = 8, 0.25, 2.0, 0.5
	m := mustNew(t, Spec{Name: Softmax, Features: 99, Classes: 50}) // 5000 parameters
	data := randomExamples(newRNG(9), n, 99, 50, false)
	data.W = make([]float64, n)
	params := make([]float64, m.NumParams())
	st, err := TrainDP(m, params, data, TrainConfig{Epochs: 1, LearningRate: 1}, DPConfig{Clip: clip, NoiseMult: sigma, SampleRate: q}, newRNG(10), NewSeededNoise(11))
	if err != nil {
		t.Fatal(err)
	}
	if st.Steps != 4 {
		t.Fatalf("steps = %d, want 4", st.Steps)
	}
	sd := sigma * clip / (q * n)
	checkNormalSample(t, "params", params, float64(st.Steps)*sd*sd, z9999)
}

func TestCryptoNoise(t *testing.T) {
	a, b := NewCryptoNoise(), NewCryptoNoise()
	same := 0
	for i := 0; i < 64; i++ {
		if a.NormFloat64() == b.NormFloat64() {
			same++
		}
	}
	if same == 64 {
		t.Error("two crypto noise sources produced the same sequence")
	}
	// Force frequent rekeying and check the output is still standard normal.
	s := &cryptoSource{}
	s.reseed()
	r := rand.New(s)
	xs := make([]float64, 20000)
	for i := range xs {
		if i%100 == 0 {
			s.left = 1
		}
		xs[i] = r.NormFloat64()
	}
	checkNormalSample(t, "rekeyed", xs, 1, 4.89)
}

// The sampler must behave like N independent Bernoulli(q) draws: inclusion
// frequency q per row, batch size Binomial(N, q), and pairwise independence.
func TestPoissonSampler(t *testing.T) {
	const n, q, trials = 50, 0.2, 20000
	rng := newRNG(12)
	s := newPoissonSampler(q, n)
	counts := make([]int, n)
	pairs := 0 // rows (i, i+1) both sampled, summed over i
	sizes := make([]float64, trials)
	in := make([]bool, n)
	for tr := 0; tr < trials; tr++ {
		clear(in)
		prev, size := -1, 0
		for i := s.next(rng, -1); i < n; i = s.next(rng, i) {
			if i <= prev {
				t.Fatalf("rows not increasing: %d after %d", i, prev)
			}
			prev = i
			in[i] = true
			counts[i]++
			size++
		}
		for i := 0; i+1 < n; i++ {
			if in[i] && in[i+1] {
				pairs++
			}
		}
		sizes[tr] = float64(size)
	}
	// Each count is Binomial(trials, q); 50 rows at 5 SE fail with prob ~3e-5.
	se := math.Sqrt(trials * q * (1 - q))
	for i, c := range counts {
		if math.Abs(float64(c)-trials*q) > 5*se {
			t.Errorf("row %d sampled %d times, want %v ± %.0f", i, c, trials*q, 5*se)
		}
	}
	// Adjacent pairs: (n−1)·trials Bernoulli(q²) indicators (dependent across
	// overlapping pairs, so allow a generous 8 SE of the independent case).
	np := float64((n - 1) * trials)
	if se := math.Sqrt(np * q * q * (1 - q*q)); math.Abs(float64(pairs)-np*q*q) > 8*se {
		t.Errorf("adjacent co-inclusions %d, want %v ± %.0f", pairs, np*q*q, 8*se)
	}
	// Batch sizes: mean Nq, variance Nq(1−q); the variance check uses the
	// normal approximation of the sample variance of a near-normal variable.
	mean := 0.0
	for _, v := range sizes {
		mean += v
	}
	mean /= trials
	if lim := 5 * math.Sqrt(n*q*(1-q)/trials); math.Abs(mean-n*q) > lim {
		t.Errorf("mean batch %v, want %v ± %v", mean, n*q, lim)
	}
	vs := 0.0
	for _, v := range sizes {
		vs += (v - mean) * (v - mean)
	}
	vs /= trials - 1
	if want := n * q * (1 - q); math.Abs(vs/want-1) > 5*math.Sqrt(2.0/trials)*1.2 {
		t.Errorf("batch-size variance %v, want %v", vs, want)
	}

	// q = 1 takes every row and consumes no randomness.
	all := newPoissonSampler(1, 5)
	r1 := newRNG(13)
	var got []int
	for i := all.next(r1, -1); i < 5; i = all.next(r1, i) {
		got = append(got, i)
	}
	if !slices.Equal(got, []int{0, 1, 2, 3, 4}) || r1.Uint64() != newRNG(13).Uint64() {
		t.Errorf("q = 1 sampled %v or consumed rng", got)
	}
	// Tiny q: almost always empty, never out of range.
	tiny := newPoissonSampler(1e-12, 3)
	for tr := 0; tr < 1000; tr++ {
		if i := tiny.next(rng, -1); i != 3 {
			t.Fatalf("q = 1e-12 sampled row %d", i)
		}
	}
}

// Over many TrainDP steps the mean realised batch is within 5 standard errors
// of q·N: MeanBatch is the mean of T i.i.d. Binomial(N, q) sizes.
func TestTrainDPMeanBatch(t *testing.T) {
	const n, q, epochs = 1000, 0.03, 30
	m := mustNew(t, Spec{Name: LogReg, Features: 3, Classes: 2})
	data := randomExamples(newRNG(14), n, 3, 2, false)
	params := make([]float64, 4)
	st, err := TrainDP(m, params, data, TrainConfig{Epochs: epochs, LearningRate: 0.1}, DPConfig{Clip: 1, NoiseMult: 1, SampleRate: q}, newRNG(15), NewSeededNoise(16))
	if err != nil {
		t.Fatal(err)
	}
	if st.Steps != 1000 {
		t.Fatalf("steps = %d, want 1000", st.Steps)
	}
	se := math.Sqrt(n * q * (1 - q) / float64(st.Steps))
	if math.Abs(st.MeanBatch-n*q) > 5*se {
		t.Errorf("MeanBatch = %v, want %v ± %v", st.MeanBatch, n*q, 5*se)
	}
}

func TestTrainDPDeterminism(t *testing.T) {
	m := mustNew(t, Spec{Name: MLP, Features: 6, Classes: 3, Hidden: []int{8}})
	data := randomExamples(newRNG(17), 300, 6, 3, false)
	init := m.Init(newRNG(18))
	cfg := TrainConfig{Epochs: 2, LearningRate: 0.05, Optimizer: Adam, L2: 1e-3}
	dp := DPConfig{Clip: 1, NoiseMult: 1.1, SampleRate: 0.1}
	run := func(rngSeed, noiseSeed uint64) ([]float64, DPStats) {
		p := slices.Clone(init)
		st, err := TrainDP(m, p, data, cfg, dp, newRNG(rngSeed), NewSeededNoise(noiseSeed))
		if err != nil {
			t.Fatal(err)
		}
		return p, st
	}
	a, sa := run(1, 2)
	b, sb := run(1, 2)
	if !slices.Equal(a, b) || sa != sb {
		t.Error("same seeds gave different results")
	}
	c, _ := run(1, 3)
	if slices.Equal(a, c) {
		t.Error("different noise seeds gave identical params")
	}
	d, sd := run(4, 2)
	if slices.Equal(a, d) || sa.MeanBatch == sd.MeanBatch {
		t.Error("different sampling seeds gave identical params or batches")
	}
}

func TestDPSteps(t *testing.T) {
	cases := []struct {
		epochs int
		q      float64
		want   int
	}{
		{1, 0.05, 20}, {3, 0.1, 30}, {1, 0.3, 4}, {2, 1, 2}, {1, 0.07, 15},
		{5, 0.01, 500}, {7, 0.7, 10}, {1, 1.0 / 3, 3}, {10, 0.003, 3334},
		{1, 1e-9, 1_000_000_000},
		{0, 0.5, 0}, {-1, 0.5, 0}, {1, 0, 0}, {1, -0.1, 0}, {1, 1.5, 0},
		{1, math.NaN(), 0}, {1, math.Inf(1), 0}, {1, 1e-300, 0}, {3, 1.0 / MaxDPSteps, 0},
	}
	for _, c := range cases {
		if got := DPSteps(c.epochs, c.q); got != c.want {
			t.Errorf("DPSteps(%d, %v) = %d, want %d", c.epochs, c.q, got, c.want)
		}
		if c.want == 0 {
			continue
		}
		// The documented formula: the smallest T with T·q >= epochs, up to the
		// 1e-9 relative tolerance.
		T := float64(c.want)
		if T*c.q < float64(c.epochs)*(1-1e-9) || (T-1)*c.q >= float64(c.epochs)*(1-0.5e-9) {
			t.Errorf("DPSteps(%d, %v) = %d is not ⌈epochs/q⌉", c.epochs, c.q, c.want)
		}
	}
}

func TestTrainDPRejectsBadInput(t *testing.T) {
	m := mustNew(t, Spec{Name: LogReg, Features: 2, Classes: 2})
	good := Examples{X: []float64{1, 2, 3, 4}, Y: []int{0, 1}, N: 2, D: 2}
	okCfg := TrainConfig{Epochs: 1, LearningRate: 0.1}
	okDP := DPConfig{Clip: 1, NoiseMult: 1, SampleRate: 0.5}
	nan, inf := math.NaN(), math.Inf(1)
	type tc struct {
		name   string
		m      Model
		params []float64
		data   Examples
		cfg    TrainConfig
		dp     DPConfig
		rng    *rand.Rand
		noise  NoiseSource
		want   error
	}
	base := func(name string, want error) tc {
		return tc{name, m, []float64{0.5, -0.5, 0.1}, good, okCfg, okDP, newRNG(1), NewSeededNoise(1), want}
	}
	var cases []tc
	add := func(c tc, f func(*tc)) { f(&c); cases = append(cases, c) }
	add(base("nil model", ErrInvalidSpec), func(c *tc) { c.m = nil })
	add(base("nil rng", ErrInvalidConfig), func(c *tc) { c.rng = nil })
	add(base("nil noise with σ>0", ErrInvalidConfig), func(c *tc) { c.noise = nil })
	for _, v := range []float64{0, -1, nan, inf} {
		add(base("clip", ErrInvalidConfig), func(c *tc) { c.dp.Clip = v })
	}
	for _, v := range []float64{-0.1, nan, inf} {
		add(base("noise mult", ErrInvalidConfig), func(c *tc) { c.dp.NoiseMult = v })
	}
	add(base("σ·C overflow", ErrInvalidConfig), func(c *tc) { c.dp.NoiseMult, c.dp.Clip = 1e200, 1e200 })
	for _, v := range []float64{0, -0.5, 1.0000001, nan, inf} {
		add(base("sample rate", ErrInvalidConfig), func(c *tc) { c.dp.SampleRate = v })
	}
	add(base("too many steps", ErrInvalidConfig), func(c *tc) { c.dp.SampleRate = 1e-12 })
	add(base("epochs 0", ErrInvalidConfig), func(c *tc) { c.cfg.Epochs = 0 })
	add(base("lr NaN", ErrInvalidConfig), func(c *tc) { c.cfg.LearningRate = nan })
	add(base("optimizer", ErrInvalidConfig), func(c *tc) { c.cfg.Optimizer = "rmsprop" })
	add(base("prox center length", ErrInvalidConfig), func(c *tc) { c.cfg.ProximalMu, c.cfg.ProximalCenter = 0.1, []float64{0} })
	add(base("prox center NaN", ErrInvalidConfig), func(c *tc) { c.cfg.ProximalMu, c.cfg.ProximalCenter = 0.1, []float64{0, nan, 0} })
	add(base("empty data", ErrInvalidData), func(c *tc) { c.data = Examples{D: 2} })
	add(base("weight > 1", ErrInvalidData), func(c *tc) { c.data.W = []float64{1, 1.5} })
	add(base("negative weight", ErrInvalidData), func(c *tc) { c.data.W = []float64{1, -0.5} })
	add(base("NaN feature", ErrInvalidData), func(c *tc) { c.data.X = []float64{1, nan, 3, 4} })
	add(base("bad label", ErrInvalidData), func(c *tc) { c.data.Y = []int{0, 2} })
	add(base("wrong D", ErrInvalidData), func(c *tc) { c.data = Examples{X: []float64{1, 2, 3}, Y: []int{0}, N: 1, D: 3} })
	add(base("params length", ErrInvalidParams), func(c *tc) { c.params = []float64{0, 0} })
	add(base("params NaN", ErrInvalidParams), func(c *tc) { c.params = []float64{0, nan, 0} })

	for _, c := range cases {
		before := slices.Clone(c.params)
		st, err := TrainDP(c.m, c.params, c.data, c.cfg, c.dp, c.rng, c.noise)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if st != (DPStats{}) {
			t.Errorf("%s: non-zero stats %+v on error", c.name, st)
		}
		if !slices.Equal(before, c.params) && !slices.ContainsFunc(before, math.IsNaN) {
			t.Errorf("%s: params changed on error", c.name)
		}
	}

	// Valid corner cases: BatchSize is ignored (0 allowed), σ = 0 takes nil noise,
	// weights of exactly 0 and 1 are allowed.
	p := []float64{0, 0, 0}
	w := good
	w.W = []float64{0, 1}
	if _, err := TrainDP(m, p, w, TrainConfig{Epochs: 1, LearningRate: 0.1}, DPConfig{Clip: 1, SampleRate: 1}, newRNG(1), nil); err != nil {
		t.Errorf("valid config rejected: %v", err)
	}
}

func TestTrainDPDivergenceRestoresParams(t *testing.T) {
	m := mustNew(t, Spec{Name: LogReg, Features: 2, Classes: 2})
	data := randomExamples(newRNG(19), 20, 2, 2, false)
	params := []float64{0.3, -0.2, 0.1}
	before := slices.Clone(params)
	cfg := TrainConfig{Epochs: 5, LearningRate: 1e300, L2: 1e10}
	_, err := TrainDP(m, params, data, cfg, DPConfig{Clip: 1, NoiseMult: 1, SampleRate: 0.5}, newRNG(20), NewSeededNoise(21))
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("err = %v, want ErrDiverged", err)
	}
	if !slices.Equal(params, before) {
		t.Errorf("params %v not restored to %v", params, before)
	}
}

// separable draws x ~ N(0, I_d) labelled by the sign of w*·x + 0.3 with a
// fixed w*, so a linear classifier reaches 100% accuracy.
func separable(rng *rand.Rand, n int) Examples {
	w := []float64{1.5, -2, 0.7, 1, -0.4}
	d := len(w)
	e := Examples{X: make([]float64, n*d), Y: make([]int, n), N: n, D: d}
	for i := 0; i < n; i++ {
		z := 0.3
		for j := range w {
			x := rng.NormFloat64()
			e.X[i*d+j] = x
			z += w[j] * x
		}
		if z > 0 {
			e.Y[i] = 1
		}
	}
	return e
}

// Utility: with σ = 1, C = 1, q = 0.1, N = 2000 the per-step noise stddev on
// the gradient estimate is σC/(qN) = 0.005 per coordinate against a clipped
// mean gradient of norm up to ~0.5, so 4 epochs (40 steps) of SGD learn the
// separating direction and test accuracy must exceed 0.9. With σ = 1000 the
// noise stddev is 5 per coordinate per step, 10× the largest possible signal,
// so the parameters are a random walk and accuracy averaged over noise seeds
// must fall well below 0.9 — showing the first check can fail.
func TestTrainDPUtility(t *testing.T) {
	train, test := separable(newRNG(22), 2000), separable(newRNG(23), 2000)
	m := mustNew(t, Spec{Name: LogReg, Features: 5, Classes: 2})
	cfg := TrainConfig{Epochs: 4, LearningRate: 1}
	acc := func(sigma float64, seed uint64) float64 {
		params := m.Init(nil)
		if _, err := TrainDP(m, params, train, cfg, DPConfig{Clip: 1, NoiseMult: sigma, SampleRate: 0.1}, newRNG(seed), NewSeededNoise(seed)); err != nil {
			t.Fatal(err)
		}
		met, err := Evaluate(m, params, test)
		if err != nil {
			t.Fatal(err)
		}
		return met.Accuracy
	}
	for seed := uint64(1); seed <= 3; seed++ {
		if a := acc(1, seed); a <= 0.9 {
			t.Errorf("σ = 1, seed %d: test accuracy %.3f <= 0.9", seed, a)
		}
	}
	mean := 0.0
	const seeds = 8
	for seed := uint64(1); seed <= seeds; seed++ {
		mean += acc(1000, seed) / seeds
	}
	if mean > 0.8 {
		t.Errorf("σ = 1000: mean accuracy %.3f over %d seeds, expected noise to destroy utility", mean, seeds)
	}
	t.Logf("σ = 1000: mean accuracy %.3f", mean)
}

// TrainDP allocates only per call: the count must not grow with N or steps.
func TestTrainDPAllocationsIndependentOfSize(t *testing.T) {
	for _, spec := range []Spec{{Name: LogReg, Features: 12, Classes: 2}, {Name: Softmax, Features: 12, Classes: 4}} {
		m := mustNew(t, spec)
		allocs := func(n, epochs int) float64 {
			data := randomExamples(newRNG(24), n, spec.Features, spec.Classes, false)
			params := make([]float64, m.NumParams())
			rng, noise := newRNG(25), NewSeededNoise(26)
			cfg := TrainConfig{Epochs: epochs, LearningRate: 0.1, Optimizer: Adam}
			return testing.AllocsPerRun(5, func() {
				if _, err := TrainDP(m, params, data, cfg, DPConfig{Clip: 1, NoiseMult: 1, SampleRate: 0.1}, rng, noise); err != nil {
					t.Fatal(err)
				}
			})
		}
		small, large := allocs(100, 1), allocs(2000, 3)
		if small != large {
			t.Errorf("%v: %v allocations for 100 rows × 1 epoch but %v for 2000 rows × 3 epochs", spec, small, large)
		}
	}
}

// BenchmarkTrainDPLogReg: one DP-SGD client update, 2000 rows × 12 features,
// q = 0.05 (expected batch 100), one epoch = 20 noisy steps.
func BenchmarkTrainDPLogReg(b *testing.B) {
	benchTrainDP(b, NewSeededNoise(63))
}

// The same with the production crypto/rand-keyed noise source.
func BenchmarkTrainDPLogRegCryptoNoise(b *testing.B) {
	benchTrainDP(b, NewCryptoNoise())
}

func benchTrainDP(b *testing.B, noise NoiseSource) {
	m := mustNew(b, Spec{Name: LogReg, Features: 12, Classes: 2})
	rng := newRNG(62)
	data := randomExamples(rng, 2000, 12, 2, false)
	params := make([]float64, m.NumParams())
	cfg := TrainConfig{Epochs: 1, LearningRate: 0.05, L2: 1e-4}
	dp := DPConfig{Clip: 1, NoiseMult: 1.1, SampleRate: 0.05}
	b.ReportAllocs()
	for b.Loop() {
		clear(params)
		if _, err := TrainDP(m, params, data, cfg, dp, rng, noise); err != nil {
			b.Fatal(err)
		}
	}
}
