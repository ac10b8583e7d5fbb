package runout

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
)

// Columns are the fixed CSV columns, in file order. Extra keys follow them.
var Columns = []string{
	"round", "clients", "train_loss", "eval_loss", "eval_accuracy",
	"eval_auc", "epsilon", "duration_seconds",
}

// extraKeys returns the sorted union of the Extra keys of all rounds. It
// fails if a key would duplicate a fixed column, since the CSV header would
// then be ambiguous.
func extraKeys(rounds []RoundMetrics) ([]string, error) {
	seen := map[string]bool{}
	var keys []string
	for _, r := range rounds {
		for k := range r.Extra {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	for _, k := range keys {
		if slices.Contains(Columns, k) {
			return nil, fmt.Errorf("extra metric %q clashes with a fixed column", k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// encodeCSV renders rounds as CSV: header, then one row per round.
func encodeCSV(rounds []RoundMetrics) ([]byte, error) {
	keys, err := extraKeys(rounds)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(append(slices.Clone(Columns), keys...)); err != nil {
		return nil, err
	}
	row := make([]string, 0, len(Columns)+len(keys))
	for _, r := range rounds {
		row = append(row[:0],
			strconv.Itoa(r.Round),
			strconv.Itoa(r.Clients),
			formatFloat(r.TrainLoss),
			formatFloat(r.EvalLoss),
			formatFloat(r.EvalAccuracy),
			formatFloat(r.EvalAUC),
			formatFloat(r.Epsilon),
			formatFloat(r.DurationSeconds),
		)
		for _, k := range keys {
			v, ok := r.Extra[k]
			if !ok {
				row = append(row, "")
				continue
			}
			row = append(row, formatFloat(v))
		}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
