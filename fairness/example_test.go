package fairness_test

import (
	"fmt"

	"github.com/cohortfl/cohort/fairness"
)

// Two sites audit a model by sex; the coordinator only sees the summed vector.
func Example() {
	layout, _ := fairness.NewLayout([]string{"sex=F", "sex=M"}, fairness.DefaultDeciles)
	siteRows := [][]struct {
		sex   string
		label int
		score float64
	}{
		{{"F", 1, 0.8}, {"F", 0, 0.3}, {"M", 1, 0.9}, {"M", 0, 0.6}},
		{{"F", 1, 0.4}, {"M", 1, 0.7}, {"M", 0, 0.2}, {"F", 0, 0.1}},
	}
	sum := make([]float64, layout.Dim())
	for _, rows := range siteRows {
		stats := map[string]*fairness.GroupStats{}
		for _, r := range rows {
			key := fairness.GroupKey([]fairness.Group{{Attr: "sex", Value: r.sex}})
			if err := fairness.Accumulate(stats, key, r.label, r.score, 0.5); err != nil {
				fmt.Println(err)
				return
			}
		}
		local := map[string]fairness.GroupStats{}
		for k, s := range stats {
			local[k] = *s
		}
		v, _ := layout.Encode(local)
		for i := range v { // stands in for the secure sum
			sum[i] += v[i]
		}
	}
	stats, err := layout.Decode(sum)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := fairness.Audit(stats)
	d := fairness.Compare(m["sex=F"], m["sex=M"])
	fmt.Printf("SR F %.2f M %.2f\n", m["sex=F"].SelectionRate, m["sex=M"].SelectionRate)
	fmt.Printf("SPD %.2f DI %.2f four-fifths ok: %v\n", d.StatisticalParityDifference, d.DisparateImpact, d.DisparateImpact >= fairness.FourFifths)
	fmt.Printf("EOD %.2f\n", d.EqualOpportunityDifference)
	// Output:
	// SR F 0.25 M 0.75
	// SPD -0.50 DI 0.33 four-fifths ok: false
	// EOD -0.50
}

func ExampleReweighingWeights() {
	w, _ := fairness.ReweighingWeights(map[string][2]float64{
		"sex=F": {6, 2}, // n(g, y=0), n(g, y=1)
		"sex=M": {4, 8},
	})
	fmt.Printf("F: %.3f %.3f\nM: %.3f %.3f\n", w["sex=F"][0], w["sex=F"][1], w["sex=M"][0], w["sex=M"][1])
	// Output:
	// F: 0.667 2.000
	// M: 1.500 0.750
}
