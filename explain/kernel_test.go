package explain_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/cohortfl/cohort/explain"
	"github.com/cohortfl/cohort/model"
)

// A linear value function has Shapley values w_i·(x_i − mean_i) exactly, so
// LinearSHAP and enumerated KernelSHAP on the logit must agree.
func TestLinearSHAPEqualsKernelOnLogit(t *testing.T) {
	for _, spec := range []model.Spec{
		{Name: model.LogReg, Features: 7, Classes: 2},
		{Name: model.Softmax, Features: 5, Classes: 3},
	} {
		t.Run(spec.String(), func(t *testing.T) {
			rng := newRNG(1)
			m, err := model.New(spec)
			if err != nil {
				t.Fatal(err)
			}
			params := randRows(rng, 1, m.NumParams())
			d := spec.Features
			bg := randRows(rng, 25, d)
			x := randRows(rng, 1, d)
			mean, err := explain.BackgroundMean(bg, d)
			if err != nil {
				t.Fatal(err)
			}
			for class := 0; class < spec.Classes; class++ {
				lin, err := explain.LinearSHAP(m, params, class, x, mean)
				if err != nil {
					t.Fatal(err)
				}
				f, err := explain.LogitFunc(m, params, class)
				if err != nil {
					t.Fatal(err)
				}
				k, err := explain.NewKernel(f, bg, d, explain.DefaultKernelConfig())
				if err != nil {
					t.Fatal(err)
				}
				ker, err := k.Explain(x, nil)
				if err != nil {
					t.Fatal(err)
				}
				// Independent truth: w_i·(x_i − mean_i) from the raw layout.
				w := make([]float64, d)
				switch spec.Name {
				case model.LogReg:
					sign := 1.0
					if class == 0 {
						sign = -1
					}
					for i := range w {
						w[i] = sign * params[i]
					}
				case model.Softmax:
					copy(w, params[class*(d+1):class*(d+1)+d])
				}
				want := make([]float64, d)
				for i := range want {
					want[i] = w[i] * (x[i] - mean[i])
				}
				assertClose(t, fmt.Sprintf("class %d linear φ", class), lin.Phi, want, 1e-12)
				assertClose(t, fmt.Sprintf("class %d kernel φ", class), ker.Phi, want, 1e-9)
				if g := lin.EfficiencyGap(); math.Abs(g) > 1e-12 {
					t.Errorf("class %d: linear efficiency gap %g", class, g)
				}
				if math.Abs(lin.Value-f(x)) > 1e-12 || math.Abs(lin.Base-f(mean)) > 1e-12 {
					t.Errorf("class %d: linear Value/Base = %g/%g, want f(x)=%g f(mean)=%g", class, lin.Value, lin.Base, f(x), f(mean))
				}
				if math.Abs(ker.Base-lin.Base) > 1e-12 {
					t.Errorf("class %d: kernel base %g, linear base %g (affine f: E[f(bg)] = f(E[bg]))", class, ker.Base, lin.Base)
				}
			}
		})
	}
}

