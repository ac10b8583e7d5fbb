package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/cohortfl/cohort/internal/protocol"
)

// ModelVersion is one global model. Version 0 is the initial model; the
// commit of round r creates version r.
type ModelVersion struct {
	RunID     string
	Version   int
	Round     int
	Params    []float64 // stored as a little-endian float64 BLOB; nil when listing
	NumParams int
	SHA256    [32]byte // of the BLOB; computed by the store on write
	CreatedAt time.Time
}

// maxParams bounds a model at 64M parameters (512 MB). Chunked rows no
// longer need it to fit SQLite's 1 GB BLOB limit; it still caps what a
// damaged num_params can make a read allocate.
const maxParams = 64 << 20

// EncodeParams returns the little-endian float64 encoding the store keeps.
func EncodeParams(p []float64) []byte {
	return protocol.AppendFloats(make([]byte, 0, 8*len(p)), p)
}

// DecodeParams is the inverse of EncodeParams.
func DecodeParams(b []byte) ([]float64, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("store: params BLOB of %d bytes is not a multiple of 8: %w", len(b), ErrCorrupt)
	}
	p := make([]float64, len(b)/8)
	decodeParamsInto(p, b)
	return p, nil
}

// decodeParamsInto decodes the little-endian float64s of b into dst
// (len(b) = 8·len(dst)), NaN and ±Inf included.
func decodeParamsInto(dst []float64, b []byte) {
	for i := range dst {
		dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
}

// insertModel writes mv for run runID inside tx. It fills in the hash,
// checking it against a caller-supplied one if that is non-zero.
func insertModel(ctx context.Context, tx *sql.Tx, runID string, mv ModelVersion) error {
	if mv.RunID != runID {
		return fmt.Errorf("model version %d belongs to run %q, not %q: %w", mv.Version, mv.RunID, runID, ErrInvalid)
	}
	if len(mv.Params) == 0 {
		return fmt.Errorf("model version %d has no parameters: %w", mv.Version, ErrInvalid)
	}
	if len(mv.Params) > maxParams {
		return fmt.Errorf("model version %d has %d parameters, more than %d: %w", mv.Version, len(mv.Params), maxParams, ErrInvalid)
	}
	if mv.NumParams != 0 && mv.NumParams != len(mv.Params) {
		return fmt.Errorf("model version %d: NumParams %d but %d params: %w", mv.Version, mv.NumParams, len(mv.Params), ErrInvalid)
	}
	blob := paramsBytes(mv.Params) // a view of Params: read only during this call
	sum := sha256.Sum256(blob)
	if mv.SHA256 != ([32]byte{}) && mv.SHA256 != sum {
		return fmt.Errorf("model version %d: given SHA-256 does not match params: %w", mv.Version, ErrInvalid)
	}
	if mv.CreatedAt.IsZero() {
		mv.CreatedAt = now()
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM model_versions WHERE run_id = ? AND version = ?`, runID, mv.Version).Scan(&one)
	if err == nil {
		return fmt.Errorf("model version %d already exists: %w", mv.Version, ErrConflict)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("insert model version %d: %w", mv.Version, err)
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO model_versions (run_id, version, round, num_params, sha256, params, created_at, storage)
		VALUES (?, ?, ?, ?, ?, X'', ?, 'chunked')`,
		runID, mv.Version, mv.Round, len(mv.Params), sum[:], formatTime(mv.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert model version %d: %w", mv.Version, err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO model_chunks (run_id, version, seq, data) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("insert model version %d: %w", mv.Version, err)
	}
	defer stmt.Close()
	for seq, off := 0, 0; off < len(blob); seq, off = seq+1, off+chunkBytes {
		if _, err := stmt.ExecContext(ctx, runID, mv.Version, seq, blob[off:min(off+chunkBytes, len(blob))]); err != nil {
			return fmt.Errorf("insert model version %d, chunk %d: %w", mv.Version, seq, err)
		}
	}
	return nil
}

// chunkBytes is the size of every model_chunks row but a model's last.
const chunkBytes = 8 << 15

// GetModel returns a model version with its parameters, after checking
// them against the stored SHA-256 (an error wrapping ErrCorrupt if it does
// not match) and ErrNotFound if there is no such version.
func (d *DB) GetModel(ctx context.Context, runID string, version int) (ModelVersion, error) {
	mv, err := d.readModel(ctx, `
		SELECT run_id, version, round, num_params, sha256, created_at, storage, params
		FROM model_versions WHERE run_id = ? AND version = ?`, runID, version)
	if errors.Is(err, sql.ErrNoRows) {
		return ModelVersion{}, fmt.Errorf("store: model version %d of run %q: %w", version, runID, ErrNotFound)
	}
	if err != nil {
		return ModelVersion{}, fmt.Errorf("store: model version %d of run %q: %w", version, runID, err)
	}
	return mv, nil
}

// LatestModel returns the highest model version of a run with its
// parameters, verified as in GetModel.
func (d *DB) LatestModel(ctx context.Context, runID string) (ModelVersion, error) {
	mv, err := d.readModel(ctx, `
		SELECT run_id, version, round, num_params, sha256, created_at, storage, params
		FROM model_versions WHERE run_id = ? ORDER BY version DESC LIMIT 1`, runID)
	if errors.Is(err, sql.ErrNoRows) {
		return ModelVersion{}, fmt.Errorf("store: latest model of run %q: %w", runID, ErrNotFound)
	}
	if err != nil {
		return ModelVersion{}, fmt.Errorf("store: latest model of run %q: %w", runID, err)
	}
	return mv, nil
}

// readModel reads the model version that query selects, with its
// parameters, in one read transaction: the row, then its chunks.
func (d *DB) readModel(ctx context.Context, query string, args ...any) (mv ModelVersion, err error) {
	tx, err := d.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return ModelVersion{}, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // read only: nothing to commit
	var storage string
	var inline []byte
	mv, err = scanModelMeta(tx.QueryRowContext(ctx, query, args...), &storage, &inline)
	if err != nil {
		return ModelVersion{}, err
	}
	if mv.NumParams > maxParams {
		return ModelVersion{}, fmt.Errorf("%w: version %d claims %d params, more than %d", ErrCorrupt, mv.Version, mv.NumParams, maxParams)
	}
	h := sha256.New()
	switch storage {
	case "inline":
		if len(inline) != 8*mv.NumParams {
			return ModelVersion{}, fmt.Errorf("%w: version %d has %d bytes for %d params", ErrCorrupt, mv.Version, len(inline), mv.NumParams)
		}
		h.Write(inline)
		if mv.Params, err = DecodeParams(inline); err != nil {
			return ModelVersion{}, err
		}
	case "chunked":
		if mv.Params, err = readChunks(ctx, tx, mv, h); err != nil {
			return ModelVersion{}, err
		}
	default:
		return ModelVersion{}, fmt.Errorf("%w: version %d has storage %q", ErrCorrupt, mv.Version, storage)
	}
	if !bytes.Equal(h.Sum(nil), mv.SHA256[:]) {
		return ModelVersion{}, fmt.Errorf("%w: params of version %d do not match their SHA-256", ErrCorrupt, mv.Version)
	}
	return mv, nil
}

// readChunks decodes the chunks of mv into a new slice of mv.NumParams
// values, writing their bytes to h. It reads each chunk in place (no copy
// of the BLOB on the Go heap) and checks that the chunks are numbered from
// 0 with no gap, all full but the last, and add up to NumParams.
func readChunks(ctx context.Context, tx *sql.Tx, mv ModelVersion, h io.Writer) ([]float64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, data FROM model_chunks WHERE run_id = ? AND version = ? ORDER BY seq`, mv.RunID, mv.Version)
	if err != nil {
		return nil, fmt.Errorf("chunks of version %d: %w", mv.Version, err)
	}
	defer rows.Close()
	p := make([]float64, mv.NumParams)
	off, want := 0, 0
	for rows.Next() {
		var seq int
		var data sql.RawBytes
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, fmt.Errorf("chunks of version %d: %w", mv.Version, err)
		}
		switch {
		case seq != want:
			return nil, fmt.Errorf("%w: version %d: chunk %d where chunk %d belongs", ErrCorrupt, mv.Version, seq, want)
		case off < len(p) && 8*off%chunkBytes != 0:
			return nil, fmt.Errorf("%w: version %d: chunk %d follows a short chunk", ErrCorrupt, mv.Version, seq)
		case len(data)%8 != 0 || len(data) > chunkBytes || off+len(data)/8 > len(p):
			return nil, fmt.Errorf("%w: version %d: chunk %d has %d bytes (at value %d of %d)", ErrCorrupt, mv.Version, seq, len(data), off, len(p))
		}
		h.Write(data)
		decodeParamsInto(p[off:off+len(data)/8], data)
		off += len(data) / 8
		want++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chunks of version %d: %w", mv.Version, err)
	}
	if off != len(p) {
		return nil, fmt.Errorf("%w: version %d: chunks hold %d of its %d params", ErrCorrupt, mv.Version, off, len(p))
	}
	return p, nil
}

// ListModels returns the versions of a run in order, without parameters.
func (d *DB) ListModels(ctx context.Context, runID string) ([]ModelVersion, error) {
	if _, err := runStateTx(ctx, d.sql, runID); err != nil {
		return nil, fmt.Errorf("store: list models: %w", err)
	}
	rows, err := d.sql.QueryContext(ctx, `
		SELECT run_id, version, round, num_params, sha256, created_at
		FROM model_versions WHERE run_id = ? ORDER BY version`, runID)
	if err != nil {
		return nil, fmt.Errorf("store: list models of run %q: %w", runID, err)
	}
	defer rows.Close()
	var out []ModelVersion
	for rows.Next() {
		mv, err := scanModelMeta(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list models of run %q: %w", runID, err)
		}
		out = append(out, mv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list models of run %q: %w", runID, err)
	}
	return out, nil
}

// scanModelMeta scans a model_versions row without its parameters; extra
// receives the columns selected after created_at.
func scanModelMeta(s rowScanner, extra ...any) (ModelVersion, error) {
	var mv ModelVersion
	var sum []byte
	var created string
	dest := append([]any{&mv.RunID, &mv.Version, &mv.Round, &mv.NumParams, &sum, &created}, extra...)
	if err := s.Scan(dest...); err != nil {
		return ModelVersion{}, err
	}
	if len(sum) != len(mv.SHA256) {
		return ModelVersion{}, fmt.Errorf("%w: stored hash has %d bytes", ErrCorrupt, len(sum))
	}
	copy(mv.SHA256[:], sum)
	t, err := parseTime(created)
	if err != nil {
		return ModelVersion{}, err
	}
	mv.CreatedAt = t
	return mv, nil
}
