package dataset_test

import (
	"fmt"
	"math"
	"strings"

	"github.com/cohortfl/cohort/dataset"
	"github.com/cohortfl/cohort/model"
)

func ExampleBuiltin() {
	b, err := dataset.Builtin("hmda")
	if err != nil {
		fmt.Println(err)
		return
	}
	t, err := b.Load()
	if err != nil {
		fmt.Println(err)
		return
	}
	enc, err := dataset.NewEncoder(t)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.Len(), "rows,", t.Positives(), "denied,", enc.Dim(), "features")
	fmt.Println(strings.Join(enc.FeatureNames()[:7], " "))
	// Output:
	// 2380 rows, 285 denied, 20 features
	// pirat hirat lvrat chist mhist phist=no phist=yes
}

func ExampleLoad_error() {
	csv := "pirat,deny\n0.2,no\nabc,yes\n"
	_, err := dataset.Load(strings.NewReader(csv), "hmda.csv", dataset.Schema{
		Label: "deny", Positive: "yes", Types: map[string]dataset.ColumnType{"pirat": dataset.Numeric}})
	fmt.Println(err)
	// Output:
	// hmda.csv:3: column "pirat": "abc" is not a number
}

func ExampleNewStandardizer() {
	// Two sites, one feature; site A holds {1, 3}, site B holds {5, missing}.
	a := dataset.LocalMoments(examples(1, 3))
	b := dataset.LocalMoments(examples(5, nan()))
	total := []float64{a[0] + b[0], a[1] + b[1], a[2] + b[2]} // via secure sum
	st, _ := dataset.NewStandardizer(total, 1)
	// mean = 9/3 = 3; variance = 35/3 - 9 = 8/3; std = sqrt(8/3) = 1.6330
	fmt.Printf("mean %.4f std %.4f\n", st.Mean()[0], st.Std()[0])
	// Output:
	// mean 3.0000 std 1.6330
}

func examples(v ...float64) model.Examples {
	return model.Examples{X: v, Y: make([]int, len(v)), N: len(v), D: 1}
}

func nan() float64 { return math.NaN() }
