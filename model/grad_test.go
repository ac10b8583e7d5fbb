package model

import (
	"math"
	"testing"
)

// Central differences with h = 1e-6 have truncation error h²·|f”'|/6 ≈ 1e-13
// and rounding error about ε·|f|/h ≈ 2.2e-16·|f|/1e-6 ≈ 2e-10·|f|. The losses
// here are sums over ≤ 40 rows with |f| ≲ 100, so the finite-difference
// error is ≲ 2e-8. A tolerance of 1e-6·(1+|g|) leaves a 50× margin while any
// real gradient bug (a missing factor, a wrong index) is off by O(|g|).
const (
	fdStep = 1e-6
	fdTol  = 1e-6
)

var gradSpecs = []Spec{
	{Name: LogReg, Features: 5, Classes: 2},
	{Name: Softmax, Features: 4, Classes: 3},
	{Name: Softmax, Features: 3, Classes: 40}, // exercises the heap path (K > stackClasses)
	{Name: MLP, Features: 4, Classes: 3, Hidden: []int{6, 5}},
	{Name: MLP, Features: 3, Classes: 2, Hidden: []int{4}, Activation: Tanh},
}

func TestLossGradMatchesFiniteDifferences(t *testing.T) {
	for si, spec := range gradSpecs {
		t.Run(spec.String(), func(t *testing.T) {
			rng := newRNG(uint64(100 + si))
			m := mustNew(t, spec)
			data := randomExamples(rng, 40, spec.Features, spec.Classes, true)
			params := make([]float64, m.NumParams())
			for i := range params {
				params[i] = 0.7 * rng.NormFloat64()
			}
			// A subset with a repeated row: gradients must add per occurrence.
			idx := []int{0, 3, 3, 7, 11, 19, 23, 31, 38, 39}
			f := func(p []float64) float64 {
				l, _ := m.LossGrad(p, data, idx, nil)
				return l
			}
			grad := make([]float64, m.NumParams())
			for i := range grad {
				grad[i] = 1 // LossGrad must ADD into grad
			}
			loss, wsum := m.LossGrad(params, data, idx, grad)
			if got := f(params); got != loss {
				t.Fatalf("loss with grad=nil %v != loss with grad %v", got, loss)
			}
			wantW := 0.0
			for _, i := range idx {
				wantW += data.W[i]
			}
			if math.Abs(wsum-wantW) > 1e-12*wantW {
				t.Fatalf("weightSum = %v, want %v", wsum, wantW)
			}
			p := append([]float64(nil), params...)
			for j := range params {
				p[j] = params[j] + fdStep
				fp := f(p)
				p[j] = params[j] - fdStep
				fm := f(p)
				p[j] = params[j]
				fd := (fp - fm) / (2 * fdStep)
				g := grad[j] - 1
				if math.Abs(fd-g) > fdTol*(1+math.Abs(g)) {
					t.Errorf("param %d: analytic %v, finite difference %v", j, g, fd)
				}
			}
		})
	}
}

// naiveLoss computes Σ w_i·(−log p_{y_i}) from an independent, straightforward
// reading of the documented parameter layouts (no stability tricks; the test
// keeps logits moderate).
func naiveLoss(spec Spec, params []float64, data Examples, idx []int) float64 {
	d := spec.Features
	sum := 0.0
	for _, i := range idx {
		x := data.Row(i)
		var probs []float64
		switch spec.Name {
		case LogReg:
			z := params[d]
			for j := 0; j < d; j++ {
				z += params[j] * x[j]
			}
			p1 := 1 / (1 + math.Exp(-z))
			probs = []float64{1 - p1, p1}
		case Softmax:
			z := make([]float64, spec.Classes)
			for k := range z {
				z[k] = params[k*(d+1)+d]
				for j := 0; j < d; j++ {
					z[k] += params[k*(d+1)+j] * x[j]
				}
			}
			probs = naiveSoftmax(z)
		case MLP:
			a := append([]float64(nil), x...)
			sizes := append(append([]int{d}, spec.Hidden...), spec.Classes)
			off := 0
			for l := 0; l+1 < len(sizes); l++ {
				in, out := sizes[l], sizes[l+1]
				z := make([]float64, out)
				for o := 0; o < out; o++ {
					z[o] = params[off+in*out+o]
					for j := 0; j < in; j++ {
						z[o] += params[off+o*in+j] * a[j]
					}
					if l+2 < len(sizes) {
						if spec.Activation == Tanh {
							z[o] = math.Tanh(z[o])
						} else {
							z[o] = math.Max(z[o], 0)
						}
					}
				}
				off += (in + 1) * out
				a = z
			}
			probs = naiveSoftmax(a)
		}
		sum += data.Weight(i) * -math.Log(probs[data.Y[i]])
	}
	return sum
}

