package aggregation_test

import (
	"errors"
	"fmt"
	"math"

	"github.com/cohortfl/cohort/aggregation"
)

func Example() {
	s, err := aggregation.New("fedavg", aggregation.DefaultOptions())
	if err != nil {
		panic(err)
	}
	global := []float64{1, 1}
	agg := s.NewAggregator(1, global)
	for _, u := range []aggregation.Update{
		{Client: "hospital-a", Delta: []float64{0.5, 0}, NumExamples: 300},
		{Client: "hospital-b", Delta: []float64{-0.5, 1}, NumExamples: 100},
		{Client: "hospital-c", Delta: []float64{math.NaN(), 0}, NumExamples: 50},
	} {
		if err := agg.Add(u); err != nil {
			fmt.Println("rejected:", errors.Is(err, aggregation.ErrNotFinite), err)
		}
	}
	next, err := agg.Result()
	fmt.Println(next, err)
	// Output:
	// rejected: true aggregation: update contains NaN or Inf (client "hospital-c", coordinate 0, value NaN)
	// [1.25 1.25] <nil>
}
