package aggregation

import (
	"errors"
	"math"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("DefaultOptions().Validate() = %v", err)
	}
	if err := (Options{}).Validate(); err != nil {
		t.Fatalf("Options{}.Validate() = %v", err)
	}
	for _, o := range []Options{
		{ServerLR: -1},
		{ServerLR: math.NaN()},
		{ServerLR: math.Inf(1)},
		{Beta1: 1},
		{Beta1: -0.1},
		{Beta2: 1.5},
		{Tau: -1e-3},
		{ProximalMu: -0.01},
		{ProximalMu: math.NaN()},
		{TrimFraction: 0.5},
		{TrimFraction: -0.1},
		{KrumByzantine: -1},
		{KrumMulti: -2},
	} {
		err := o.Validate()
		if !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v.Validate() = %v, want ErrInvalidOptions", o, err)
		}
		if s, err := New(NameFedAvg, o); s != nil || !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("New(fedavg, %+v) = %v, %v; want nil, ErrInvalidOptions", o, s, err)
		}
	}
}

func TestNewNames(t *testing.T) {
	if s, err := New("fedsgd", Options{}); s != nil || !errors.Is(err, ErrUnknownStrategy) {
		t.Errorf("New(fedsgd) = %v, %v; want nil, ErrUnknownStrategy", s, err)
	}
	for _, name := range Names() {
		s, err := New(name, DefaultOptions())
		if err != nil {
			t.Fatalf("New(%q): %v", name, err)
		}
		if s.Name() != name {
			t.Errorf("New(%q).Name() = %q", name, s.Name())
		}
		_, isMean := s.(MeanStrategy)
		b, isBuf := s.(BufferingStrategy)
		buffers := isBuf && b.BuffersUpdates()
		wantMean := map[string]bool{NameFedAvg: true, NameFedProx: true, NameFedAdam: true, NameFedYogi: true, NameFedAdagrad: true}[name]
		if isMean != wantMean || buffers == wantMean {
			t.Errorf("%s: MeanStrategy=%v BuffersUpdates=%v, want %v and %v", name, isMean, buffers, wantMean, !wantMean)
		}
	}
}

func TestDefaultsApplied(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want float64 // FitConfig.ProximalMu
	}{
		{NameFedProx, Options{}, 0.01},
		{NameFedProx, Options{ProximalMu: 0.5}, 0.5},
		{NameFedAvg, Options{ProximalMu: 0.5}, 0}, // ignored by fedavg
		{NameFedAdam, DefaultOptions(), 0},
	} {
		s, err := New(tc.name, tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.ConfigureFit(3).ProximalMu; got != tc.want {
			t.Errorf("New(%s, %+v).ConfigureFit().ProximalMu = %v, want %v", tc.name, tc.o, got, tc.want)
		}
	}
	// Per-strategy server learning rates: one step of size η·m/(√v+τ) with
	// Δ = 1 in one dimension; m = 0.1, and the literature η is 0.1 / 0.01.
	for name, eta := range map[string]float64{NameFedAdam: 0.1, NameFedYogi: 0.01, NameFedAdagrad: 0.1} {
		s, _ := New(name, Options{})
		got, err := s.(MeanStrategy).ApplyMean(1, []float64{0}, []float64{1})
		if err != nil {
			t.Fatalf("%s: ApplyMean: %v", name, err)
		}
		var v float64
		switch name {
		case NameFedAdagrad:
			v = 1e-6 + 1
		case NameFedYogi:
			v = 1e-6 + 0.01 // v < Δ², so v grows by (1−β2)Δ²
		default:
			v = 0.99e-6 + 0.01
		}
		want := eta * 0.1 / (math.Sqrt(v) + 1e-3)
		if !closeRel(got[0], want, 1e-12) {
			t.Errorf("%s default step = %v, want %v", name, got[0], want)
		}
	}
}
