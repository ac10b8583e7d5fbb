package dataset

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// checkCover fails unless parts hold every position 0..n-1 exactly once.
func checkCover(t *testing.T, what string, parts [][]int, n int) {
	t.Helper()
	seen := make([]int, n)
	for _, p := range parts {
		if !slices.IsSorted(p) {
			t.Errorf("%s: part not sorted", what)
		}
		for _, i := range p {
			if i < 0 || i >= n {
				t.Fatalf("%s: index %d out of [0,%d)", what, i, n)
			}
			seen[i]++
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("%s: position %d appears %d times", what, i, c)
		}
	}
}

// labels returns n labels with about posRate positives, from a fixed seed.
func labels(n int, posRate float64, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 1))
	y := make([]int, n)
	for i := range y {
		if r.Float64() < posRate {
			y[i] = 1
		}
	}
	return y
}

func TestPartitionsCoverAndDeterministic(t *testing.T) {
	y := labels(3001, 0.3, 5)
	n := len(y)
	gens := map[string]func(seed uint64) ([][]int, error){
		"iid":          func(s uint64) ([][]int, error) { return IID(n, 13, s) },
		"dirichlet0.1": func(s uint64) ([][]int, error) { return Dirichlet(y, 13, 0.1, s) },
		"dirichlet10":  func(s uint64) ([][]int, error) { return Dirichlet(y, 13, 10, s) },
		"quantity0.3":  func(s uint64) ([][]int, error) { return Quantity(n, 13, 0.3, s) },
		"quantity0.01": func(s uint64) ([][]int, error) { return Quantity(n, 13, 0.01, s) },
	}
	for name, gen := range gens {
		a, err := gen(42)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(a) != 13 {
			t.Fatalf("%s: %d parts, want 13", name, len(a))
		}
		checkCover(t, name, a, n)
		b, _ := gen(42)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: same seed, different partition", name)
		}
		c, _ := gen(43)
		if reflect.DeepEqual(a, c) {
			t.Errorf("%s: seeds 42 and 43 gave the same partition", name)
		}
		for i, p := range a {
			min := 1
			if strings.HasPrefix(name, "dirichlet") {
				min = DefaultDirichletMinRows
			}
			if len(p) < min {
				t.Errorf("%s: client %d has %d rows, want >= %d", name, i, len(p), min)
			}
		}
	}
}

