package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestSpecValidate(t *testing.T) {
	cases := []struct {
		spec Spec
		want error
	}{
		{Spec{Name: "svm", Features: 3, Classes: 2}, ErrUnknownModel},
		{Spec{Name: LogReg, Features: 0, Classes: 2}, ErrInvalidSpec},
		{Spec{Name: LogReg, Features: 3, Classes: 3}, ErrInvalidSpec},
		{Spec{Name: Softmax, Features: 3, Classes: 1}, ErrInvalidSpec},
		{Spec{Name: Softmax, Features: 3, Classes: 3, Hidden: []int{4}}, ErrInvalidSpec},
		{Spec{Name: MLP, Features: 3, Classes: 2}, ErrInvalidSpec},
		{Spec{Name: MLP, Features: 3, Classes: 2, Hidden: []int{4, 0}}, ErrInvalidSpec},
		{Spec{Name: MLP, Features: 3, Classes: 2, Hidden: []int{4}, Activation: "gelu"}, ErrInvalidSpec},
		{Spec{Name: LogReg, Features: 3, Classes: 2, Activation: Tanh}, ErrInvalidSpec},
		{Spec{Name: MLP, Features: 1 << 20, Classes: 2, Hidden: []int{1 << 20}}, ErrInvalidSpec},
		{Spec{Name: MLP, Features: math.MaxInt, Classes: 2, Hidden: []int{2}}, ErrInvalidSpec},
		{Spec{Name: LogReg, Features: 3, Classes: 2}, nil},
		{Spec{Name: MLP, Features: 3, Classes: 4, Hidden: []int{8, 8}, Activation: Tanh}, nil},
	}
	for _, c := range cases {
		err := c.spec.Validate()
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("Validate(%+v) = %v, want %v", c.spec, err, c.want)
		}
		if m, err := New(c.spec); (err == nil) != (c.want == nil) || (err != nil && m != nil) {
			t.Errorf("New(%+v) = %v, %v", c.spec, m, err)
		}
	}
}

func TestNumParamsFromLayout(t *testing.T) {
	cases := []struct {
		spec Spec
		want int
	}{
		{Spec{Name: LogReg, Features: 12, Classes: 2}, 13},
		{Spec{Name: Softmax, Features: 12, Classes: 5}, 13 * 5},
		{Spec{Name: MLP, Features: 12, Classes: 2, Hidden: []int{32, 16}}, 13*32 + 33*16 + 17*2},
	}
	for _, c := range cases {
		m := mustNew(t, c.spec)
		if got := m.NumParams(); got != c.want {
			t.Errorf("%v: NumParams = %d, want %d", c.spec, got, c.want)
		}
		if got := len(m.Init(newRNG(1))); got != c.want {
			t.Errorf("%v: len(Init) = %d, want %d", c.spec, got, c.want)
		}
		if s := m.Spec(); s.Name != c.spec.Name || s.Features != c.spec.Features || !slices.Equal(s.Hidden, c.spec.Hidden) {
			t.Errorf("Spec() = %+v, want %+v", s, c.spec)
		}
	}
}

func TestParseHidden(t *testing.T) {
	good := map[string][]int{"": nil, "32": {32}, "32,16": {32, 16}, " 8 , 4 ": {8, 4}}
	for in, want := range good {
		got, err := ParseHidden(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseHidden(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"a", "32,", "0", "-4", "3,,2"} {
		if got, err := ParseHidden(in); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("ParseHidden(%q) = %v, %v; want ErrInvalidSpec", in, got, err)
		}
	}
}

// He init for ReLU layers has variance 2/in; with 64·256 draws the sample
// variance has relative standard error √(2/16384) ≈ 1.1%, so 5% is > 4σ.
func TestMLPInitScale(t *testing.T) {
	m := mustNew(t, Spec{Name: MLP, Features: 256, Classes: 2, Hidden: []int{64}})
	p := m.Init(newRNG(3))
	w := p[:256*64]
	v := 0.0
	for _, x := range w {
		v += x * x
	}
	v /= float64(len(w))
	if want := 2.0 / 256; math.Abs(v/want-1) > 0.05 {
		t.Errorf("first-layer weight variance %v, want He %v", v, want)
	}
	for _, b := range p[256*64 : 256*64+64] {
		if b != 0 {
			t.Fatal("biases must start at zero")
		}
	}
	if a, b := m.Init(newRNG(3)), m.Init(newRNG(3)); !slices.Equal(a, b) {
		t.Error("Init is not deterministic for a fixed seed")
	}
}

// Many goroutines share one model; results must equal the serial ones
// exactly (run with -race to check for shared scratch).
func TestConcurrentLossGrad(t *testing.T) {
	for _, spec := range gradSpecs {
		m := mustNew(t, spec)
		rng := newRNG(51)
		params := m.Init(rng)
		for i := range params {
			params[i] += 0.1 * rng.NormFloat64()
		}
		data := randomExamples(rng, 64, spec.Features, spec.Classes, true)
		want := make([]float64, m.NumParams())
		wantLoss, _ := m.LossGrad(params, data, allRows(data.N), want)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				grad := make([]float64, m.NumParams())
				out := make([]float64, m.NumClasses())
				for rep := 0; rep < 20; rep++ {
					clear(grad)
					loss, _ := m.LossGrad(params, data, allRows(data.N), grad)
					m.PredictProba(params, data.Row(rep), out)
					if loss != wantLoss || !slices.Equal(grad, want) {
						errs <- fmt.Errorf("%v: concurrent result differs from serial", spec)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

func TestLossGradDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	for _, spec := range gradSpecs {
		if spec.Name == Softmax && spec.Classes > stackClasses {
			continue // documented: one logits buffer per call above stackClasses
		}
		m := mustNew(t, spec)
		params := m.Init(rand.New(rand.NewPCG(1, 2)))
		data := randomExamples(newRNG(52), 32, spec.Features, spec.Classes, true)
		idx := allRows(data.N)
		grad := make([]float64, m.NumParams())
		out := make([]float64, m.NumClasses())
		if n := testing.AllocsPerRun(100, func() { m.LossGrad(params, data, idx, grad) }); n != 0 {
			t.Errorf("%v: LossGrad allocates %v times per call", spec, n)
		}
		if n := testing.AllocsPerRun(100, func() { m.PredictProba(params, data.Row(0), out) }); n != 0 {
			t.Errorf("%v: PredictProba allocates %v times per call", spec, n)
		}
	}
}
