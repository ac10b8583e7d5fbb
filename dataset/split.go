package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// streamCohort is the PCG stream selector for every seeded generator in this
// package, so a seed alone determines every split and partition.
const streamCohort = 0x636f686f7274 // "cohort"

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, streamCohort)) }

func checkFrac(what string, f float64) error {
	if !(f >= 0 && f < 1) {
		return fmt.Errorf("%w: %s fraction %v is not in [0, 1)", ErrPartition, what, f)
	}
	return nil
}

// classIndex groups row positions by class, classes in increasing order.
func classIndex(y []int) ([][]int, error) {
	by := map[int][]int{}
	for i, c := range y {
		if c < 0 {
			return nil, fmt.Errorf("%w: label %d of row %d is negative", ErrPartition, c, i)
		}
		by[c] = append(by[c], i)
	}
	classes := make([]int, 0, len(by))
	for c := range by {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	out := make([][]int, len(classes))
	for i, c := range classes {
		out[i] = by[c]
	}
	return out, nil
}

// TrainTestSplit splits the rows 0..len(y)-1 into a training and a test set,
// stratified by label: for each class with n_c rows, round(testFrac*n_c)
// rows chosen uniformly at random go to test. Both results are sorted. The
// split is a deterministic function of (y, testFrac, seed).
func TrainTestSplit(y []int, testFrac float64, seed uint64) (train, test []int, err error) {
	if err := checkFrac("test", testFrac); err != nil {
		return nil, nil, err
	}
	groups, err := classIndex(y)
	if err != nil {
		return nil, nil, err
	}
	r := newRand(seed)
	train, test = make([]int, 0, len(y)), []int{}
	for _, g := range groups {
		r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		nt := int(math.Round(testFrac * float64(len(g))))
		test = append(test, g[:nt]...)
		train = append(train, g[nt:]...)
	}
	slices.Sort(train)
	slices.Sort(test)
	return train, test, nil
}

// LocalSplit splits a client's rows idx (any ints, e.g. positions from a
// partitioner) into local training and evaluation rows. The evaluation set
// gets round(evalFrac*n) rows, but at least 1 when evalFrac > 0 and n >= 2,
// and never all n rows, so training keeps at least one row. The results hold
// elements of idx, sorted; they are deterministic in (idx, evalFrac, seed).
func LocalSplit(idx []int, evalFrac float64, seed uint64) (train, eval []int, err error) {
	if err := checkFrac("eval", evalFrac); err != nil {
		return nil, nil, err
	}
	p := slices.Clone(idx)
	slices.Sort(p) // the result must not depend on the order of idx
	n := len(p)
	newRand(seed).Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	ne := int(math.Round(evalFrac * float64(n)))
	if evalFrac > 0 && n >= 2 && ne == 0 {
		ne = 1
	}
	if ne >= n {
		ne = max(n-1, 0)
	}
	eval, train = slices.Clone(p[:ne]), slices.Clone(p[ne:])
	slices.Sort(train)
	slices.Sort(eval)
	return train, eval, nil
}