// Enumerated KernelSHAP must equal the Shapley value computed by brute force
// over all M! orderings, on non-linear value functions.
func TestKernelMatchesBruteForceShapley(t *testing.T) {
	for m := 1; m <= 6; m++ {
		rng := newRNG(uint64(10 + m))
		mlp, err := model.New(model.Spec{Name: model.MLP, Features: m, Classes: 2, Hidden: []int{6}, Activation: model.Tanh})
		if err != nil {
			t.Fatal(err)
		}
		params := mlp.Init(rng)
		for i := range params {
			params[i] += 0.5 * rng.NormFloat64() // non-zero biases
		}
		proba, err := explain.ProbaFunc(mlp, params, 1)
		if err != nil {
			t.Fatal(err)
		}
		type fn struct {
			name string
			f    explain.ValueFunc
		}
		fns := []fn{{"mlp-proba", proba}}
		if m >= 2 {
			fns = append(fns, fn{"hand-written", nonlinear})
		}
		for _, c := range fns {
			f := c.f
			t.Run(fmt.Sprintf("%s/M=%d", c.name, m), func(t *testing.T) {
				bg := randRows(rng, 7, m)
				x := randRows(rng, 1, m)
				k, err := explain.NewKernel(f, bg, m, explain.DefaultKernelConfig())
				if err != nil {
					t.Fatal(err)
				}
				e, err := k.Explain(x, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !e.Exact || e.StdErr != nil {
					t.Errorf("Exact = %v, StdErr = %v; want exact with no StdErr", e.Exact, e.StdErr)
				}
				if want := 1 << m; e.Coalitions != want {
					t.Errorf("Coalitions = %d, want %d", e.Coalitions, want)
				}
				assertClose(t, "φ", e.Phi, bruteShapley(f, x, bg), 1e-9)
				// Efficiency against independently computed f(x) − E[f(bg)].
				ef := 0.0
				for b := 0; b < 7; b++ {
					ef += f(bg[b*m : (b+1)*m])
				}
				want := f(x) - ef/7
				if got := sum(e.Phi); math.Abs(got-want) > 1e-9 {
					t.Errorf("Σφ = %.12g, want f(x) − E[f(bg)] = %.12g", got, want)
				}
			})
		}
	}
}

// Sampled KernelSHAP for M = 16 against the exact Shapley value (enumeration
// of all 2^16 coalitions). The errors, divided by the reported standard
// errors, should look like N(0,1) draws: with 5 seeds × 16 features = 80
// z-scores, max |z| < 4.5 (P(fail) ≈ 5e-4 under a t_15 tail) and the mean z²
// lies in [0.4, 2.5] (its sd under the model is ≈ 0.2).
func TestSampledKernelWithinStdErr(t *testing.T) {
	const m = 16
	rng := newRNG(99)
	bg := randRows(rng, 6, m)
	x := randRows(rng, 1, m)
	cfgExact := explain.DefaultKernelConfig()
	cfgExact.MaxExact = m
	kx, err := explain.NewKernel(nonlinear, bg, m, cfgExact)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := kx.Explain(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := explain.NewKernel(nonlinear, bg, m, explain.DefaultKernelConfig())
	if err != nil {
		t.Fatal(err)
	}
	var z2 float64
	var n int
	maxZ, maxErr, meanSE := 0.0, 0.0, 0.0
	for seed := uint64(1); seed <= 5; seed++ {
		e, err := ks.Explain(x, newRNG(seed))
		if err != nil {
			t.Fatal(err)
		}
		if e.Exact || len(e.StdErr) != m || e.Coalitions != 4096+2 {
			t.Fatalf("seed %d: Exact=%v len(StdErr)=%d Coalitions=%d", seed, e.Exact, len(e.StdErr), e.Coalitions)
		}
		if g := e.EfficiencyGap(); math.Abs(g) > 1e-9 {
			t.Errorf("seed %d: efficiency gap %g", seed, g)
		}
		if math.Abs(e.Base-ref.Base) > 1e-12 || math.Abs(e.Value-ref.Value) > 1e-12 {
			t.Errorf("seed %d: base/value %g/%g, want %g/%g", seed, e.Base, e.Value, ref.Base, ref.Value)
		}
		for i := range e.Phi {
			if !(e.StdErr[i] > 0) {
				t.Fatalf("seed %d: StdErr[%d] = %g, want > 0", seed, i, e.StdErr[i])
			}
			z := (e.Phi[i] - ref.Phi[i]) / e.StdErr[i]
			z2 += z * z
			n++
			maxZ = math.Max(maxZ, math.Abs(z))
			maxErr = math.Max(maxErr, math.Abs(e.Phi[i]-ref.Phi[i]))
			meanSE += e.StdErr[i]
		}
	}
	meanSE /= float64(n)
	t.Logf("M=16, 4096 samples: max|z| = %.2f, mean z² = %.2f, max |error| = %.2e, mean SE = %.2e, mean |φ_ref| = %.2e",
		maxZ, z2/float64(n), maxErr, meanSE, meanAbs(ref.Phi))
	if maxZ > 4.5 {
		t.Errorf("max |z| = %.2f > 4.5", maxZ)
	}
	if mz := z2 / float64(n); mz < 0.4 || mz > 2.5 {
		t.Errorf("mean z² = %.2f outside [0.4, 2.5]: reported standard errors are miscalibrated", mz)
	}
}

func meanAbs(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += math.Abs(x)
	}
	return s / float64(len(v))
}

func TestSampledKernelDeterministic(t *testing.T) {
	const m = 14
	rng := newRNG(3)
	bg := randRows(rng, 4, m)
	x := randRows(rng, 1, m)
	k, err := explain.NewKernel(nonlinear, bg, m, explain.KernelConfig{MaxExact: 12, Samples: 512, Batches: 4})
	if err != nil {
		t.Fatal(err)
	}
	a, err := k.Explain(x, newRNG(7))
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.Explain(x, newRNG(7))
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "φ same seed", a.Phi, b.Phi, 0)
	assertClose(t, "se same seed", a.StdErr, b.StdErr, 0)
}