func naiveSoftmax(z []float64) []float64 {
	s := 0.0
	p := make([]float64, len(z))
	for k, v := range z {
		p[k] = math.Exp(v)
		s += p[k]
	}
	for k := range p {
		p[k] /= s
	}
	return p
}

func TestLossMatchesNaiveFormulaAndLayout(t *testing.T) {
	for si, spec := range gradSpecs {
		t.Run(spec.String(), func(t *testing.T) {
			rng := newRNG(uint64(200 + si))
			m := mustNew(t, spec)
			if got, want := m.NumParams(), spec.NumParams(); got != want {
				t.Fatalf("NumParams = %d, Spec.NumParams = %d", got, want)
			}
			data := randomExamples(rng, 30, spec.Features, spec.Classes, true)
			params := make([]float64, m.NumParams())
			for i := range params {
				params[i] = 0.5 * rng.NormFloat64()
			}
			idx := allRows(data.N)
			got, _ := m.LossGrad(params, data, idx, nil)
			want := naiveLoss(spec, params, data, idx)
			// Both are sums of 30 terms of size O(1); float64 rounding differs
			// by at most a few ulps per term.
			if math.Abs(got-want) > 1e-12*(1+math.Abs(want)) {
				t.Fatalf("LossGrad loss = %.17g, naive = %.17g", got, want)
			}
			// PredictProba must agree with the naive probabilities too.
			out := make([]float64, spec.Classes)
			for i := 0; i < data.N; i++ {
				m.PredictProba(params, data.Row(i), out)
				sum := 0.0
				for _, p := range out {
					sum += p
				}
				if math.Abs(sum-1) > 1e-12 {
					t.Fatalf("row %d: probabilities sum to %v", i, sum)
				}
				one := Examples{X: data.Row(i), Y: []int{argmax(out)}, N: 1, D: data.D}
				l, _ := m.LossGrad(params, one, []int{0}, nil)
				if math.Abs(math.Exp(-l)-out[one.Y[0]]) > 1e-12 {
					t.Fatalf("row %d: exp(-loss) %v != predicted probability %v", i, math.Exp(-l), out[one.Y[0]])
				}
			}
		})
	}
}

func TestStableLossForExtremeLogits(t *testing.T) {
	// z = ±800 overflows exp in a naive formula; the loss must stay finite
	// and match its asymptote: softplus(z) − y·z ≈ |z| when wrong, ≈ 0 when right.
	lr := mustNew(t, Spec{Name: LogReg, Features: 1, Classes: 2})
	sm := mustNew(t, Spec{Name: Softmax, Features: 1, Classes: 2})
	data := Examples{X: []float64{1, 1}, Y: []int{0, 1}, N: 2, D: 1}
	for _, z := range []float64{800, -800} {
		lrParams := []float64{z, 0}
		smParams := []float64{0, 0, z, 0}
		for _, c := range []struct {
			m Model
			p []float64
		}{{lr, lrParams}, {sm, smParams}} {
			grad := make([]float64, c.m.NumParams())
			l, _ := c.m.LossGrad(c.p, data, []int{0, 1}, grad)
			if math.Abs(l-800) > 1e-9 {
				t.Errorf("%s z=%v: loss %v, want 800 (one row right, one wrong by 800)", c.m.Name(), z, l)
			}
			for j, g := range grad {
				if math.IsNaN(g) || math.IsInf(g, 0) {
					t.Errorf("%s z=%v: grad[%d] = %v", c.m.Name(), z, j, g)
				}
			}
		}
	}
}

