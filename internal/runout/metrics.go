package runout

import (
	"encoding/json"
	"math"
)

// RoundMetrics are the metrics of one federated round.
//
// Float fields that are not known for a round (for example Epsilon when no
// differential privacy is used) hold NaN.
type RoundMetrics struct {
	Round        int     `json:"round"`
	Clients      int     `json:"clients"`
	TrainLoss    float64 `json:"train_loss"`
	EvalLoss     float64 `json:"eval_loss"`
	EvalAccuracy float64 `json:"eval_accuracy"`
	EvalAUC      float64 `json:"eval_auc"`
	// Epsilon is the cumulative privacy budget spent so far; NaN without DP.
	Epsilon         float64            `json:"epsilon"`
	DurationSeconds float64            `json:"duration_seconds"`
	Extra           map[string]float64 `json:"extra,omitempty"`
}

// jsonRound is the wire form of RoundMetrics: nil pointers are JSON null.
type jsonRound struct {
	Round           int                 `json:"round"`
	Clients         int                 `json:"clients"`
	TrainLoss       *float64            `json:"train_loss"`
	EvalLoss        *float64            `json:"eval_loss"`
	EvalAccuracy    *float64            `json:"eval_accuracy"`
	EvalAUC         *float64            `json:"eval_auc"`
	Epsilon         *float64            `json:"epsilon"`
	DurationSeconds *float64            `json:"duration_seconds"`
	Extra           map[string]*float64 `json:"extra,omitempty"`
}

// nullable returns nil for NaN and ±Inf, which JSON cannot represent.
func nullable(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

// orNaN is the inverse of nullable: null reads back as NaN.
func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// MarshalJSON encodes m with NaN and ±Inf written as null.
func (m RoundMetrics) MarshalJSON() ([]byte, error) {
	j := jsonRound{
		Round:           m.Round,
		Clients:         m.Clients,
		TrainLoss:       nullable(m.TrainLoss),
		EvalLoss:        nullable(m.EvalLoss),
		EvalAccuracy:    nullable(m.EvalAccuracy),
		EvalAUC:         nullable(m.EvalAUC),
		Epsilon:         nullable(m.Epsilon),
		DurationSeconds: nullable(m.DurationSeconds),
	}
	if len(m.Extra) > 0 {
		j.Extra = make(map[string]*float64, len(m.Extra))
		for k, v := range m.Extra {
			j.Extra[k] = nullable(v)
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes m; null and missing float fields become NaN.
func (m *RoundMetrics) UnmarshalJSON(data []byte) error {
	var j jsonRound
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*m = RoundMetrics{
		Round:           j.Round,
		Clients:         j.Clients,
		TrainLoss:       orNaN(j.TrainLoss),
		EvalLoss:        orNaN(j.EvalLoss),
		EvalAccuracy:    orNaN(j.EvalAccuracy),
		EvalAUC:         orNaN(j.EvalAUC),
		Epsilon:         orNaN(j.Epsilon),
		DurationSeconds: orNaN(j.DurationSeconds),
	}
	if len(j.Extra) > 0 {
		m.Extra = make(map[string]float64, len(j.Extra))
		for k, v := range j.Extra {
			m.Extra[k] = orNaN(v)
		}
	}
	return nil
}

// encodeJSON renders rounds as an indented JSON array ("[]" when empty).
func encodeJSON(rounds []RoundMetrics) ([]byte, error) {
	if rounds == nil {
		rounds = []RoundMetrics{}
	}
	b, err := json.MarshalIndent(rounds, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
