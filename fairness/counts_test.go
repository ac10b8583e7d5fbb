package fairness

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestAccumulateRejects(t *testing.T) {
	stats := map[string]*GroupStats{}
	tests := []struct {
		name         string
		label        int
		score, thres float64
	}{
		{"label 2", 2, 0.5, 0.5},
		{"label -1", -1, 0.5, 0.5},
		{"score NaN", 1, math.NaN(), 0.5},
		{"score > 1", 1, 1.01, 0.5},
		{"score < 0", 1, -0.01, 0.5},
		{"threshold NaN", 1, 0.5, math.NaN()},
		{"threshold Inf", 1, 0.5, math.Inf(1)},
	}
	for _, tt := range tests {
		if err := Accumulate(stats, "g", tt.label, tt.score, tt.thres); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Accumulate(%s) error = %v; want ErrInvalidInput", tt.name, err)
		}
	}
	if len(stats) != 0 {
		t.Errorf("rejected calls changed stats: %v", stats)
	}
	if err := Accumulate(nil, "g", 1, 0.5, 0.5); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Accumulate(nil map) error = %v; want ErrInvalidInput", err)
	}
}

func TestAccumulateHand(t *testing.T) {
	stats := map[string]*GroupStats{}
	rows := []struct {
		y int
		s float64
	}{{1, 0.9}, {1, 0.5}, {1, 0.2}, {0, 0.7}, {0, 0.1}, {0, 0.0}, {0, 1.0}}
	for _, r := range rows {
		if err := Accumulate(stats, "g", r.y, r.s, 0.5); err != nil {
			t.Fatal(err)
		}
	}
	g := stats["g"]
	// ŷ = score ≥ 0.5: TP {0.9, 0.5}, FN {0.2}, FP {0.7, 1.0}, TN {0.1, 0.0}.
	if want := (Counts{TP: 2, FP: 2, TN: 2, FN: 1}); g.Counts != want {
		t.Errorf("counts = %+v; want %+v", g.Counts, want)
	}
	want := map[int]Bin{9: {2, 1, 1.9}, 5: {1, 1, 0.5}, 2: {1, 1, 0.2}, 7: {1, 0, 0.7}, 1: {1, 0, 0.1}, 0: {1, 0, 0}}
	for i, b := range g.Calib {
		w := want[i]
		if b.N != w.N || b.Pos != w.Pos || !closeTo(b.ScoreSum, w.ScoreSum, 1e-15) {
			t.Errorf("bin %d = %+v; want %+v", i, b, w)
		}
	}
}

func TestLayoutRoundTrip(t *testing.T) {
	groups := []string{"sex=M", "sex=F", "race=A"}
	l, err := NewLayout(groups, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Dim(), 3*(4+9); got != want {
		t.Fatalf("Dim() = %d; want %d", got, want)
	}
	// Groups are sorted: race=A, sex=F, sex=M.
	if i, ok := l.Index(1, FieldFN); !ok || i != 13+3 {
		t.Errorf("Index(1, FN) = %d, %v; want 16, true", i, ok)
	}
	if i, ok := l.Index(2, FieldBins+8); !ok || i != 26+12 {
		t.Errorf("Index(2, bins+8) = %d, %v; want 38, true", i, ok)
	}
	for _, bad := range [][2]int{{-1, 0}, {3, 0}, {0, 13}, {0, -1}} {
		if _, ok := l.Index(bad[0], Field(bad[1])); ok {
			t.Errorf("Index(%d, %d) ok; want out of range", bad[0], bad[1])
		}
	}
	in := map[string]GroupStats{
		"sex=F": {Counts{1, 2, 3, 4}, []Bin{{1, 0, 0.1}, {2, 1, 0.9}, {7, 5, 6}}},
		"sex=M": {Counts{5, 6, 7, 8}, []Bin{{0, 0, 0}, {10, 4, 5}, {16, 10, 14}}},
	}
	v, err := l.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := l.Index(1, FieldFN); v[i] != 4 {
		t.Errorf("v[Index(sex=F, FN)] = %v; want 4", v[i])
	}
	out, err := l.Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 {
		t.Fatalf("Decode returned %d groups; want 3", len(out))
	}
	for k, want := range in {
		got := out[k]
		if got.Counts != want.Counts {
			t.Errorf("%s counts = %+v; want %+v", k, got.Counts, want.Counts)
		}
		for i := range want.Calib {
			if got.Calib[i] != want.Calib[i] {
				t.Errorf("%s bin %d = %+v; want %+v", k, i, got.Calib[i], want.Calib[i])
			}
		}
	}
	if z := out["race=A"]; z.N() != 0 || len(z.Calib) != 3 {
		t.Errorf("missing group decoded as %+v; want zeros with 3 bins", z)
	}
}

func TestLayoutRejects(t *testing.T) {
	if _, err := NewLayout(nil, 10); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("NewLayout(nil) error = %v", err)
	}
	if _, err := NewLayout([]string{"a", "a"}, 10); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("NewLayout(dup) error = %v", err)
	}
	if _, err := NewLayout([]string{"a"}, -1); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("NewLayout(deciles -1) error = %v", err)
	}
	l, _ := NewLayout([]string{"a", "b"}, 2)
	encodeBad := []map[string]GroupStats{
		{"c": {Calib: make([]Bin, 2)}},
		{"a": {Calib: make([]Bin, 3)}},
		{"a": {Counts: Counts{TP: -1}, Calib: make([]Bin, 2)}},
		{"a": {Counts: Counts{TP: math.NaN()}, Calib: make([]Bin, 2)}},
		{"a": {Calib: []Bin{{N: math.Inf(1)}, {}}}},
	}
	for i, in := range encodeBad {
		if _, err := l.Encode(in); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Encode(bad %d) error = %v; want ErrInvalidInput", i, err)
		}
	}
	if _, err := l.Decode(make([]float64, l.Dim()-1)); !errors.Is(err, ErrDimension) {
		t.Errorf("Decode(short) error = %v; want ErrDimension", err)
	}
	v := make([]float64, l.Dim())
	v[3] = -1
	if _, err := l.Decode(v); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Decode(negative) error = %v; want ErrInvalidInput", err)
	}
	v[3] = math.NaN()
	if _, err := l.Decode(v); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Decode(NaN) error = %v; want ErrInvalidInput", err)
	}
	v[3] = -1e-9
	out, err := l.Decode(v)
	if err != nil || out["a"].FN != 0 {
		t.Errorf("Decode(-1e-9) = %v, %v; want FN 0 and no error", out["a"].FN, err)
	}
}

