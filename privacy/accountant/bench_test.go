package accountant

import "testing"

// alternating returns n single-step events alternating between two
// mechanisms, as when a federated round alternates two site configurations.
func alternating(n int) []Event {
	ev := make([]Event, n)
	for i := range ev {
		if i%2 == 0 {
			ev[i] = Event{Q: 0.01, Sigma: 1.0, Steps: 1}
		} else {
			ev[i] = Event{Q: 0.02, Sigma: 1.5, Steps: 1}
		}
	}
	return ev
}

// distinct returns n single-step events with n different noise multipliers.
func distinct(n int) []Event {
	ev := make([]Event, n)
	for i := range ev {
		ev[i] = Event{Q: 0.01, Sigma: 1 + float64(i)*1e-3, Steps: 1}
	}
	return ev
}

// Cold: a new accountant per iteration, so the per-(q,σ) vectors are
// recomputed every time.
func BenchmarkRDPEpsilon10kAlternatingCold(b *testing.B) {
	ev := alternating(10000)
	for b.Loop() {
		r, _ := NewRDP(nil)
		if _, err := r.Epsilon(ev, 1e-5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRDPEpsilon10kAlternatingWarm(b *testing.B) {
	ev := alternating(10000)
	r := newRDP(b)
	for b.Loop() {
		if _, err := r.Epsilon(ev, 1e-5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRDPEpsilon100DistinctCold(b *testing.B) {
	ev := distinct(100)
	for b.Loop() {
		r, _ := NewRDP(nil)
		if _, err := r.Epsilon(ev, 1e-5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPLDEpsilon10kAlternating(b *testing.B) {
	ev := alternating(10000)
	p := newPLD(b)
	for b.Loop() {
		if _, err := p.Epsilon(ev, 1e-5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPLDEpsilon10Distinct1kSteps(b *testing.B) {
	ev := distinct(10)
	for i := range ev {
		ev[i].Steps = 1000
	}
	p := newPLD(b)
	for b.Loop() {
		if _, err := p.Epsilon(ev, 1e-5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPLDEpsilonMNIST(b *testing.B) {
	p := newPLD(b)
	for b.Loop() {
		if _, err := p.Epsilon(mnist, 1e-5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSigmaForRDP(b *testing.B) {
	for b.Loop() {
		r, _ := NewRDP(nil)
		if _, err := SigmaFor(r, mnistQ, 14063, 2, 1e-5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSigmaForPLD(b *testing.B) {
	p := newPLD(b)
	for b.Loop() {
		if _, err := SigmaFor(p, mnistQ, 14063, 2, 1e-5); err != nil {
			b.Fatal(err)
		}
	}
}
