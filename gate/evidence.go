package gate

// Metric keys read from Evidence.Metrics.
const (
	MetricAUC      = "eval_auc"
	MetricAccuracy = "eval_accuracy"
	MetricLoss     = "eval_loss"
)

// Evidence is what the gate knows about a candidate model. Absent evidence
// never passes a check that needs it. Evaluate does not modify or retain it.
type Evidence struct {
	// Metrics holds evaluation metrics by key (MetricAUC, ...). An absent
	// key means "not measured".
	Metrics map[string]float64

	// Epsilon is the privacy budget spent by the candidate, nil if the run
	// used no differential privacy (ε = ∞ for privacy.max_epsilon).
	Epsilon *float64

	// Fairness holds one audit per attribute family, keyed by family name:
	// "sex" for one attribute, "race&sex" for an intersection.
	Fairness map[string]FairnessFamily

	// TopFeatures lists the model's feature names by global mean |SHAP|,
	// most important first; nil if explanations were not computed.
	TopFeatures []string

	// Protected lists the run's protected attribute names. One-hot columns
	// of attribute a are the features named a or "a=<value>".
	Protected []string

	// Proxies lists the feature names flagged as strong proxies of a
	// protected attribute; nil if the proxy check did not run, empty if it
	// ran and flagged nothing.
	Proxies []string
}

// FairnessFamily is the audit of one attribute family: the metrics across
// its groups (fairness.Summarize). A NaN metric is undefined (too little
// data in a group).
type FairnessFamily struct {
	Groups []string // group keys compared, e.g. "sex=F", "sex=M"

	DisparateImpact             float64 // min SR / max SR; a ratio above 1 is read as its inverse
	StatisticalParityDifference float64 // compared on absolute value
	EqualOpportunityDifference  float64 // compared on absolute value
	EqualizedOddsDifference     float64 // compared on absolute value
	AverageOddsDifference       float64 // compared on absolute value
	CalibrationGap              float64 // max ECE − min ECE across groups
}