func TestIIDSizes(t *testing.T) {
	parts, err := IID(10, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := []int{len(parts[0]), len(parts[1]), len(parts[2]), len(parts[3])}
	if !slices.Equal(got, []int{3, 3, 2, 2}) {
		t.Errorf("IID(10,4) sizes = %v, want [3 3 2 2]", got)
	}
}

// meanKL is the mean over clients of KL(client label distribution || global).
func meanKL(y []int, parts [][]int) float64 {
	g := 0.0
	for _, v := range y {
		g += float64(v)
	}
	g /= float64(len(y))
	kl := 0.0
	for _, p := range parts {
		q := 0.0
		for _, i := range p {
			q += float64(y[i])
		}
		q /= float64(len(p))
		for _, pr := range [][2]float64{{q, g}, {1 - q, 1 - g}} {
			if pr[0] > 0 {
				kl += pr[0] * math.Log(pr[0]/pr[1])
			}
		}
	}
	return kl / float64(len(parts))
}

// With Dir(alpha) class proportions, a client's share of each class has
// variance (1/k)(1-1/k)/(k*alpha+1), so label skew falls as alpha grows;
// IID shares have variance O(1/n_client). Averaged over seeds, the ordering
// must hold with a wide margin.
func TestDirichletSkewDecreasesWithAlpha(t *testing.T) {
	y := labels(5000, 0.3, 9)
	avg := func(alpha float64) float64 {
		s := 0.0
		for seed := uint64(0); seed < 10; seed++ {
			parts, err := Dirichlet(y, 10, alpha, seed)
			if err != nil {
				t.Fatal(err)
			}
			s += meanKL(y, parts)
		}
		return s / 10
	}
	small, mid, large := avg(0.1), avg(1), avg(100)
	if !(small > 2*mid && mid > 2*large) {
		t.Errorf("mean KL: alpha 0.1 -> %v, 1 -> %v, 100 -> %v; want strictly decreasing by > 2x", small, mid, large)
	}
	// IID clients of 500 rows: E[KL] ~ (C-1)/(2*500) = 0.001; alpha=100 is close to that.
	if large > 0.01 {
		t.Errorf("alpha 100 mean KL = %v, want < 0.01 (near IID)", large)
	}
}

func TestQuantitySkewDecreasesWithAlpha(t *testing.T) {
	cv := func(alpha float64) float64 {
		s := 0.0
		for seed := uint64(0); seed < 10; seed++ {
			parts, err := Quantity(10000, 10, alpha, seed)
			if err != nil {
				t.Fatal(err)
			}
			mean, v := 1000.0, 0.0
			for _, p := range parts {
				v += (float64(len(p)) - mean) * (float64(len(p)) - mean)
			}
			s += math.Sqrt(v/10) / mean
		}
		return s / 10
	}
	// Dir(alpha) shares have coefficient of variation sqrt((k-1)/(k*alpha+1)):
	// about 2.1 at alpha 0.1 and 0.09 at alpha 100.
	if small, large := cv(0.1), cv(100); !(small > 1 && large < 0.2) {
		t.Errorf("size CV: alpha 0.1 -> %v (want > 1), alpha 100 -> %v (want < 0.2)", small, large)
	}
}

func TestDirichletTinyAlphaTopUp(t *testing.T) {
	y := labels(200, 0.5, 3)
	parts, err := DirichletMin(y, 20, 0.001, 10, 7)
	if err != nil {
		t.Fatal(err)
	}
	checkCover(t, "tiny alpha", parts, 200)
	for i, p := range parts {
		if len(p) != 10 {
			t.Errorf("client %d has %d rows; 20 clients x min 10 of 200 rows forces exactly 10", i, len(p))
		}
	}
}

func TestPartitionErrors(t *testing.T) {
	y := labels(50, 0.5, 1)
	for name, err := range map[string]error{
		"iid k=0":       second(IID(5, 0, 1)),
		"iid k>n":       second(IID(5, 6, 1)),
		"dirichlet a=0": second(Dirichlet(y, 2, 0, 1)),
		"dirichlet NaN": second(Dirichlet(y, 2, math.NaN(), 1)),
		"dirichlet min": second(DirichletMin(y, 5, 1, 11, 1)),
		"dirichlet y<0": second(Dirichlet([]int{0, -1}, 1, 1, 1)),
		"quantity inf":  second(Quantity(5, 2, math.Inf(1), 1)),
	} {
		if !errors.Is(err, ErrPartition) {
			t.Errorf("%s: error = %v, want ErrPartition", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestByColumn(t *testing.T) {
	parts, names := ByColumn([]string{"b", "a", "", "b", "a", "a"})
	if !slices.Equal(names, []string{"", "a", "b"}) {
		t.Fatalf("names = %q, want [\"\" a b]", names)
	}
	want := [][]int{{2}, {1, 4, 5}, {0, 3}}
	if !reflect.DeepEqual(parts, want) {
		t.Errorf("parts = %v, want %v", parts, want)
	}
}

func TestParsePartitionSpec(t *testing.T) {
	good := map[string]PartitionSpec{
		"iid":           {Kind: "iid"},
		"dirichlet:0.5": {Kind: "dirichlet", Alpha: 0.5},
		"quantity:1":    {Kind: "quantity", Alpha: 1},
		"column:afam":   {Kind: "column", Column: "afam"},
	}
	for s, want := range good {
		got, err := ParsePartitionSpec(s)
		if err != nil || got != want {
			t.Errorf("ParsePartitionSpec(%q) = %+v, %v; want %+v", s, got, err, want)
		}
		if got.String() != s {
			t.Errorf("String() = %q, want %q", got.String(), s)
		}
	}
	for _, s := range []string{"", "IID", "iid:3", "dirichlet", "dirichlet:", "dirichlet:x", "dirichlet:-1", "quantity:0", "column:", "shards:2"} {
		if _, err := ParsePartitionSpec(s); !errors.Is(err, ErrPartition) {
			t.Errorf("ParsePartitionSpec(%q) error = %v, want ErrPartition", s, err)
		}
	}
}

// TestSplitThenPartition runs the simulation pipeline on hmda: the test rows
// are disjoint from every client's rows and the clients cover the training rows.
func TestSplitThenPartition(t *testing.T) {
	b, err := Builtin("hmda")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	trainIdx, testIdx, err := TrainTestSplit(tb.Labels(), 0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	train, err := tb.Subset(trainIdx)
	if err != nil {
		t.Fatal(err)
	}
	isTest := map[int]bool{}
	for _, i := range testIdx {
		isTest[i] = true
	}
	for _, spec := range []string{"iid", "dirichlet:0.5", "quantity:1", "column:afam"} {
		parts, names, err := Partition(spec, train, 8, 3)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if len(parts) != len(names) {
			t.Fatalf("%s: %d parts, %d names", spec, len(parts), len(names))
		}
		checkCover(t, spec, parts, train.Len())
		for _, p := range parts {
			for _, pos := range p {
				if isTest[trainIdx[pos]] {
					t.Fatalf("%s: test row %d assigned to a client", spec, trainIdx[pos])
				}
			}
		}
		if spec == "column:afam" {
			afam, _ := train.Protected("afam")
			if !slices.Equal(names, []string{"no", "yes"}) {
				t.Fatalf("column names = %v", names)
			}
			for k, p := range parts {
				for _, pos := range p {
					if afam[pos] != names[k] {
						t.Fatalf("row %d with afam=%s in site %s", pos, afam[pos], names[k])
					}
				}
			}
		}
	}
	if _, _, err := Partition("column:nope", train, 8, 3); !errors.Is(err, ErrColumn) {
		t.Errorf("unknown column error = %v, want ErrColumn", err)
	}
	if _, _, err := Partition("iid", train, 0, 3); !errors.Is(err, ErrPartition) {
		t.Errorf("k=0 error = %v, want ErrPartition", err)
	}
}
