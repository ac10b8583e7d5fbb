package protocol

import (
	"encoding/json"
	"fmt"
	"github.com/cohortfl/cohort/fairness"
	"math"
	"strconv"
	"strings"
)

// TaskConfig is the typed form of Task.config. The coordinator builds it from
// the run configuration; sites decode it and must reject what they cannot honour.
type TaskConfig struct {
	Model        string    // "logreg", "softmax", "mlp"
	Hidden       []int     // MLP hidden layer sizes
	Classes      int       // number of classes
	Features     int       // model input dimension
	Epochs       int       // local epochs
	BatchSize    int       // minibatch size
	LearningRate float64   // local learning rate
	Optimizer    string    // "sgd" or "adam"
	L2           float64   // L2 penalty
	ProximalMu   float64   // FedProx μ (0 = off)
	Seed         uint64    // per-site, per-round training seed
	Moments      []float64 // federated feature moments (3·Features) for standardisation; nil = none
	// Secure aggregation: results are sealed for key epoch SecAggEpoch and
	// secure-sum round SecAggRound instead of sent in the clear.
	Secure      bool
	SecAggEpoch uint64
	SecAggRound uint64

	// Client-level DP: clip the update to L2 norm ClientClip and contribute
	// it with weight 1; add N(0, ClientNoiseStd²) per coordinate before
	// sealing (distributed mode; 0 in central mode).
	ClientClip     float64
	ClientNoiseStd float64
	// Adaptive clipping: report the indicator ‖Δ‖ ≤ ClientClip (before
	// clipping) with the update, plus N(0, ClientCountNoiseStd²) in
	// distributed mode. ClientAdaptive is 1 when on.
	ClientAdaptive      float64
	ClientCountNoiseStd float64
	// Record-level DP-SGD inside the site: per-example clip, noise
	// multiplier and Poisson sampling rate.
	RecordClip  float64
	RecordSigma float64
	RecordQ     float64

	// Fairness, if set, is the run's protected-attribute spec. With
	// FairLabelCounts the statistics result is followed by the LabelLayout
	// vector n(g, y) of the training rows; FairWeights are the reweighing
	// sample weights w(g, y) by partition key, applied in local training;
	// with FairAudit the evaluation result carries the fairness Layout vector
	// of the held-out rows, and with ExplainRows > 0 it also carries the
	// explanation Aggregate of up to that many held-out rows and the proxy
	// MomentLayout vector of the training rows (see package client).
	Fairness        *fairness.Spec
	FairLabelCounts bool
	FairWeights     map[string][2]float64
	FairAudit       bool
	ExplainRows     int
}

// Keys of Task.config.
const (
	keyModel     = "model"
	keyHidden    = "hidden"
	keyClasses   = "classes"
	keyFeatures  = "features"
	keyEpochs    = "epochs"
	keyBatch     = "batch_size"
	keyLR        = "learning_rate"
	keyOptimizer = "optimizer"
	keyL2        = "l2"
	keyProx      = "proximal_mu"
	keySeed      = "seed"
	keyMoments   = "feature_moments"
	keySecure    = "secure"
	keySecEpoch  = "secagg_epoch"
	keySecRound  = "secagg_round"
	keyCClip     = "dp_client_clip"
	keyCNoise    = "dp_client_noise_std"
	keyRClip     = "dp_record_clip"
	keyRSigma    = "dp_record_sigma"
	keyRQ        = "dp_record_q"
	keyCAdapt    = "dp_client_adaptive"
	keyCCountStd = "dp_client_count_noise_std"
	keyFairness  = "fairness"
	keyFairLabel = "fair_label_counts"
	keyFairW     = "fair_weights"
	keyFairAudit = "fair_audit"
	keyExplain   = "explain_rows"
)