func TestSoftmaxTwoClassEqualsLogReg(t *testing.T) {
	rng := newRNG(7)
	const d = 6
	sm := mustNew(t, Spec{Name: Softmax, Features: d, Classes: 2})
	lr := mustNew(t, Spec{Name: LogReg, Features: d, Classes: 2})
	smp := make([]float64, sm.NumParams())
	for i := range smp {
		smp[i] = rng.NormFloat64()
	}
	lrp := make([]float64, lr.NumParams())
	for j := 0; j <= d; j++ { // weights and bias: block 1 minus block 0
		lrp[j] = smp[(d+1)+j] - smp[j]
	}
	data := randomExamples(rng, 50, d, 2, true)
	idx := allRows(data.N)
	ls, _ := sm.LossGrad(smp, data, idx, nil)
	ll, _ := lr.LossGrad(lrp, data, idx, nil)
	if math.Abs(ls-ll) > 1e-12*math.Abs(ll) {
		t.Fatalf("softmax loss %v != logreg loss %v", ls, ll)
	}
	// The softmax gradient blocks are ±(logreg gradient): ∂/∂w_1 = g, ∂/∂w_0 = −g.
	gs := make([]float64, sm.NumParams())
	gl := make([]float64, lr.NumParams())
	sm.LossGrad(smp, data, idx, gs)
	lr.LossGrad(lrp, data, idx, gl)
	for j := 0; j <= d; j++ {
		if math.Abs(gs[d+1+j]-gl[j]) > 1e-12*(1+math.Abs(gl[j])) || math.Abs(gs[j]+gl[j]) > 1e-12*(1+math.Abs(gl[j])) {
			t.Fatalf("coordinate %d: softmax blocks (%v, %v), logreg %v", j, gs[j], gs[d+1+j], gl[j])
		}
	}
	ps, pl := make([]float64, 2), make([]float64, 2)
	for i := 0; i < data.N; i++ {
		sm.PredictProba(smp, data.Row(i), ps)
		lr.PredictProba(lrp, data.Row(i), pl)
		if math.Abs(ps[1]-pl[1]) > 1e-14 {
			t.Fatalf("row %d: softmax P1 %v, logreg P1 %v", i, ps[1], pl[1])
		}
	}
}

func TestPenaltyGradMatchesFiniteDifferences(t *testing.T) {
	rng := newRNG(11)
	const n = 9
	params, center := make([]float64, n), make([]float64, n)
	for i := range params {
		params[i] = rng.NormFloat64()
		center[i] = rng.NormFloat64()
	}
	cfg := TrainConfig{L2: 0.3, ProximalMu: 2.5, ProximalCenter: center}
	grad := make([]float64, n)
	val := cfg.Penalty(params, grad)
	want := 0.0
	for i := range params {
		want += 0.3/2*params[i]*params[i] + 2.5/2*(params[i]-center[i])*(params[i]-center[i])
	}
	if math.Abs(val-want) > 1e-12*want {
		t.Fatalf("Penalty = %v, want %v", val, want)
	}
	p := append([]float64(nil), params...)
	for j := range p {
		p[j] = params[j] + fdStep
		fp := cfg.Penalty(p, nil)
		p[j] = params[j] - fdStep
		fm := cfg.Penalty(p, nil)
		p[j] = params[j]
		// The penalty is quadratic, so the central difference is exact up to rounding.
		if fd := (fp - fm) / (2 * fdStep); math.Abs(fd-grad[j]) > fdTol*(1+math.Abs(grad[j])) {
			t.Errorf("param %d: analytic %v, finite difference %v", j, grad[j], fd)
		}
	}
}

func TestPerExampleGradSumsToBatchGrad(t *testing.T) {
	rng := newRNG(12)
	spec := Spec{Name: MLP, Features: 3, Classes: 3, Hidden: []int{5}}
	m := mustNew(t, spec)
	params := m.Init(rng)
	data := randomExamples(rng, 10, 3, 3, true)
	batch := make([]float64, m.NumParams())
	m.LossGrad(params, data, allRows(data.N), batch)
	sum := make([]float64, m.NumParams())
	one := make([]float64, m.NumParams())
	for i := 0; i < data.N; i++ {
		for j := range one {
			one[j] = 42 // PerExampleGrad must overwrite, not add
		}
		_, w := PerExampleGrad(m, params, data, i, one)
		if w != data.W[i] {
			t.Fatalf("row %d: weight %v, want %v", i, w, data.W[i])
		}
		for j := range sum {
			sum[j] += one[j]
		}
	}
	for j := range sum {
		if math.Abs(sum[j]-batch[j]) > 1e-12*(1+math.Abs(batch[j])) {
			t.Fatalf("param %d: Σ per-example %v != batch %v", j, sum[j], batch[j])
		}
	}
}