func TestKernelErrors(t *testing.T) {
	bg := []float64{0, 0, 1, 1}
	good := explain.DefaultKernelConfig()
	cases := []struct {
		name string
		run  func() error
		want error
	}{
		{"nil f", func() error { _, err := explain.NewKernel(nil, bg, 2, good); return err }, explain.ErrInvalidInput},
		{"ragged background", func() error { _, err := explain.NewKernel(nonlinear, bg[:3], 2, good); return err }, explain.ErrInvalidInput},
		{"empty background", func() error { _, err := explain.NewKernel(nonlinear, nil, 2, good); return err }, explain.ErrInvalidInput},
		{"NaN background", func() error {
			_, err := explain.NewKernel(nonlinear, []float64{0, math.NaN()}, 2, good)
			return err
		}, explain.ErrInvalidInput},
		{"zero features", func() error { _, err := explain.NewKernel(nonlinear, bg, 0, good); return err }, explain.ErrInvalidInput},
		{"MaxExact too big", func() error {
			_, err := explain.NewKernel(nonlinear, bg, 2, explain.KernelConfig{MaxExact: 21, Samples: 64, Batches: 2})
			return err
		}, explain.ErrInvalidConfig},
		{"odd batches split", func() error {
			_, err := explain.NewKernel(nonlinear, bg, 2, explain.KernelConfig{MaxExact: 12, Samples: 100, Batches: 8})
			return err
		}, explain.ErrInvalidConfig},
		{"one batch", func() error {
			_, err := explain.NewKernel(nonlinear, bg, 2, explain.KernelConfig{MaxExact: 12, Samples: 64, Batches: 1})
			return err
		}, explain.ErrInvalidConfig},
		{"short x", func() error {
			k, _ := explain.NewKernel(nonlinear, bg, 2, good)
			_, err := k.Explain([]float64{1}, nil)
			return err
		}, explain.ErrInvalidInput},
		{"Inf x", func() error {
			k, _ := explain.NewKernel(nonlinear, bg, 2, good)
			_, err := k.Explain([]float64{1, math.Inf(1)}, nil)
			return err
		}, explain.ErrInvalidInput},
		{"f returns NaN", func() error {
			k, _ := explain.NewKernel(func(x []float64) float64 { return math.Log(x[0] - 0.5) }, bg, 2, good)
			_, err := k.Explain([]float64{1, 1}, nil)
			return err
		}, explain.ErrNumerical},
		{"sampling without rng", func() error {
			k, _ := explain.NewKernel(nonlinear, make([]float64, 13), 13, good)
			_, err := k.Explain(make([]float64, 13), nil)
			return err
		}, explain.ErrInvalidInput},
		{"too few samples per batch", func() error {
			k, _ := explain.NewKernel(nonlinear, make([]float64, 40), 40, explain.KernelConfig{MaxExact: 12, Samples: 64, Batches: 4})
			_, err := k.Explain(make([]float64, 40), newRNG(1))
			return err
		}, explain.ErrNumerical},
	}
	for _, c := range cases {
		if err := c.run(); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestLinearSHAPErrors(t *testing.T) {
	lr, _ := model.New(model.Spec{Name: model.LogReg, Features: 2, Classes: 2})
	mlp, _ := model.New(model.Spec{Name: model.MLP, Features: 2, Classes: 2, Hidden: []int{3}})
	p := []float64{1, 2, 3}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"mlp", func() error {
			_, err := explain.LinearSHAP(mlp, make([]float64, mlp.NumParams()), 1, []float64{0, 0}, []float64{0, 0})
			return err
		}(), explain.ErrNotLinear},
		{"nil model", func() error { _, err := explain.LinearSHAP(nil, p, 1, []float64{0, 0}, []float64{0, 0}); return err }(), explain.ErrInvalidInput},
		{"short params", func() error { _, err := explain.LinearSHAP(lr, p[:2], 1, []float64{0, 0}, []float64{0, 0}); return err }(), explain.ErrInvalidInput},
		{"NaN params", func() error {
			_, err := explain.LinearSHAP(lr, []float64{1, math.NaN(), 0}, 1, []float64{0, 0}, []float64{0, 0})
			return err
		}(), explain.ErrInvalidInput},
		{"class 2", func() error { _, err := explain.LinearSHAP(lr, p, 2, []float64{0, 0}, []float64{0, 0}); return err }(), explain.ErrInvalidInput},
		{"short mean", func() error { _, err := explain.LinearSHAP(lr, p, 1, []float64{0, 0}, []float64{0}); return err }(), explain.ErrInvalidInput},
		{"proba nil model", func() error { _, err := explain.ProbaFunc(nil, p, 1); return err }(), explain.ErrInvalidInput},
		{"logit mlp", func() error { _, err := explain.LogitFunc(mlp, make([]float64, mlp.NumParams()), 0); return err }(), explain.ErrNotLinear},
		{"mean ragged", func() error { _, err := explain.BackgroundMean([]float64{1, 2, 3}, 2); return err }(), explain.ErrInvalidInput},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
		}
	}
}