// TestFederatedSumEqualsPooled checks that summing site vectors and decoding
// gives exactly the statistics of accumulating all rows in one place.
func TestFederatedSumEqualsPooled(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rows := hmdaLike(r, 3000)
	keys := map[string]bool{}
	for _, a := range rows {
		ks, err := IntersectionKeys(a.groups(), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			keys[k] = true
		}
	}
	var groups []string
	for k := range keys {
		groups = append(groups, k)
	}
	groups = append(groups, "race=Z") // a group no site has seen
	l, err := NewLayout(groups, DefaultDeciles)
	if err != nil {
		t.Fatal(err)
	}
	pooled := map[string]*GroupStats{}
	var vecs [][]float64
	for site := range 3 {
		local := map[string]*GroupStats{}
		for _, a := range rows[site*1000 : (site+1)*1000] {
			ks, _ := IntersectionKeys(a.groups(), 0)
			for _, k := range ks {
				if err := Accumulate(local, k, a.label, a.score, 0.5); err != nil {
					t.Fatal(err)
				}
				if err := Accumulate(pooled, k, a.label, a.score, 0.5); err != nil {
					t.Fatal(err)
				}
			}
		}
		v, err := l.Encode(deref(local))
		if err != nil {
			t.Fatal(err)
		}
		vecs = append(vecs, v)
	}
	got, err := l.Decode(sumVectors(vecs...))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range pooled {
		g := got[k]
		if g.Counts != want.Counts {
			t.Errorf("%s: federated %+v; pooled %+v", k, g.Counts, want.Counts)
		}
		for i := range want.Calib {
			if g.Calib[i].N != want.Calib[i].N || g.Calib[i].Pos != want.Calib[i].Pos ||
				!closeTo(g.Calib[i].ScoreSum, want.Calib[i].ScoreSum, 1e-12) {
				t.Errorf("%s bin %d: federated %+v; pooled %+v", k, i, g.Calib[i], want.Calib[i])
			}
		}
	}
	if got["race=Z"].N() != 0 {
		t.Errorf("unseen group has N = %v", got["race=Z"].N())
	}
	// Every record is in exactly one race group: the race blocks sum to n.
	var n float64
	for _, k := range KeysOver(l.Groups(), "race") {
		n += got[k].N()
	}
	if n != float64(len(rows)) {
		t.Errorf("Σ N over race groups = %v; want %d", n, len(rows))
	}
}

func deref(m map[string]*GroupStats) map[string]GroupStats {
	out := make(map[string]GroupStats, len(m))
	for k, v := range m {
		out[k] = *v
	}
	return out
}
