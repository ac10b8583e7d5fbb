package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// DefaultDirichletMinRows is the per-client minimum that Dirichlet enforces
// (capped at n/k).
const DefaultDirichletMinRows = 10

func checkClients(n, k int) error {
	if k < 1 {
		return fmt.Errorf("%w: %d clients, need at least 1", ErrPartition, k)
	}
	if k > n {
		return fmt.Errorf("%w: %d clients for %d rows; every client needs a row", ErrPartition, k, n)
	}
	return nil
}

func checkAlpha(alpha float64) error {
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return fmt.Errorf("%w: Dirichlet concentration %v must be a positive finite number", ErrPartition, alpha)
	}
	return nil
}

func sortParts(parts [][]int) [][]int {
	for _, p := range parts {
		slices.Sort(p)
	}
	return parts
}

// IID splits rows 0..n-1 uniformly at random into k parts whose sizes
// differ by at most one.
func IID(n, k int, seed uint64) ([][]int, error) {
	if err := checkClients(n, k); err != nil {
		return nil, err
	}
	perm := newRand(seed).Perm(n)
	parts := make([][]int, k)
	at := 0
	for c := range parts {
		sz := n / k
		if c < n%k {
			sz++
		}
		parts[c] = slices.Clone(perm[at : at+sz])
		at += sz
	}
	return sortParts(parts), nil
}

// Dirichlet is DirichletMin with minRows = min(DefaultDirichletMinRows, n/k).
func Dirichlet(y []int, k int, alpha float64, seed uint64) ([][]int, error) {
	return DirichletMin(y, k, alpha, min(DefaultDirichletMinRows, len(y)/max(k, 1)), seed)
}

// DirichletMin produces label skew (Hsu et al. 2019): for each class, the
// class's rows are shuffled and split among the k clients in proportions
// drawn from Dir(alpha, ..., alpha). Small alpha gives each client few
// classes; large alpha approaches IID. Afterwards, while some client has
// fewer than minRows rows, the lowest-numbered smallest client takes a
// uniformly chosen row from the lowest-numbered largest client; this
// deterministic top-up always terminates because k*minRows <= n is required,
// and it slightly softens the skew of tiny clients.
func DirichletMin(y []int, k int, alpha float64, minRows int, seed uint64) ([][]int, error) {
	if err := checkClients(len(y), k); err != nil {
		return nil, err
	}
	if err := checkAlpha(alpha); err != nil {
		return nil, err
	}
	if minRows < 0 || minRows*k > len(y) {
		return nil, fmt.Errorf("%w: minimum %d rows for each of %d clients exceeds %d rows", ErrPartition, minRows, k, len(y))
	}
	groups, err := classIndex(y)
	if err != nil {
		return nil, err
	}
	r := newRand(seed)
	parts := make([][]int, k)
	for _, g := range groups {
		r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		p := sampleDirichlet(r, k, alpha)
		cum, prev := 0.0, 0
		for c := range parts {
			cum += p[c]
			end := int(math.Round(cum * float64(len(g))))
			if c == k-1 {
				end = len(g)
			}
			end = min(max(end, prev), len(g))
			parts[c] = append(parts[c], g[prev:end]...)
			prev = end
		}
	}
	for {
		small, large := 0, 0
		for c := range parts {
			if len(parts[c]) < len(parts[small]) {
				small = c
			}
			if len(parts[c]) > len(parts[large]) {
				large = c
			}
		}
		if len(parts[small]) >= minRows {
			break
		}
		d := parts[large]
		i := r.IntN(len(d))
		parts[small] = append(parts[small], d[i])
		d[i] = d[len(d)-1]
		parts[large] = d[:len(d)-1]
	}
	return sortParts(parts), nil
}

// Quantity produces quantity skew: client sizes are 1 + the n-k remaining
// rows split in proportions drawn from Dir(alpha, ..., alpha) (largest
// remainder rounding, ties to the lower client), so every client has at
// least one row. Rows are assigned to clients uniformly at random.
func Quantity(n, k int, alpha float64, seed uint64) ([][]int, error) {
	if err := checkClients(n, k); err != nil {
		return nil, err
	}
	if err := checkAlpha(alpha); err != nil {
		return nil, err
	}
	r := newRand(seed)
	p := sampleDirichlet(r, k, alpha)
	rest := n - k
	sizes := make([]int, k)
	frac := make([]float64, k)
	used := 0
	for c := range sizes {
		share := p[c] * float64(rest)
		sizes[c] = int(math.Floor(share))
		frac[c] = share - float64(sizes[c])
		used += sizes[c]
	}
	order := make([]int, k)
	for c := range order {
		order[c] = c
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case frac[a] > frac[b]:
			return -1
		case frac[a] < frac[b]:
			return 1
		}
		return 0
	})
	for i := 0; used < rest; i++ {
		sizes[order[i%k]]++
		used++
	}
	perm := r.Perm(n)
	parts := make([][]int, k)
	at := 0
	for c := range parts {
		sz := sizes[c] + 1
		parts[c] = slices.Clone(perm[at : at+sz])
		at += sz
	}
	return sortParts(parts), nil
}

