package fairness

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// ratWeights is the exact Kamiran–Calders formula in rationals.
func ratWeights(counts map[string][2]int64) map[string][2]*big.Rat {
	var ny [2]int64
	for _, c := range counts {
		ny[0] += c[0]
		ny[1] += c[1]
	}
	n := ny[0] + ny[1]
	out := map[string][2]*big.Rat{}
	for k, c := range counts {
		ng := c[0] + c[1]
		var w [2]*big.Rat
		for y := range 2 {
			w[y] = new(big.Rat)
			if c[y] > 0 {
				w[y].SetFrac(big.NewInt(ng*ny[y]), big.NewInt(n*c[y]))
			}
		}
		out[k] = w
	}
	return out
}

// TestReweighingIndependence: with exact arithmetic, weighted P(y|g) = P(y)
// for every group and each group keeps its size; the float weights agree
// with the exact ones to rounding.
func TestReweighingIndependence(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for trial := range 200 {
		counts := map[string][2]int64{}
		for g := range 2 + r.IntN(6) {
			counts[string(rune('a'+g))] = [2]int64{1 + r.Int64N(5000), 1 + r.Int64N(5000)}
		}
		exact := ratWeights(counts)
		var ny [2]int64
		for _, c := range counts {
			ny[0] += c[0]
			ny[1] += c[1]
		}
		py1 := big.NewRat(ny[1], ny[0]+ny[1])
		for k, c := range counts {
			w := exact[k]
			wc0 := new(big.Rat).Mul(w[0], big.NewRat(c[0], 1))
			wc1 := new(big.Rat).Mul(w[1], big.NewRat(c[1], 1))
			tot := new(big.Rat).Add(wc0, wc1)
			if tot.Cmp(big.NewRat(c[0]+c[1], 1)) != 0 {
				t.Fatalf("trial %d group %s: weighted size %v; want %d", trial, k, tot, c[0]+c[1])
			}
			if p := new(big.Rat).Quo(wc1, tot); p.Cmp(py1) != 0 {
				t.Fatalf("trial %d group %s: weighted P(y=1|g) = %v; want P(y=1) = %v", trial, k, p, py1)
			}
		}
		fc := map[string][2]float64{}
		for k, c := range counts {
			fc[k] = [2]float64{float64(c[0]), float64(c[1])}
		}
		got, err := ReweighingWeights(fc)
		if err != nil {
			t.Fatal(err)
		}
		for k, w := range exact {
			for y := range 2 {
				want, _ := w[y].Float64()
				if !closeTo(got[k][y], want, 1e-14) {
					t.Fatalf("trial %d: w(%s, %d) = %v; exact %v", trial, k, y, got[k][y], want)
				}
			}
			// Float property: weighted P(y=1|g) equals P(y=1) to rounding.
			c := fc[k]
			p := got[k][1] * c[1] / (got[k][0]*c[0] + got[k][1]*c[1])
			if want, _ := py1.Float64(); !closeTo(p, want, 1e-13) {
				t.Fatalf("trial %d group %s: float P_w(y=1|g) = %v; want %v", trial, k, p, want)
			}
		}
	}
}

func TestReweighingHand(t *testing.T) {
	// n = 20; n_y0 = 10, n_y1 = 10; a: (6, 2), b: (4, 8).
	// w(a,0) = 8·10/(20·6) = 2/3, w(a,1) = 8·10/(20·2) = 2,
	// w(b,0) = 12·10/(20·4) = 1.5, w(b,1) = 12·10/(20·8) = 0.75.
	got, err := ReweighingWeights(map[string][2]float64{"a": {6, 2}, "b": {4, 8}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]float64{"a": {2.0 / 3, 2}, "b": {1.5, 0.75}}
	for k, w := range want {
		for y := range 2 {
			if !closeTo(got[k][y], w[y], 1e-15) {
				t.Errorf("w(%s, %d) = %v; want %v", k, y, got[k][y], w[y])
			}
		}
	}
	// Already independent → all weights 1.
	got, _ = ReweighingWeights(map[string][2]float64{"a": {3, 1}, "b": {6, 2}})
	for k, w := range got {
		if !closeTo(w[0], 1, 1e-15) || !closeTo(w[1], 1, 1e-15) {
			t.Errorf("independent data: w(%s) = %v; want [1 1]", k, w)
		}
	}
	// Empty cell → weight 0.
	got, _ = ReweighingWeights(map[string][2]float64{"a": {5, 0}, "b": {5, 5}})
	if got["a"][1] != 0 || !closeTo(got["a"][0], 5*10/(15.0*5), 1e-15) {
		t.Errorf("w(a) = %v; want [2/3 0]", got["a"])
	}
}

func TestReweighingRejects(t *testing.T) {
	bad := []map[string][2]float64{
		nil,
		{"a": {0, 0}},
		{"a": {-1, 2}},
		{"a": {math.NaN(), 2}},
		{"a": {math.Inf(1), 2}},
		{"a": {math.MaxFloat64, math.MaxFloat64}},
	}
	for i, c := range bad {
		if _, err := ReweighingWeights(c); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ReweighingWeights(bad %d) error = %v; want ErrInvalidInput", i, err)
		}
	}
}

