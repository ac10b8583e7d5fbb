package dataset

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
)

func TestTrainTestSplitStratified(t *testing.T) {
	y := labels(1000, 0.12, 2)
	pos := 0
	for _, v := range y {
		pos += v
	}
	train, test, err := TrainTestSplit(y, 0.25, 8)
	if err != nil {
		t.Fatal(err)
	}
	checkCover(t, "split", [][]int{mergeSorted(train, test)}, len(y))
	testPos := 0
	for _, i := range test {
		testPos += y[i]
	}
	// Stratification: round(0.25*n_c) of each class.
	wantPos := int(math.Round(0.25 * float64(pos)))
	wantNeg := int(math.Round(0.25 * float64(len(y)-pos)))
	if testPos != wantPos || len(test)-testPos != wantNeg {
		t.Errorf("test has %d pos, %d neg; want %d, %d", testPos, len(test)-testPos, wantPos, wantNeg)
	}
	tr2, te2, _ := TrainTestSplit(y, 0.25, 8)
	if !reflect.DeepEqual(train, tr2) || !reflect.DeepEqual(test, te2) {
		t.Error("same seed gave a different split")
	}
	_, te3, _ := TrainTestSplit(y, 0.25, 9)
	if reflect.DeepEqual(test, te3) {
		t.Error("different seeds gave the same split")
	}
	for _, f := range []float64{-0.1, 1, math.NaN()} {
		if _, _, err := TrainTestSplit(y, f, 1); !errors.Is(err, ErrPartition) {
			t.Errorf("testFrac %v: error = %v, want ErrPartition", f, err)
		}
	}
	if _, _, err := TrainTestSplit([]int{0, -2}, 0.5, 1); !errors.Is(err, ErrPartition) {
		t.Errorf("negative label: error = %v, want ErrPartition", err)
	}
}

func mergeSorted(a, b []int) []int {
	m := append(slices.Clone(a), b...)
	slices.Sort(m)
	return m
}

func TestLocalSplit(t *testing.T) {
	idx := []int{40, 10, 30, 20, 50, 60, 70, 80, 90, 100}
	train, eval, err := LocalSplit(idx, 0.3, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(eval) != 3 || len(train) != 7 {
		t.Errorf("sizes %d/%d, want 7/3", len(train), len(eval))
	}
	all := mergeSorted(train, eval)
	want := slices.Sorted(slices.Values(idx))
	if !slices.Equal(all, want) {
		t.Errorf("train+eval = %v, want %v", all, want)
	}
	// Order of idx must not matter.
	rev := slices.Clone(idx)
	slices.Reverse(rev)
	tr2, ev2, _ := LocalSplit(rev, 0.3, 4)
	if !slices.Equal(train, tr2) || !slices.Equal(eval, ev2) {
		t.Error("LocalSplit depends on the order of idx")
	}
	for _, c := range []struct {
		n         int
		frac      float64
		tr, evals int
	}{{2, 0.01, 1, 1}, {1, 0.5, 1, 0}, {3, 0.9, 1, 2}, {0, 0.5, 0, 0}, {5, 0, 5, 0}} {
		tr, ev, err := LocalSplit(seq(c.n), c.frac, 1)
		if err != nil || len(tr) != c.tr || len(ev) != c.evals {
			t.Errorf("LocalSplit(n=%d, %v) sizes %d/%d, %v; want %d/%d", c.n, c.frac, len(tr), len(ev), err, c.tr, c.evals)
		}
	}
	if _, _, err := LocalSplit(idx, 1, 1); !errors.Is(err, ErrPartition) {
		t.Errorf("evalFrac 1: error = %v, want ErrPartition", err)
	}
}