// ByColumn makes one part per distinct value of values (the missing value ""
// included, as its own group), with the values sorted; parts[i] holds the
// rows whose value is names[i].
func ByColumn(values []string) (parts [][]int, names []string) {
	by := map[string][]int{}
	for i, v := range values {
		by[v] = append(by[v], i)
	}
	names = sortedKeys(by)
	parts = make([][]int, len(names))
	for i, n := range names {
		parts[i] = by[n]
	}
	return parts, names
}

// sampleDirichlet draws from Dir(alpha, ..., alpha) of dimension k. It works
// with log-gamma variates so that tiny alpha does not underflow to 0/0.
func sampleDirichlet(r *rand.Rand, k int, alpha float64) []float64 {
	l := make([]float64, k)
	hi := math.Inf(-1)
	for i := range l {
		l[i] = logGamma(r, alpha)
		hi = math.Max(hi, l[i])
	}
	sum := 0.0
	for i := range l {
		l[i] = math.Exp(l[i] - hi)
		sum += l[i]
	}
	for i := range l {
		l[i] /= sum
	}
	return l
}

// logGamma returns the log of a Gamma(a, 1) variate (Marsaglia & Tsang 2000,
// with the U^(1/a) boost for a < 1).
func logGamma(r *rand.Rand, a float64) float64 {
	if a < 1 {
		return logGamma(r, a+1) + math.Log(1-r.Float64())/a
	}
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - r.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return math.Log(d * v)
		}
	}
}

// PartitionSpec is a parsed partition flag: "iid", "dirichlet:ALPHA",
// "quantity:ALPHA" or "column:NAME".
type PartitionSpec struct {
	Kind   string  // "iid", "dirichlet", "quantity" or "column"
	Alpha  float64 // dirichlet and quantity
	Column string  // column
}

// ParsePartitionSpec parses and validates a partition flag.
func ParsePartitionSpec(s string) (PartitionSpec, error) {
	kind, arg, hasArg := strings.Cut(s, ":")
	p := PartitionSpec{Kind: kind}
	switch kind {
	case "iid":
		if hasArg {
			return PartitionSpec{}, fmt.Errorf("%w: %q: iid takes no argument", ErrPartition, s)
		}
	case "dirichlet", "quantity":
		a, err := strconv.ParseFloat(arg, 64)
		if !hasArg || err != nil {
			return PartitionSpec{}, fmt.Errorf("%w: %q: want %s:ALPHA with a number ALPHA > 0, e.g. %s:0.5", ErrPartition, s, kind, kind)
		}
		p.Alpha = a
	case "column":
		p.Column = arg
	default:
		return PartitionSpec{}, fmt.Errorf("%w: unknown partition %q; want iid, dirichlet:ALPHA, quantity:ALPHA or column:NAME", ErrPartition, s)
	}
	if err := p.Validate(); err != nil {
		return PartitionSpec{}, fmt.Errorf("%q: %w", s, err)
	}
	return p, nil
}

// Validate checks the kind and its argument.
func (p PartitionSpec) Validate() error {
	switch p.Kind {
	case "iid":
		return nil
	case "dirichlet", "quantity":
		return checkAlpha(p.Alpha)
	case "column":
		if p.Column == "" {
			return fmt.Errorf("%w: column partition needs a column name, e.g. column:afam", ErrPartition)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown partition kind %q", ErrPartition, p.Kind)
}

// String returns the flag form, which ParsePartitionSpec accepts.
func (p PartitionSpec) String() string {
	switch p.Kind {
	case "dirichlet", "quantity":
		return p.Kind + ":" + strconv.FormatFloat(p.Alpha, 'g', -1, 64)
	case "column":
		return "column:" + p.Column
	}
	return p.Kind
}

// Partition splits the rows of t (normally the training rows, obtained with
// Table.Subset) among clients as spec says. It returns positions 0..t.Len()-1
// grouped per client, each sorted, together with a name per client:
// "client-0", "client-1", ... or, for column:NAME, the column values. k is
// ignored for column partitions (one client per distinct value).
func Partition(spec string, t *Table, k int, seed uint64) (parts [][]int, names []string, err error) {
	p, err := ParsePartitionSpec(spec)
	if err != nil {
		return nil, nil, err
	}
	switch p.Kind {
	case "iid":
		parts, err = IID(t.Len(), k, seed)
	case "dirichlet":
		parts, err = Dirichlet(t.labels, k, p.Alpha, seed)
	case "quantity":
		parts, err = Quantity(t.Len(), k, p.Alpha, seed)
	case "column":
		j, cerr := t.col(p.Column)
		if cerr != nil {
			return nil, nil, fmt.Errorf("partition %q: %w", spec, cerr)
		}
		parts, names = ByColumn(t.raw[j])
		return parts, names, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("partition %q of %s: %w", spec, t.source, err)
	}
	names = make([]string, len(parts))
	for i := range names {
		names[i] = "client-" + strconv.Itoa(i)
	}
	return parts, names, nil
}