// Explain on a shared Kernel with a shared ProbaFunc runs concurrently (run
// under -race) and gives the same answer as a sequential call.
func TestKernelConcurrentExplain(t *testing.T) {
	const m = 13
	rng := newRNG(8)
	mlp, _ := model.New(model.Spec{Name: model.MLP, Features: m, Classes: 2, Hidden: []int{4}})
	f, err := explain.ProbaFunc(mlp, mlp.Init(rng), 1)
	if err != nil {
		t.Fatal(err)
	}
	k, err := explain.NewKernel(f, randRows(rng, 3, m), m, explain.KernelConfig{MaxExact: 12, Samples: 256, Batches: 4})
	if err != nil {
		t.Fatal(err)
	}
	x := randRows(rng, 1, m)
	want, err := k.Explain(x, newRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			got, err := k.Explain(x, newRNG(1))
			if err == nil {
				for i := range got.Phi {
					if got.Phi[i] != want.Phi[i] {
						err = fmt.Errorf("φ[%d] = %g concurrently, %g sequentially", i, got.Phi[i], want.Phi[i])
						break
					}
				}
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// subsetShapley is the Shapley value by its definition over subsets:
// φ_i = Σ_{S ⊆ N∖{i}} |S|!(M−|S|−1)!/M! · (v(S ∪ {i}) − v(S)), with
// v(S) the mean of f over the background with the features in S set to x.
func subsetShapley(f explain.ValueFunc, x, bg []float64) []float64 {
	m := len(x)
	fact := func(n int) float64 {
		r := 1.0
		for k := 2; k <= n; k++ {
			r *= float64(k)
		}
		return r
	}
	phi := make([]float64, m)
	for i := range m {
		for mask := 0; mask < 1<<m; mask++ {
			if mask&(1<<i) != 0 {
				continue
			}
			in := make([]bool, m)
			size := 0
			for j := range m {
				if mask&(1<<j) != 0 {
					in[j] = true
					size++
				}
			}
			without := coalitionValue(f, x, bg, in)
			in[i] = true
			with := coalitionValue(f, x, bg, in)
			phi[i] += fact(size) * fact(m-size-1) / fact(m) * (with - without)
		}
	}
	return phi
}

// TestKernelExactMLP8 is issue 5's acceptance check: on a non-linear MLP
// with 8 features, enumerated KernelSHAP equals the Shapley values from the
// subset definition to 1e-9, and the attributions sum to
// f(x) − E[f(background)] to 1e-9.
func TestKernelExactMLP8(t *testing.T) {
	const m, nbg = 8, 10
	rng := newRNG(88)
	mlp, err := model.New(model.Spec{Name: model.MLP, Features: m, Classes: 2, Hidden: []int{12, 6}, Activation: model.Tanh})
	if err != nil {
		t.Fatal(err)
	}
	params := mlp.Init(rng)
	for i := range params {
		params[i] += 0.7 * rng.NormFloat64()
	}
	f, err := explain.ProbaFunc(mlp, params, 1)
	if err != nil {
		t.Fatal(err)
	}
	bg := randRows(rng, nbg, m)
	k, err := explain.NewKernel(f, bg, m, explain.DefaultKernelConfig())
	if err != nil {
		t.Fatal(err)
	}
	for trial := range 3 {
		x := randRows(rng, 1, m)
		e, err := k.Explain(x, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Exact {
			t.Fatalf("trial %d: 8 features were not explained exactly", trial)
		}
		want := subsetShapley(f, x, bg)
		assertClose(t, fmt.Sprintf("trial %d φ", trial), e.Phi, want, 1e-9)
		mean := 0.0
		for b := range nbg {
			mean += f(bg[b*m : (b+1)*m])
		}
		if got, w := sum(e.Phi), f(x)-mean/nbg; math.Abs(got-w) > 1e-9 {
			t.Errorf("trial %d: Σφ = %.12g, want f(x) − E[f(bg)] = %.12g", trial, got, w)
		}
		// Not a degenerate game in which every feature gets the same share.
		if spread := sum(want) - (want[0] * m); math.Abs(spread) < 1e-6 {
			t.Errorf("trial %d: attributions look degenerate: %v", trial, want)
		}
	}
}
