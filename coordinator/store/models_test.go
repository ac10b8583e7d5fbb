package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"
)

func TestEncodeParams(t *testing.T) {
	p := []float64{0, math.Copysign(0, -1), 1.5, math.Inf(-1), math.NaN(), math.SmallestNonzeroFloat64}
	b := EncodeParams(p)
	if len(b) != 8*len(p) {
		t.Fatalf("len(EncodeParams) = %d, want %d", len(b), 8*len(p))
	}
	// Little-endian: 1.5 is 0x3FF8000000000000, so its last byte comes last.
	if b[16+7] != 0x3F || b[16+6] != 0xF8 || b[16] != 0 {
		t.Errorf("1.5 encoded as % x, want little-endian", b[16:24])
	}
	q, err := DecodeParams(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p {
		if math.Float64bits(p[i]) != math.Float64bits(q[i]) {
			t.Errorf("param %d: got %v, want %v (bitwise)", i, q[i], p[i])
		}
	}
	if _, err := DecodeParams(make([]byte, 7)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("DecodeParams(7 bytes) = %v, want ErrCorrupt", err)
	}
}

func TestGetModelDetectsCorruption(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	createRun(t, d, "run")
	commit(t, d, "run", 1, 0)
	good, err := d.GetModel(ctx, "run", 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(EncodeParams(params(1, 4))); good.SHA256 != want {
		t.Errorf("stored SHA-256 is not the hash of the little-endian BLOB")
	}

	// Version 1 rewritten as a row of schema version 1, with its
	// parameters inline, then damaged.
	tests := []struct {
		name, sql string
	}{
		{"zeroed blob", `UPDATE model_versions SET params = zeroblob(32) WHERE version = 1`},
		{"truncated", `UPDATE model_versions SET params = substr(params, 1, 24) WHERE version = 1`},
		{"num_params mismatch", `UPDATE model_versions SET num_params = 5 WHERE version = 1`},
		{"unknown storage", `UPDATE model_versions SET storage = 'chunked' WHERE version = 1`},
	}
	for _, tt := range tests {
		// Restore the good row, then damage it.
		if _, err := d.SQL().Exec(`DELETE FROM model_chunks WHERE run_id = 'run' AND version = 1`); err != nil {
			t.Fatal(err)
		}
		if _, err := d.SQL().Exec(`UPDATE model_versions SET params = ?, num_params = 4, storage = 'inline' WHERE run_id = 'run' AND version = 1`,
			EncodeParams(params(1, 4))); err != nil {
			t.Fatal(err)
		}
		if got, err := d.GetModel(ctx, "run", 1); err != nil || !slices.Equal(got.Params, params(1, 4)) {
			t.Fatalf("%s: inline row reads as %v, %v; want %v", tt.name, got.Params, err, params(1, 4))
		}
		if _, err := d.SQL().Exec(tt.sql); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if _, err := d.GetModel(ctx, "run", 1); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: GetModel = %v, want ErrCorrupt", tt.name, err)
		}
		if _, err := d.LatestModel(ctx, "run"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: LatestModel = %v, want ErrCorrupt", tt.name, err)
		}
	}
	// Other versions are unaffected.
	if _, err := d.GetModel(ctx, "run", 0); err != nil {
		t.Errorf("GetModel(0) = %v", err)
	}
}

// TestLargeModel round-trips a 1M-parameter (8 MB) model through a close and
// reopen of the file.
func TestLargeModel(t *testing.T) {
	if testing.Short() {
		t.Skip("8 MB model in -short mode")
	}
	const n = 1 << 20
	d, path := openTemp(t)
	ctx := context.Background()
	p0 := make([]float64, n)
	p1 := make([]float64, n)
	for i := range p0 {
		p0[i] = float64(i) * 1e-3
		p1[i] = math.Sin(float64(i))
	}
	if err := d.CreateRun(ctx, Run{ID: "big"}, ModelVersion{Params: p0}); err != nil {
		t.Fatalf("CreateRun = %v", err)
	}
	if err := d.CommitRound(ctx, roundRec("big", 1, 0), ModelVersion{Version: 1, Round: 1, Params: p1}); err != nil {
		t.Fatalf("CommitRound = %v", err)
	}
	d.Close()
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for v, want := range [][]float64{p0, p1} {
		mv, err := d.GetModel(ctx, "big", v)
		if err != nil {
			t.Fatalf("GetModel(%d) = %v", v, err)
		}
		if mv.NumParams != n || len(mv.Params) != n {
			t.Fatalf("version %d has %d/%d params, want %d", v, mv.NumParams, len(mv.Params), n)
		}
		for i := range want {
			if math.Float64bits(mv.Params[i]) != math.Float64bits(want[i]) {
				t.Fatalf("version %d param %d = %v, want %v", v, i, mv.Params[i], want[i])
			}
		}
		if mv.SHA256 != sha256.Sum256(EncodeParams(want)) {
			t.Errorf("version %d hash mismatch", v)
		}
	}
	list, err := d.ListModels(ctx, "big")
	if err != nil || len(list) != 2 || list[1].NumParams != n || list[1].Params != nil {
		t.Errorf("ListModels = %+v, %v", list, err)
	}
}

// TestParamsBytesIsTheEncoding: the BLOB written without a copy is byte for
// byte EncodeParams, NaN payloads and signed zeros included.
func TestParamsBytesIsTheEncoding(t *testing.T) {
	p := []float64{0, math.Copysign(0, -1), 1.5, math.Inf(-1), math.Float64frombits(0x7ff8000000000123), -math.MaxFloat64}
	if got, want := paramsBytes(p), EncodeParams(p); !bytes.Equal(got, want) {
		t.Fatalf("paramsBytes = % x\nEncodeParams = % x", got, want)
	}
	if len(paramsBytes(nil)) != 0 {
		t.Fatal("paramsBytes(nil) is not empty")
	}
}

// TestChunkedModel stores a model that spans three chunks, the last one
// short, and checks the chunk layout, the round trip and that every kind
// of damage to the chunks is reported as corruption.
func TestChunkedModel(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	const n = 2*chunkBytes/8 + 3
	want := params(7, n)
	want[n-1] = math.Copysign(0, -1)
	tests := []struct {
		name, sql string
	}{
		{"none", ``},
		{"zeroed chunk", `UPDATE model_chunks SET data = zeroblob(length(data)) WHERE run_id = ? AND seq = 1`},
		{"missing middle chunk", `DELETE FROM model_chunks WHERE run_id = ? AND seq = 1`},
		{"missing last chunk", `DELETE FROM model_chunks WHERE run_id = ? AND seq = 2`},
		{"short middle chunk", `UPDATE model_chunks SET data = substr(data, 1, 8) WHERE run_id = ? AND seq = 1`},
		{"long last chunk", `UPDATE model_chunks SET data = unhex(hex(data) || '0000000000000000') WHERE run_id = ? AND seq = 2`},
		{"extra chunk", `INSERT INTO model_chunks SELECT run_id, version, 3, data FROM model_chunks WHERE run_id = ? AND seq = 2`},
		{"renumbered", `UPDATE model_chunks SET seq = seq + 10 WHERE run_id = ?`},
		{"inline but empty", `UPDATE model_versions SET storage = 'inline' WHERE run_id = ?`},
		{"num_params mismatch", `UPDATE model_versions SET num_params = num_params - 1 WHERE run_id = ?`},
	}
	for i, tt := range tests {
		run := fmt.Sprintf("run%d", i)
		if err := d.CreateRun(ctx, Run{ID: run, ConfigJSON: `{}`, RoundsTotal: 1}, ModelVersion{Params: want}); err != nil {
			t.Fatal(err)
		}
		var chunks, full int
		if err := d.SQL().QueryRow(`SELECT COUNT(*), SUM(length(data) = ?) FROM model_chunks WHERE run_id = ?`, chunkBytes, run).Scan(&chunks, &full); err != nil {
			t.Fatal(err)
		}
		if chunks != 3 || full != 2 {
			t.Fatalf("%d chunks, %d full, want 3 and 2", chunks, full)
		}
		if tt.sql == "" {
			got, err := d.GetModel(ctx, run, 0)
			if err != nil {
				t.Fatal(err)
			}
			for j := range want {
				if math.Float64bits(got.Params[j]) != math.Float64bits(want[j]) {
					t.Fatalf("param %d reads back as %v, want %v", j, got.Params[j], want[j])
				}
			}
			if got.SHA256 != sha256.Sum256(EncodeParams(want)) {
				t.Error("stored SHA-256 is not the hash of the concatenated chunks")
			}
			continue
		}
		if _, err := d.SQL().Exec(tt.sql, run); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if _, err := d.GetModel(ctx, run, 0); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: GetModel = %v, want ErrCorrupt", tt.name, err)
		}
	}
}