// Encode returns the string map sent in Task.config.
func (c TaskConfig) Encode() map[string]string {
	m := map[string]string{
		keyModel:     c.Model,
		keyClasses:   strconv.Itoa(c.Classes),
		keyFeatures:  strconv.Itoa(c.Features),
		keyEpochs:    strconv.Itoa(c.Epochs),
		keyBatch:     strconv.Itoa(c.BatchSize),
		keyLR:        strconv.FormatFloat(c.LearningRate, 'g', -1, 64),
		keyOptimizer: c.Optimizer,
		keyL2:        strconv.FormatFloat(c.L2, 'g', -1, 64),
		keyProx:      strconv.FormatFloat(c.ProximalMu, 'g', -1, 64),
		keySeed:      strconv.FormatUint(c.Seed, 10),
	}
	if len(c.Hidden) > 0 {
		parts := make([]string, len(c.Hidden))
		for i, h := range c.Hidden {
			parts[i] = strconv.Itoa(h)
		}
		m[keyHidden] = strings.Join(parts, ",")
	}
	if c.Moments != nil {
		b, _ := json.Marshal(c.Moments) // []float64 of finite values always marshals
		m[keyMoments] = string(b)
	}
	for k, v := range map[string]float64{keyCClip: c.ClientClip, keyCNoise: c.ClientNoiseStd,
		keyRClip: c.RecordClip, keyRSigma: c.RecordSigma, keyRQ: c.RecordQ,
		keyCAdapt: c.ClientAdaptive, keyCCountStd: c.ClientCountNoiseStd} {
		if v != 0 {
			m[k] = strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	if c.Fairness != nil {
		b, _ := json.Marshal(c.Fairness) // a Spec of finite values always marshals
		m[keyFairness] = string(b)
	}
	if c.FairLabelCounts {
		m[keyFairLabel] = "1"
	}
	if c.FairAudit {
		m[keyFairAudit] = "1"
	}
	if c.FairWeights != nil {
		b, _ := json.Marshal(c.FairWeights)
		m[keyFairW] = string(b)
	}
	if c.ExplainRows > 0 {
		m[keyExplain] = strconv.Itoa(c.ExplainRows)
	}
	if c.Secure {
		m[keySecure] = "he"
		m[keySecEpoch] = strconv.FormatUint(c.SecAggEpoch, 10)
		m[keySecRound] = strconv.FormatUint(c.SecAggRound, 10)
	}
	return m
}

// DecodeTaskConfig parses Task.config, naming the key of any bad value.
func DecodeTaskConfig(m map[string]string) (TaskConfig, error) {
	var c TaskConfig
	var err error
	geti := func(k string, dst *int) {
		if err != nil {
			return
		}
		v, e := strconv.Atoi(m[k])
		if e != nil {
			err = fmt.Errorf("protocol: task config %q = %q is not an integer", k, m[k])
		}
		*dst = v
	}
	getf := func(k string, dst *float64) {
		if err != nil {
			return
		}
		v, e := strconv.ParseFloat(m[k], 64)
		if e != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			err = fmt.Errorf("protocol: task config %q = %q is not a finite number", k, m[k])
		}
		*dst = v
	}
	c.Model = m[keyModel]
	c.Optimizer = m[keyOptimizer]
	geti(keyClasses, &c.Classes)
	geti(keyFeatures, &c.Features)
	geti(keyEpochs, &c.Epochs)
	geti(keyBatch, &c.BatchSize)
	getf(keyLR, &c.LearningRate)
	getf(keyL2, &c.L2)
	getf(keyProx, &c.ProximalMu)
	for k, dst := range map[string]*float64{keyCClip: &c.ClientClip, keyCNoise: &c.ClientNoiseStd,
		keyRClip: &c.RecordClip, keyRSigma: &c.RecordSigma, keyRQ: &c.RecordQ,
		keyCAdapt: &c.ClientAdaptive, keyCCountStd: &c.ClientCountNoiseStd} {
		if _, ok := m[k]; ok {
			getf(k, dst)
			if err == nil && *dst < 0 {
				err = fmt.Errorf("protocol: task config %q = %q must not be negative", k, m[k])
			}
		}
	}
	if err != nil {
		return TaskConfig{}, err
	}
	if c.Seed, err = strconv.ParseUint(m[keySeed], 10, 64); err != nil {
		return TaskConfig{}, fmt.Errorf("protocol: task config %q = %q is not an unsigned integer", keySeed, m[keySeed])
	}
	if h := m[keyHidden]; h != "" {
		for _, p := range strings.Split(h, ",") {
			v, e := strconv.Atoi(strings.TrimSpace(p))
			if e != nil || v <= 0 {
				return TaskConfig{}, fmt.Errorf("protocol: task config %q = %q: want positive integers separated by commas", keyHidden, h)
			}
			c.Hidden = append(c.Hidden, v)
		}
	}
	if s := m[keyMoments]; s != "" {
		if e := json.Unmarshal([]byte(s), &c.Moments); e != nil {
			return TaskConfig{}, fmt.Errorf("protocol: task config %q is not a JSON array of numbers: %w", keyMoments, e)
		}
		if len(c.Moments) != 3*c.Features {
			return TaskConfig{}, fmt.Errorf("protocol: task config %q has %d values, want 3×features = %d", keyMoments, len(c.Moments), 3*c.Features)
		}
	}
	if err := decodeFairness(m, &c); err != nil {
		return TaskConfig{}, err
	}
	switch m[keySecure] {
	case "", "none":
	case "he":
		c.Secure = true
		if c.SecAggEpoch, err = strconv.ParseUint(m[keySecEpoch], 10, 64); err != nil {
			return TaskConfig{}, fmt.Errorf("protocol: task config %q = %q is not an unsigned integer", keySecEpoch, m[keySecEpoch])
		}
		if c.SecAggRound, err = strconv.ParseUint(m[keySecRound], 10, 64); err != nil {
			return TaskConfig{}, fmt.Errorf("protocol: task config %q = %q is not an unsigned integer", keySecRound, m[keySecRound])
		}
	default:
		return TaskConfig{}, fmt.Errorf("protocol: task config %q = %q: want none or he", keySecure, m[keySecure])
	}
	if c.Model == "" {
		return TaskConfig{}, fmt.Errorf("protocol: task config %q is missing", keyModel)
	}
	return c, nil
}

// decodeFairness parses the fairness keys of a task config.
func decodeFairness(m map[string]string, c *TaskConfig) error {
	if s := m[keyFairness]; s != "" {
		var spec fairness.Spec
		if err := json.Unmarshal([]byte(s), &spec); err != nil {
			return fmt.Errorf("protocol: task config %q is not a fairness spec: %w", keyFairness, err)
		}
		if err := spec.Validate(); err != nil {
			return fmt.Errorf("protocol: task config %q: %w", keyFairness, err)
		}
		c.Fairness = &spec
	}
	c.FairLabelCounts = m[keyFairLabel] == "1"
	c.FairAudit = m[keyFairAudit] == "1"
	if s := m[keyFairW]; s != "" {
		if err := json.Unmarshal([]byte(s), &c.FairWeights); err != nil {
			return fmt.Errorf("protocol: task config %q is not a map of [w0, w1] weights: %w", keyFairW, err)
		}
		for k, w := range c.FairWeights {
			for y, x := range w {
				if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
					return fmt.Errorf("protocol: task config %q: weight of group %q, label %d is %v, want finite and ≥ 0", keyFairW, k, y, x)
				}
			}
		}
	}
	if s, ok := m[keyExplain]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return fmt.Errorf("protocol: task config %q = %q is not a non-negative integer", keyExplain, s)
		}
		c.ExplainRows = n
	}
	if (c.FairLabelCounts || c.FairAudit || c.FairWeights != nil) && c.Fairness == nil {
		return fmt.Errorf("protocol: task config asks for fairness statistics but has no %q spec", keyFairness)
	}
	return nil
}
