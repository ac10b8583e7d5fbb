package gate_test

import (
	"fmt"
	"math"

	"github.com/cohortfl/cohort/gate"
)

func Example() {
	p, err := gate.Load("testdata/example.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	eps := 6.2
	ev := gate.Evidence{
		Metrics: map[string]float64{gate.MetricAUC: 0.81, gate.MetricLoss: 0.52},
		Epsilon: &eps,
		Fairness: map[string]gate.FairnessFamily{
			"afam": {Groups: []string{"afam=no", "afam=yes"},
				DisparateImpact: 0.62, EqualOpportunityDifference: -0.04, CalibrationGap: 0.01},
			"afam&single": {DisparateImpact: 0.85, EqualOpportunityDifference: 0.12, CalibrationGap: math.NaN()},
		},
		TopFeatures: []string{"income", "afam=yes", "age", "zip"},
		Protected:   []string{"afam", "single"},
		Proxies:     []string{"zip"},
	}
	d := gate.Evaluate(p, ev)
	for _, c := range d.Checks {
		fmt.Printf("%-5v %s\n", c.Passed, c.Name)
	}
	fmt.Println(d.Summary())
	// Output:
	// true  utility.min_auc
	// true  utility.max_loss
	// true  privacy.max_epsilon
	// false fairness.min_disparate_impact[afam]
	// true  fairness.max_equal_opportunity_difference[afam]
	// true  fairness.max_calibration_gap[afam]
	// true  fairness.min_disparate_impact[afam&single]
	// false fairness.max_equal_opportunity_difference[afam&single]
	// false fairness.max_calibration_gap[afam&single]
	// false explanations.forbid_protected
	// true  explanations.forbid_proxies
	// failed 4 of 11: fairness.min_disparate_impact[afam] = 0.62 (want >= 0.8); fairness.max_equal_opportunity_difference[afam&single] = 0.12 (want <= 0.1); fairness.max_calibration_gap[afam&single]: calibration gap is undefined (too little data in a group) (want <= 0.05); explanations.forbid_protected: feature afam=yes is protected and ranks 2 of top 3
}

func ExampleParse() {
	_, err := gate.Parse([]byte("utility:\n  min_auc: 0.75\n  min_aucc: 0.8\n"), "policy.yaml")
	fmt.Println(err)
	_, err = gate.Parse([]byte("fairness:\n  min_disparate_impact: 1.3\n"), "policy.yaml")
	fmt.Println(err)
	// Output:
	// policy.yaml: line 3: utility.min_aucc: unknown key (valid keys: min_auc, min_accuracy, max_loss)
	// policy.yaml: line 2: fairness.min_disparate_impact = 1.3: must be in (0, 1]
}