// TestInlineModelSurvivesMigration writes a model version as schema
// version 1 did (parameters inline, no storage column), then opens the file
// with this binary: the row reads back, and a new version is chunked.
func TestInlineModelSurvivesMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	v1 := &DB{sql: raw, path: path}
	if err := v1.Migrate(ctx, storeComponent, storeMigrations[:1]); err != nil {
		t.Fatal(err)
	}
	p := params(3, 5)
	sum := sha256.Sum256(EncodeParams(p))
	if _, err := raw.Exec(`INSERT INTO runs (id, config_json, state, rounds_total, created_at, updated_at)
		VALUES ('old', '{}', 'running', 2, '2025-01-01T00:00:00.000000000Z', '2025-01-01T00:00:00.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO model_versions (run_id, version, round, num_params, sha256, params, created_at)
		VALUES ('old', 0, 0, 5, ?, ?, '2025-01-01T00:00:00.000000000Z')`, sum[:], EncodeParams(p)); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := d.GetModel(ctx, "old", 0)
	if err != nil || !slices.Equal(got.Params, p) {
		t.Fatalf("version 0 after migration: %v, %v; want %v", got.Params, err, p)
	}
	commit(t, d, "old", 1, 0)
	var storage string
	if err := d.SQL().QueryRow(`SELECT group_concat(storage) FROM (SELECT storage FROM model_versions WHERE run_id = 'old' ORDER BY version)`).Scan(&storage); err != nil {
		t.Fatal(err)
	}
	if storage != "inline,chunked" {
		t.Errorf("storage of versions 0 and 1 = %s, want inline,chunked", storage)
	}
	if got, err := d.LatestModel(ctx, "old"); err != nil || !slices.Equal(got.Params, params(1, 4)) {
		t.Errorf("version 1: %v, %v; want %v", got.Params, err, params(1, 4))
	}
}
