// Package runout writes the per-round metrics of a simulation (or of a real
// federated run) to an output directory, in three forms:
//
//   - metrics.csv: one header line and one row per round. The fixed columns
//     come first in a stable order (see [Columns]); the keys of
//     [RoundMetrics.Extra], taken from all rounds and sorted, are appended.
//     A round without a given extra key has an empty cell. Floats are written
//     in the shortest form that parses back to the same value, so NaN is
//     written as "NaN".
//   - metrics.json: a JSON array of [RoundMetrics]. encoding/json refuses
//     NaN and ±Inf, so non-finite floats are written as null and read back
//     as NaN.
//   - metrics.png: a two-panel figure of [PlotWidthPx]×[PlotHeightPx] pixels:
//     accuracy and AUC per round on top, evaluation and training loss per
//     round below. Non-finite points are left out of the lines.
//
// Every file is rendered in memory first and then written atomically (a
// temporary file in the same directory, synced, then renamed over the
// target), so a crash or a failed write never leaves half a file behind, and
// a rendering error writes nothing at all.
//
// Usage:
//
//	rounds := []runout.RoundMetrics{{Round: 1, Clients: 10, EvalAccuracy: 0.81, Epsilon: math.NaN()}}
//	if err := runout.WriteAll("out/run-42", rounds, "FedAvg, 10 clients"); err != nil {
//		return err
//	}
package runout
