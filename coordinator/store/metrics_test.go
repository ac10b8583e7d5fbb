package store

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"
)

func TestRecordMetricsAfterCommit(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	if err := db.CreateRun(ctx, Run{ID: "r", ConfigJSON: "{}", State: RunRunning, CreatedAt: now, UpdatedAt: now, RoundsTotal: 2},
		ModelVersion{RunID: "r", Params: []float64{1}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordMetrics(ctx, "r", 1, map[string]float64{"eval_accuracy": 0.5}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("RecordMetrics before commit = %v, want ErrNotFound", err)
	}
	rec := RoundRecord{RunID: "r", Round: 1, Status: "committed", StartedAt: now, EndedAt: now, Metrics: map[string]float64{"train_loss": 0.7}}
	if err := db.CommitRound(ctx, rec, ModelVersion{RunID: "r", Version: 1, Round: 1, Params: []float64{2}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordMetrics(ctx, "r", 1, map[string]float64{"eval_accuracy": 0.75, "eval_auc": math.NaN()}); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordMetrics(ctx, "r", 1, map[string]float64{"eval_accuracy": 0.8}); err != nil {
		t.Fatal(err)
	}
	rounds, err := db.Rounds(ctx, "r")
	if err != nil || len(rounds) != 1 {
		t.Fatalf("Rounds = %v, %v", rounds, err)
	}
	m := rounds[0].Metrics
	if m["train_loss"] != 0.7 || m["eval_accuracy"] != 0.8 || !math.IsNaN(m["eval_auc"]) {
		t.Fatalf("metrics = %v, want train_loss 0.7, eval_accuracy 0.8 (replaced), eval_auc NaN", m)
	}
}
