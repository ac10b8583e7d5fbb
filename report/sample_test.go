package report

import (
	"fmt"
	"math"
	"time"
)

// sampleFeatures are 14 features of a clinical risk model.
var sampleFeatures = []string{
	"age", "sex", "chest_pain_type", "resting_bp", "cholesterol", "fasting_blood_sugar",
	"resting_ecg", "max_heart_rate", "exercise_angina", "st_depression", "st_slope",
	"major_vessels", "thalassemia", "smoking_pack_years",
}

// sampleGroups are the 4 protected groups, in two attribute families.
var sampleGroups = []struct{ key, family string }{
	{"sex=F", "sex"}, {"sex=M", "sex"}, {"age=<55", "age"}, {"age=55+", "age"},
}

// sampleData is a realistic, deterministic report: 8 committed rounds and
// one failed attempt, 5 sites, HE 3-of-5, distributed DP, 2 attribute
// families over 4 groups, 14 features, two gate decisions, a lineage of
// three versions. Some values are NaN, as in real runs.
func sampleData() Data {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const rounds = 8
	d := Data{
		GeneratedAt: t0.Add(3 * time.Hour),
		Summary: Summary{
			RunID: "run-2026-03-02-heart-01", State: "completed",
			CreatedAt: t0, UpdatedAt: t0.Add(47 * time.Minute),
			Dataset: "heart", DatasetHash: "9f2c1e7a4b0d3c58e61f2a9b7c4d0e13f5a6b8c9d0e1f2a3b4c5d6e7f8091a2b",
			SchemaHash: "3b7e0c1d9a2f4e58", Model: "logreg", Strategy: "fedavg",
			RoundsCompleted: rounds, RoundsTotal: 10,
			SecureAggregation: SecureAggregation{Mode: SecAggHE, Threshold: 3, Parties: 5},
			DPMode:            "distributed",
		},
		Privacy: &Privacy{Accountant: "pld", Delta: 1e-5, EpsilonBudget: 8},
		Fairness: &Fairness{Thresholds: []Threshold{
			{Metric: MetricDisparateImpact, Op: ">=", Value: 0.8},
			{Metric: MetricStatisticalParityDifference, Op: "<=", Value: 0.1, Abs: true},
			{Metric: MetricEqualizedOddsDifference, Op: "<=", Value: 0.15, Abs: true},
		}},
		Explanations: &Explanations{Method: "linear_shap"},
	}
	sites := []string{"st-marys", "northgate-clinic", "univ-hospital-b", "riverside", "hopital-lyon"}
	examples := []int64{1200, 640, 2310, 455, 980}
	eps := 0.0
	for r := 1; r <= rounds; r++ {
		if r == 3 {
			d.Rounds = append(d.Rounds, Round{Round: 3, Attempt: 0, Status: RoundFailed, Reason: "deadline: 2 of 5 uploads, threshold 3",
				Accepted: 2, Selected: 5, Duration: 90 * time.Second, Metrics: map[string]Float{}})
		}
		acc := 0.62 + 0.25*(1-math.Exp(-float64(r)/2.5))
		auc := acc + 0.06
		if r == 1 {
			auc = math.NaN() // one class missing at a site in round 1
		}
		eps += 0.9 / math.Sqrt(float64(r))
		attempt := 0
		if r == 3 {
			attempt = 1
		}
		d.Rounds = append(d.Rounds, Round{
			Round: r, Attempt: attempt, Status: RoundCommitted, Accepted: 5 - r%2, Selected: 5,
			Duration: time.Duration(40+3*r) * time.Second,
			Metrics: map[string]Float{
				MetricEvalAccuracy: Float(acc), MetricEvalAUC: Float(auc),
				MetricEvalLoss: Float(0.7 - 0.3*acc), MetricTrainLoss: Float(0.72 - 0.31*acc),
				MetricEpsilon: Float(eps),
			},
		})
		d.Privacy.Epsilon = append(d.Privacy.Epsilon, RoundValue{Round: r, Value: Float(eps)})
		d.Privacy.Ledger = append(d.Privacy.Ledger, LedgerEntry{
			Party: "*clients", Round: r, Purpose: "update", Mechanism: "subsampled_gaussian",
			Sigma: 1.1, Q: 1, Steps: 1, EpsilonAfter: Float(eps), Status: "released",
		})
		di := 0.7 + 0.03*float64(r)
		for _, fam := range []string{"sex", "age"} {
			fr := FairnessRound{
				Round: r, Family: fam,
				DisparateImpact:             Float(di),
				StatisticalParityDifference: Float(-0.14 + 0.012*float64(r)),
				EqualOpportunityDifference:  Float(-0.08 + 0.007*float64(r)),
				EqualizedOddsDifference:     Float(0.2 - 0.012*float64(r)),
				AverageOddsDifference:       Float(-0.05 + 0.004*float64(r)),
			}
			if fam == "age" {
				fr.DisparateImpact = Float(di + 0.08)
				if r == 2 {
					fr.DisparateImpact = Float(math.NaN()) // no positive predictions for age=55+
				}
			}
			d.Fairness.Rounds = append(d.Fairness.Rounds, fr)
		}
	}
	for i, s := range sites {
		d.Participation = append(d.Participation, Site{Name: s, Rounds: rounds - i%2*2, Examples: examples[i]})
	}
	for i, g := range sampleGroups {
		d.Fairness.Groups = append(d.Fairness.Groups, GroupMetrics{
			Group: g.key, Family: g.family, N: Float(900 + 300*i),
			SelectionRate: Float(0.31 + 0.03*float64(i)), TPR: Float(0.78 + 0.02*float64(i)),
			FPR: Float(0.12 + 0.01*float64(i)), FNR: Float(0.22 - 0.02*float64(i)), Accuracy: Float(0.84 + 0.01*float64(i)),
		})
	}
	d.Fairness.Groups[3].FPR = Float(math.NaN())
	for i, f := range sampleFeatures {
		v := 0.42 * math.Pow(0.78, float64(i))
		d.Explanations.Global = append(d.Explanations.Global, FeatureImportance{Feature: f, MeanAbsSHAP: Float(v)})
	}
	for gi, g := range sampleGroups {
		gr := GroupImportance{Group: g.key}
		for i, f := range sampleFeatures {
			v := 0.42 * math.Pow(0.78, float64(i)) * (0.8 + 0.1*float64((i+gi)%5))
			gr.Features = append(gr.Features, FeatureImportance{Feature: f, MeanAbsSHAP: Float(v)})
		}
		d.Explanations.Groups = append(d.Explanations.Groups, gr)
	}
	d.Gate = []GateDecision{
		{Candidate: "1.1.0", Round: 4, Passed: false, Checks: []GateCheck{
			{Name: "min_accuracy", Value: 0.79, Op: ">=", Threshold: 0.75, Passed: true},
			{Name: "epsilon_budget", Value: 2.9, Op: "<=", Threshold: 8, Passed: true},
			{Name: "disparate_impact[sex]", Value: 0.82, Op: ">=", Threshold: 0.8, Passed: true},
			{Name: "equalized_odds_difference[sex]", Value: 0.152, Op: "<=", Threshold: 0.15, Passed: false,
				Detail: "TPR gap between sex=F and sex=M"},
		}},
		{Candidate: "1.1.0", Round: 8, Passed: true, Checks: []GateCheck{
			{Name: "min_accuracy", Value: 0.85, Op: ">=", Threshold: 0.75, Passed: true},
			{Name: "epsilon_budget", Value: Float(eps), Op: "<=", Threshold: 8, Passed: true},
			{Name: "disparate_impact[sex]", Value: 0.94, Op: ">=", Threshold: 0.8, Passed: true},
			{Name: "equalized_odds_difference[sex]", Value: 0.104, Op: "<=", Threshold: 0.15, Passed: true},
		}},
	}
	d.Lineage = []Version{
		{Version: "1.0.0", RunID: "run-2026-02-11-heart-01", Round: 10, CreatedAt: t0.Add(-19 * 24 * time.Hour),
			ParamsHash: "5d41402abc4b2a76b9719d911017c592ae1b6c3f8e1d2a9b4c7e0f1a2b3c4d5e"},
		{Version: "1.1.0", Parent: "1.0.0", RunID: d.Summary.RunID, Round: 8, CreatedAt: t0.Add(46 * time.Minute),
			ParamsHash: "7e240de74fb1ed08fa08d38063f6a6a91462a815c1d2e3f4a5b6c7d8e9f00112"},
	}
	for _, v := range d.Lineage {
		d.Verification.Checks = append(d.Verification.Checks, VerificationCheck{
			Name: fmt.Sprintf("model %s signature (ed25519)", v.Version), OK: true, Detail: "signed by coordinator key 4f1c…"})
	}
	d.Verification.Checks = append(d.Verification.Checks,
		VerificationCheck{Name: "audit chain", OK: true, Detail: "412 events, hash chain intact"},
		VerificationCheck{Name: "privacy ledger precedes releases", OK: true})
	return d
}
