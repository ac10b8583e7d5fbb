package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// params returns n deterministic parameters for model version v.
func params(v, n int) []float64 {
	p := make([]float64, n)
	for i := range p {
		p[i] = float64(v)*1000 + float64(i)*0.25
	}
	return p
}

func createRun(t *testing.T, d *DB, id string) {
	t.Helper()
	if err := d.CreateRun(context.Background(), Run{ID: id, ConfigJSON: `{"rounds":5}`, RoundsTotal: 5},
		ModelVersion{Params: params(0, 4)}); err != nil {
		t.Fatalf("CreateRun(%q) = %v", id, err)
	}
}

func TestRuns(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	created := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	want := Run{ID: "r1", ConfigJSON: `{"strategy":"fedavg"}`, State: RunRunning, CreatedAt: created,
		UpdatedAt: created, RoundsTotal: 10}
	if err := d.CreateRun(ctx, want, ModelVersion{Params: []float64{1, 2, 3}}); err != nil {
		t.Fatalf("CreateRun = %v", err)
	}
	got, err := d.GetRun(ctx, "r1")
	if err != nil {
		t.Fatalf("GetRun = %v", err)
	}
	if got != want {
		t.Errorf("GetRun = %+v, want %+v", got, want)
	}
	mv, err := d.GetModel(ctx, "r1", 0)
	if err != nil || mv.Version != 0 || mv.Round != 0 || mv.NumParams != 3 || len(mv.Params) != 3 || mv.Params[2] != 3 {
		t.Errorf("GetModel(r1, 0) = %+v, %v; want the 3-param initial model", mv, err)
	}

	if err := d.CreateRun(ctx, want, ModelVersion{Params: []float64{1}}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate CreateRun = %v, want ErrExists", err)
	}
	createRun(t, d, "r2")
	runs, err := d.ListRuns(ctx)
	if err != nil || len(runs) != 2 || runs[0].ID != "r1" || runs[1].ID != "r2" {
		t.Errorf("ListRuns = %+v, %v; want r1, r2", runs, err)
	}

	if err := d.SetRunState(ctx, "r1", RunFailed, "budget spent"); err != nil {
		t.Fatalf("SetRunState = %v", err)
	}
	got, _ = d.GetRun(ctx, "r1")
	if got.State != RunFailed || got.Error != "budget spent" || !got.UpdatedAt.After(created) {
		t.Errorf("after SetRunState: %+v", got)
	}
	if err := d.SetRunState(ctx, "zz", RunStopped, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetRunState(missing) = %v, want ErrNotFound", err)
	}
	if err := d.SetRunState(ctx, "r1", "paused", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetRunState(paused) = %v, want ErrInvalid", err)
	}
}

func TestCreateRunRejects(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	ok := ModelVersion{Params: []float64{1}}
	tests := []struct {
		name    string
		run     Run
		initial ModelVersion
	}{
		{"empty id", Run{}, ok},
		{"bad state", Run{ID: "a", State: "paused"}, ok},
		{"negative rounds", Run{ID: "a", RoundsTotal: -1}, ok},
		{"version 1", Run{ID: "a"}, ModelVersion{Version: 1, Params: []float64{1}}},
		{"round 1", Run{ID: "a"}, ModelVersion{Round: 1, Params: []float64{1}}},
		{"no params", Run{ID: "a"}, ModelVersion{}},
		{"other run", Run{ID: "a"}, ModelVersion{RunID: "b", Params: []float64{1}}},
		{"bad NumParams", Run{ID: "a"}, ModelVersion{NumParams: 2, Params: []float64{1}}},
		{"bad hash", Run{ID: "a"}, ModelVersion{SHA256: [32]byte{1}, Params: []float64{1}}},
	}
	for _, tt := range tests {
		if err := d.CreateRun(ctx, tt.run, tt.initial); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: CreateRun = %v, want ErrInvalid", tt.name, err)
		}
	}
	// Nothing was half-written: no run row without its model and vice versa.
	if n := countRows(t, d, "runs"); n != 0 {
		t.Errorf("runs rows = %d, want 0", n)
	}
	if n := countRows(t, d, "model_versions"); n != 0 {
		t.Errorf("model_versions rows = %d, want 0", n)
	}
}
