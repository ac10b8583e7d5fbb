package protocol

import (
	"crypto/sha256"
	"reflect"
	"strings"
	"testing"

	"github.com/cohortfl/cohort/fairness"
)

func TestFairnessKeysRoundTrip(t *testing.T) {
	cut := 25.0
	spec := &fairness.Spec{Attributes: []fairness.Attribute{{Name: "sex", Levels: []string{"F", "M"}}, {Name: "age", Cut: &cut}}}
	c := TaskConfig{Model: "logreg", Classes: 2, Features: 4, Epochs: 1, BatchSize: 8, LearningRate: 0.1, Optimizer: "sgd",
		Fairness: spec, FairLabelCounts: true, FairAudit: true, ExplainRows: 50,
		FairWeights: map[string][2]float64{"age=%3C%3D25&sex=F": {1.5, 0.5}}}
	got, err := DecodeTaskConfig(c.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Fairness, c.Fairness) || !got.FairLabelCounts || !got.FairAudit || got.ExplainRows != 50 ||
		!reflect.DeepEqual(got.FairWeights, c.FairWeights) {
		t.Fatalf("round trip: %+v", got)
	}
	// The layouts' lengths follow from the spec: 4 cells × (4 + 3·10), and
	// the explanation aggregate over 4 features and 4 cells plus the proxy
	// moments over 4 features and 4 indicators.
	if n := AuditLen(*spec); n != 4*34 {
		t.Errorf("AuditLen = %d, want 136", n)
	}
	if n := ExplainLen(4, spec); n != 5*9+1+8+8+16 {
		t.Errorf("ExplainLen = %d, want %d", n, 5*9+1+8+8+16)
	}
}

func TestFairnessKeysRejectBadValues(t *testing.T) {
	base := TaskConfig{Model: "logreg", Classes: 2, Features: 4, Epochs: 1, BatchSize: 8, LearningRate: 0.1, Optimizer: "sgd"}.Encode()
	for name, c := range map[string]struct {
		k, v, want string
	}{
		"spec json":      {keyFairness, "{", "not a fairness spec"},
		"spec invalid":   {keyFairness, `{"attributes":[]}`, "at least one protected attribute"},
		"weights":        {keyFairW, `{"g=a":[1,-2]}`, "want finite and ≥ 0"},
		"explain":        {keyExplain, "-1", "non-negative integer"},
		"audit no spec":  {keyFairAudit, "1", "has no"},
		"labels no spec": {keyFairLabel, "1", "has no"},
	} {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		m[c.k] = c.v
		if _, err := DecodeTaskConfig(m); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, c.want)
		}
	}
}

// TestValuesSHA256Streams: hashing through a small buffer gives the hash of
// the whole wire encoding (3,000 values span several buffer refills).
func TestValuesSHA256Streams(t *testing.T) {
	v := make([]float64, 3000)
	for i := range v {
		v[i] = float64(i) * 0.5
	}
	want := sha256.Sum256(AppendFloats(nil, v))
	if got := ValuesSHA256(v); got != want {
		t.Fatalf("ValuesSHA256 = %x, want %x", got, want)
	}
}
