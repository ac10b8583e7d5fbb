package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math"
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

	tests := []struct {
		name, sql string
	}{
		{"zeroed blob", `UPDATE model_versions SET params = zeroblob(32) WHERE version = 1`},
		{"truncated", `UPDATE model_versions SET params = substr(params, 1, 24) WHERE version = 1`},
		{"num_params mismatch", `UPDATE model_versions SET num_params = 5 WHERE version = 1`},
	}
	for _, tt := range tests {
		// Restore the good row, then damage it.
		if _, err := d.SQL().Exec(`UPDATE model_versions SET params = ?, num_params = 4 WHERE run_id = 'run' AND version = 1`,
			EncodeParams(params(1, 4))); err != nil {
			t.Fatal(err)
		}
		if _, err := d.GetModel(ctx, "run", 1); err != nil {
			t.Fatalf("%s: restored model does not verify: %v", tt.name, err)
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