// TestFederatedReweighing sums n(g, y) from sites through LabelLayout and
// checks the weights equal those from pooled raw counts, and that the
// weighted rows of every site together satisfy independence.
func TestFederatedReweighing(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	rows := hmdaLike(r, 4000)
	key := func(a applicant) string { return GroupKey(a.groups()) }
	var groups []string
	for _, race := range []string{"A", "B", "C"} {
		for _, sex := range []string{"F", "M"} {
			groups = append(groups, GroupKey([]Group{{"race", race}, {"sex", sex}}))
		}
	}
	l, err := NewLabelLayout(groups)
	if err != nil {
		t.Fatal(err)
	}
	var vecs [][]float64
	raw := map[string][2]int64{}
	for site := range 4 {
		v := make([]float64, l.Dim())
		for _, a := range rows[site*1000 : (site+1)*1000] {
			if err := l.Add(v, key(a), a.label); err != nil {
				t.Fatal(err)
			}
			c := raw[key(a)]
			c[a.label]++
			raw[key(a)] = c
		}
		vecs = append(vecs, v)
	}
	counts, err := l.Decode(sumVectors(vecs...))
	if err != nil {
		t.Fatal(err)
	}
	w, err := ReweighingWeights(counts)
	if err != nil {
		t.Fatal(err)
	}
	exact := ratWeights(raw)
	var wn, wpos float64
	byGroup := map[string][2]float64{}
	for _, a := range rows {
		ex, _ := exact[key(a)][a.label].Float64()
		if got := w[key(a)][a.label]; !closeTo(got, ex, 1e-14) {
			t.Fatalf("w(%s, %d) = %v; exact %v", key(a), a.label, got, ex)
		}
		ww := w[key(a)][a.label]
		b := byGroup[key(a)]
		b[a.label] += ww
		byGroup[key(a)] = b
		wn += ww
		wpos += ww * float64(a.label)
	}
	var pos int
	for _, a := range rows {
		pos += a.label
	}
	py := float64(pos) / float64(len(rows))
	if !closeTo(wn, float64(len(rows)), 1e-12) || !closeTo(wpos/wn, py, 1e-12) {
		t.Errorf("weighted n %v, P(y=1) %v; want %d, %v", wn, wpos/wn, len(rows), py)
	}
	for k, b := range byGroup {
		if p := b[1] / (b[0] + b[1]); !closeTo(p, py, 1e-12) {
			t.Errorf("weighted P(y=1 | %s) = %v; want %v", k, p, py)
		}
	}
}

func TestLabelLayout(t *testing.T) {
	if _, err := NewLabelLayout([]string{"a", "a"}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("NewLabelLayout(dup) error = %v", err)
	}
	l, _ := NewLabelLayout([]string{"b", "a"})
	v, err := l.Encode(map[string][2]float64{"b": {1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0, 0, 1, 2}; len(v) != 4 || v[2] != want[2] || v[3] != want[3] {
		t.Errorf("Encode = %v; want %v", v, want)
	}
	if err := l.Add(v, "c", 1); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Add(unknown) error = %v", err)
	}
	if err := l.Add(v, "a", 2); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Add(label 2) error = %v", err)
	}
	if err := l.Add(v[:3], "a", 1); !errors.Is(err, ErrDimension) {
		t.Errorf("Add(short) error = %v", err)
	}
	if _, err := l.Encode(map[string][2]float64{"a": {-1, 0}}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Encode(negative) error = %v", err)
	}
	if _, err := l.Decode([]float64{0, 0, 0}); !errors.Is(err, ErrDimension) {
		t.Errorf("Decode(short) error = %v", err)
	}
	if _, err := l.Decode([]float64{0, math.NaN(), 0, 0}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Decode(NaN) error = %v", err)
	}
	got, err := l.Decode(v)
	if err != nil || got["b"] != [2]float64{1, 2} || got["a"] != [2]float64{} {
		t.Errorf("Decode = %v, %v", got, err)
	}
}
