package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
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

// maxParams bounds a model so that its BLOB stays well below SQLite's
// default 1 GB limit.
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
	for i := range p {
		p[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return p, nil
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
		INSERT INTO model_versions (run_id, version, round, num_params, sha256, params, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		runID, mv.Version, mv.Round, len(mv.Params), sum[:], blob, formatTime(mv.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert model version %d: %w", mv.Version, err)
	}
	return nil
}

// GetModel returns a model version with its parameters, after checking the
// BLOB against the stored SHA-256 (an error wrapping ErrCorrupt if it does
// not match) and ErrNotFound if there is no such version.
func (d *DB) GetModel(ctx context.Context, runID string, version int) (ModelVersion, error) {
	mv, err := scanFullModel(d.sql.QueryRowContext(ctx, `
		SELECT run_id, version, round, num_params, sha256, created_at, params
		FROM model_versions WHERE run_id = ? AND version = ?`, runID, version))
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
	mv, err := scanFullModel(d.sql.QueryRowContext(ctx, `
		SELECT run_id, version, round, num_params, sha256, created_at, params
		FROM model_versions WHERE run_id = ? ORDER BY version DESC LIMIT 1`, runID))
	if errors.Is(err, sql.ErrNoRows) {
		return ModelVersion{}, fmt.Errorf("store: latest model of run %q: %w", runID, ErrNotFound)
	}
	if err != nil {
		return ModelVersion{}, fmt.Errorf("store: latest model of run %q: %w", runID, err)
	}
	return mv, nil
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
		mv, _, err := scanModelMeta(rows, false)
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

func scanModelMeta(s rowScanner, withParams bool) (ModelVersion, []byte, error) {
	var mv ModelVersion
	var sum, blob []byte
	var created string
	dest := []any{&mv.RunID, &mv.Version, &mv.Round, &mv.NumParams, &sum, &created}
	if withParams {
		dest = append(dest, &blob)
	}
	if err := s.Scan(dest...); err != nil {
		return ModelVersion{}, nil, err
	}
	if len(sum) != len(mv.SHA256) {
		return ModelVersion{}, nil, fmt.Errorf("%w: stored hash has %d bytes", ErrCorrupt, len(sum))
	}
	copy(mv.SHA256[:], sum)
	t, err := parseTime(created)
	if err != nil {
		return ModelVersion{}, nil, err
	}
	mv.CreatedAt = t
	return mv, blob, nil
}

func scanFullModel(s rowScanner) (ModelVersion, error) {
	mv, blob, err := scanModelMeta(s, true)
	if err != nil {
		return ModelVersion{}, err
	}
	if got := sha256.Sum256(blob); got != mv.SHA256 {
		return ModelVersion{}, fmt.Errorf("%w: params BLOB of version %d does not match its SHA-256", ErrCorrupt, mv.Version)
	}
	if len(blob) != 8*mv.NumParams {
		return ModelVersion{}, fmt.Errorf("%w: version %d has %d bytes for %d params", ErrCorrupt, mv.Version, len(blob), mv.NumParams)
	}
	p, err := DecodeParams(blob)
	if err != nil {
		return ModelVersion{}, err
	}
	mv.Params = p
	return mv, nil
}
