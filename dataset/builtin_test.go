package dataset

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Checksums of the CSV files, copied from shared/datasets/README.md.
var readmeSHA256 = map[string]string{
	"fertility":     "5de36928cb1cb537618cd160344ed7b8574fc5035608f35ccc12993a176fc4d7",
	"flchain":       "4f092227361eb71281c2f7d35c02ba7f5389fe23e1f25083447dcb6a2aa86265",
	"german_credit": "508ddebd43cb8bd450db99754df257b7a4afa71e679196a0a78b03a222f99783",
	"hmda":          "9a1848493077a5ba94cafcb6ad0b83fa7a2aaefd877c950964d0f508acf482aa",
	"pima_diabetes": "faaf583f3fe15dc4028f6698775f52b749083093bd0387535ea19e368887d66a",
}

func TestBuiltinsMatchREADMEChecksums(t *testing.T) {
	infos := Builtins()
	if len(infos) != len(readmeSHA256) {
		t.Fatalf("Builtins() has %d entries, want %d", len(infos), len(readmeSHA256))
	}
	for _, info := range infos {
		b, err := Builtin(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := b.Open()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != readmeSHA256[info.Name] {
			t.Errorf("%s: sha256 %s, README says %s", info.Name, got, readmeSHA256[info.Name])
		}
		if err := info.Schema.Validate(); err != nil {
			t.Errorf("%s: default schema invalid: %v", info.Name, err)
		}
	}
}

func TestBuiltinUnknown(t *testing.T) {
	_, err := Builtin("adult")
	if !errors.Is(err, ErrUnknownDataset) || !strings.Contains(err.Error(), `"hmda"`) {
		t.Errorf("Builtin(adult) error = %v, want ErrUnknownDataset listing names", err)
	}
}

// group counts rows with protected value matching pred, and positives among them.
func group(t *testing.T, tb *Table, col string, pred func(string) bool) (n, pos int) {
	t.Helper()
	vals, err := tb.Protected(col)
	if err != nil {
		t.Fatal(err)
	}
	y := tb.Labels()
	for i, v := range vals {
		if pred(v) {
			n++
			pos += y[i]
		}
	}
	return n, pos
}

func is(s string) func(string) bool { return func(v string) bool { return v == s } }

func atMost(limit int) func(string) bool {
	return func(v string) bool { a, _ := strconv.Atoi(v); return a <= limit }
}

// TestBuiltinCountsMatchREADME checks rows, positives and group base rates
// against the tables of shared/datasets/README.md.
func TestBuiltinCountsMatchREADME(t *testing.T) {
	type grp struct {
		col      string
		pred     func(string) bool
		n, pos   int
		posFloat float64 // used when the README gives only a rate (pos < 0)
	}
	cases := []struct {
		name      string
		rows, pos int
		rate      float64
		groups    []grp
		missing   map[string]int
		noFeature []string
	}{
		{name: "german_credit", rows: 1000, pos: 700, groups: []grp{
			{col: "sex", pred: is("female"), n: 310, pos: 201},
			{col: "Age", pred: atMost(25), n: 190, pos: 110},
			{col: "ForeignWorker", pred: is("1"), n: 963, pos: 667},
		}},
		{name: "hmda", rows: 2380, pos: 285, groups: []grp{
			{col: "afam", pred: is("yes"), n: 339, pos: 96},
			{col: "single", pred: is("yes"), n: 936, pos: 141},
		}},
		{name: "pima_diabetes", rows: 768, pos: 268, groups: []grp{
			{col: "age", pred: atMost(25), n: 267, pos: 45},
			{col: "age", pred: atMost(29), n: 396, pos: 84},
		}, missing: map[string]int{"glucose": 5, "pressure": 35, "triceps": 227, "insulin": 374, "mass": 11, "pedigree": 0}},
		{name: "flchain", rows: 7874, pos: 2169, groups: []grp{
			{col: "sex", pred: is("F"), n: 4350, pos: 1165},
			{col: "sex", pred: is("M"), n: 3524, pos: 1004},
		}, missing: map[string]int{"creatinine": 1350}, noFeature: []string{"futime", "chapter"}},
		{name: "fertility", rows: 254654, pos: -1, rate: 0.381, groups: []grp{
			{col: "afam", pred: is("yes"), n: 13156, pos: -1, posFloat: 0.458},
			{col: "hispanic", pred: is("yes"), n: 18897, pos: -1, posFloat: 0.514},
			{col: "other", pred: is("yes"), n: 14348, pos: -1, posFloat: 0.463},
			{col: "age", pred: atMost(25), n: 26118, pos: -1, posFloat: 0.295},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Builtin(c.name)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			tb, err := b.Load()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("loaded %d rows in %v", tb.Len(), time.Since(start))
			if tb.Len() != c.rows || b.Rows != c.rows {
				t.Errorf("rows: loaded %d, info %d, README %d", tb.Len(), b.Rows, c.rows)
			}
			rate := float64(tb.Positives()) / float64(tb.Len())
			if c.pos >= 0 && tb.Positives() != c.pos {
				t.Errorf("positives %d, README %d", tb.Positives(), c.pos)
			}
			if c.pos < 0 && math.Abs(rate-c.rate) > 0.0005 {
				t.Errorf("positive rate %.4f, README %.3f", rate, c.rate)
			}
			if b.Positives != tb.Positives() {
				t.Errorf("info Positives %d, loaded %d", b.Positives, tb.Positives())
			}
			for _, g := range c.groups {
				n, pos := group(t, tb, g.col, g.pred)
				if n != g.n {
					t.Errorf("group %s: n = %d, README %d", g.col, n, g.n)
				}
				if g.pos >= 0 && pos != g.pos {
					t.Errorf("group %s: positives = %d, README %d", g.col, pos, g.pos)
				}
				if g.pos < 0 && math.Abs(float64(pos)/float64(n)-g.posFloat) > 0.0005 {
					t.Errorf("group %s: rate %.4f, README %.3f", g.col, float64(pos)/float64(n), g.posFloat)
				}
			}
			enc, err := NewEncoder(tb)
			if err != nil {
				t.Fatal(err)
			}
			x, err := enc.Encode(tb)
			if err != nil {
				t.Fatal(err)
			}
			if err := x.Validate(2); err != nil {
				t.Fatal(err)
			}
			names := enc.FeatureNames()
			for col, want := range c.missing {
				j := slices.Index(names, col)
				if j < 0 {
					t.Fatalf("feature %q missing from %v", col, names)
				}
				got := 0
				for i := 0; i < x.N; i++ {
					if math.IsNaN(x.X[i*x.D+j]) {
						got++
					}
				}
				if got != want {
					t.Errorf("%s: %d missing, README %d", col, got, want)
				}
			}
			for _, col := range c.noFeature {
				for _, n := range names {
					if n == col || strings.HasPrefix(n, col+"=") {
						t.Errorf("leakage column %q is a feature (%q)", col, n)
					}
				}
			}
		})
	}
}

// TestHMDAEncodingIndependent re-reads the raw CSV with encoding/csv and
// recomputes every encoded cell without going through Load.
func TestHMDAEncodingIndependent(t *testing.T) {
	b, err := Builtin("hmda")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncoder(tb)
	if err != nil {
		t.Fatal(err)
	}
	x, err := enc.Encode(tb)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := b.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	recs, err := csv.NewReader(rc).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, rows := recs[0], recs[1:]
	// 6 numeric columns + 7 yes/no columns = 6 + 14 features; deny is the label.
	if x.D != 20 || x.N != len(rows) {
		t.Fatalf("D, N = %d, %d; want 20, %d", x.D, x.N, len(rows))
	}
	names := enc.FeatureNames()
	for i, rec := range rows {
		for c, h := range header {
			v := rec[c]
			if h == "deny" {
				if want := map[string]int{"yes": 1, "no": 0}[v]; x.Y[i] != want {
					t.Fatalf("row %d: Y = %d, raw %q", i, x.Y[i], v)
				}
				continue
			}
			if j := slices.Index(names, h); j >= 0 {
				f, _ := strconv.ParseFloat(v, 64)
				if x.X[i*x.D+j] != f {
					t.Fatalf("row %d %s: %v, raw %q", i, h, x.X[i*x.D+j], v)
				}
				continue
			}
			for _, lv := range []string{"no", "yes"} {
				j := slices.Index(names, h+"="+lv)
				want := 0.0
				if v == lv {
					want = 1
				}
				if j < 0 || x.X[i*x.D+j] != want {
					t.Fatalf("row %d %s=%s: feature index %d, want value %v", i, h, lv, j, want)
				}
			}
		}
	}
}

func BenchmarkLoadFertility(b *testing.B) {
	e, err := Builtin("fertility")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := e.Load(); err != nil {
			b.Fatal(err)
		}
	}
}
