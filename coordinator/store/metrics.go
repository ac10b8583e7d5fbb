package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
)

// RecordMetrics adds (or replaces) metrics of the committed attempt of a
// round, for figures that are only known after the commit: the federated
// evaluation of the new model happens after the model is committed, because
// sending the model to sites for evaluation already releases it.
func (d *DB) RecordMetrics(ctx context.Context, runID string, round int, metrics map[string]float64) error {
	return d.Tx(ctx, func(tx *sql.Tx) error {
		var attempt int
		err := tx.QueryRowContext(ctx, `SELECT attempt FROM rounds WHERE run_id = ? AND round = ? AND status = 'committed'`,
			runID, round).Scan(&attempt)
		if err == sql.ErrNoRows {
			return fmt.Errorf("store: metrics of run %q round %d: no committed round: %w", runID, round, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: metrics of run %q round %d: %w", runID, round, err)
		}
		for name, v := range metrics {
			if name == "" {
				return fmt.Errorf("store: metric with an empty name: %w", ErrInvalid)
			}
			var val any = v
			if math.IsNaN(v) {
				val = nil
			}
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO round_metrics (run_id, round, attempt, name, value) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (run_id, round, attempt, name) DO UPDATE SET value = excluded.value`,
				runID, round, attempt, name, val); err != nil {
				return fmt.Errorf("store: metric %q of run %q round %d: %w", name, runID, round, err)
			}
		}
		return nil
	})
}
