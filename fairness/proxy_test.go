package fairness

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat"
)

func TestProxyCorrelationsMatchGonum(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	rows := hmdaLike(r, 5000)
	features := []string{"income", "loan", "dti", "noise"}
	attrs := []string{"race=A", "race=B", "sex=F"}
	l, err := NewMomentLayout(features, attrs)
	if err != nil {
		t.Fatal(err)
	}
	cols := make([][]float64, len(features)+len(attrs))
	var vecs [][]float64
	ind := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for site := range 5 {
		v := make([]float64, l.Dim())
		for _, a := range rows[site*1000 : (site+1)*1000] {
			x := []float64{a.income, a.loan, a.dti, r.NormFloat64()}
			ai := []float64{ind(a.race == "A"), ind(a.race == "B"), ind(a.sex == "F")}
			if err := l.Add(v, x, ai); err != nil {
				t.Fatal(err)
			}
			for j, xj := range append(x, ai...) {
				cols[j] = append(cols[j], xj)
			}
		}
		vecs = append(vecs, v)
	}
	m, err := l.Decode(sumVectors(vecs...))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ProxyCorrelations(m, DefaultProxyThreshold)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != len(features)*len(attrs) {
		t.Fatalf("got %d pairs; want %d", len(ps), len(features)*len(attrs))
	}
	for i, p := range ps {
		j, k := i/len(attrs), i%len(attrs)
		if p.Feature != features[j] || p.Attr != attrs[k] {
			t.Errorf("pair %d = (%s, %s); want (%s, %s)", i, p.Feature, p.Attr, features[j], attrs[k])
		}
		want := stat.Correlation(cols[j], cols[len(features)+k], nil)
		if !closeTo(p.R, want, 1e-9) {
			t.Errorf("r(%s, %s) = %v; gonum %v", p.Feature, p.Attr, p.R, want)
		}
		if p.Flagged != (math.Abs(want) >= 0.5) {
			t.Errorf("r(%s, %s) = %v flagged %v", p.Feature, p.Attr, p.R, p.Flagged)
		}
	}
	// Income is shifted by race: it must correlate with race=B at least
	// weakly; noise must not be flagged.
	if p := ps[0*len(attrs)+1]; !(p.R < -0.2) {
		t.Errorf("r(income, race=B) = %v; want < -0.2 by construction", p.R)
	}
	for _, p := range ps[3*len(attrs):] {
		if p.Flagged || math.Abs(p.R) > 0.1 {
			t.Errorf("noise feature r = %v flagged %v", p.R, p.Flagged)
		}
	}
}

func TestProxyHand(t *testing.T) {
	// x = a exactly → r = 1; x = 1 − a → r = −1; constant x → NaN.
	l, _ := NewMomentLayout([]string{"same", "flip", "const"}, []string{"g"})
	v := make([]float64, l.Dim())
	for _, a := range []float64{1, 0, 0, 1, 1} {
		if err := l.Add(v, []float64{a, 1 - a, 7}, []float64{a}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := l.Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ProxyCorrelations(m, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if ps[0].R != 1 || !ps[0].Flagged || ps[1].R != -1 || !ps[1].Flagged || !math.IsNaN(ps[2].R) || ps[2].Flagged {
		t.Errorf("ProxyCorrelations = %+v; want r 1, −1, NaN", ps)
	}
	if r := PearsonFromSums(1, 1, 1, 1, 1, 1); !math.IsNaN(r) {
		t.Errorf("PearsonFromSums(n=1) = %v; want NaN", r)
	}
}

func TestProxyRejects(t *testing.T) {
	for _, c := range [][2][]string{{nil, {"a"}}, {{"x"}, nil}, {{"x", "x"}, {"a"}}, {{"x"}, {"a", "a"}}} {
		if _, err := NewMomentLayout(c[0], c[1]); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("NewMomentLayout(%q, %q) error = %v", c[0], c[1], err)
		}
	}
	l, _ := NewMomentLayout([]string{"x"}, []string{"a"})
	v := make([]float64, l.Dim())
	if err := l.Add(v, []float64{math.NaN()}, []float64{1}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Add(NaN) error = %v", err)
	}
	if err := l.Add(v, []float64{1, 2}, []float64{1}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Add(len x) error = %v", err)
	}
	if err := l.Add(v[:2], []float64{1}, []float64{1}); !errors.Is(err, ErrDimension) {
		t.Errorf("Add(short v) error = %v", err)
	}
	for i, x := range v {
		if x != 0 {
			t.Errorf("rejected Add changed v[%d] = %v", i, x)
		}
	}
	if _, err := l.Decode([]float64{1}); !errors.Is(err, ErrDimension) {
		t.Errorf("Decode(short) error = %v", err)
	}
	if _, err := l.Decode([]float64{-2, 0, 0, 0, 0, 0}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Decode(n<0) error = %v", err)
	}
	if _, err := l.Decode([]float64{1, 0, 0, 0, 0, math.Inf(1)}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Decode(Inf) error = %v", err)
	}
	m, _ := l.Decode(make([]float64, l.Dim()))
	for _, th := range []float64{0, -0.1, 1.5, math.NaN()} {
		if _, err := ProxyCorrelations(m, th); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ProxyCorrelations(threshold %v) error = %v", th, err)
		}
	}
	m.SumXA = nil
	if _, err := ProxyCorrelations(m, 0.5); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("ProxyCorrelations(inconsistent) error = %v", err)
	}
}
