package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// RunState is the lifecycle state of a run.
type RunState string

// Run states. Only a running run accepts rounds.
const (
	RunRunning   RunState = "running"
	RunCompleted RunState = "completed"
	RunFailed    RunState = "failed"
	RunStopped   RunState = "stopped"
)

// Valid reports whether s is one of the defined states.
func (s RunState) Valid() bool {
	switch s {
	case RunRunning, RunCompleted, RunFailed, RunStopped:
		return true
	}
	return false
}

// Run is one federated training run.
type Run struct {
	ID          string
	ConfigJSON  string // the full run configuration, opaque to the store
	State       RunState
	Error       string // why the run failed or stopped, if it did
	CreatedAt   time.Time
	UpdatedAt   time.Time
	RoundsTotal int // rounds the run is configured for
}

// CreateRun inserts run and its initial model (version 0, round 0) in one
// transaction. A zero State means RunRunning; zero timestamps mean now.
// initial.RunID may be empty; otherwise it must equal run.ID.
func (d *DB) CreateRun(ctx context.Context, run Run, initial ModelVersion) error {
	if run.ID == "" {
		return fmt.Errorf("store: create run: empty ID: %w", ErrInvalid)
	}
	if run.State == "" {
		run.State = RunRunning
	}
	if !run.State.Valid() {
		return fmt.Errorf("store: create run %q: unknown state %q: %w", run.ID, run.State, ErrInvalid)
	}
	if run.RoundsTotal < 0 {
		return fmt.Errorf("store: create run %q: negative RoundsTotal %d: %w", run.ID, run.RoundsTotal, ErrInvalid)
	}
	if initial.RunID == "" {
		initial.RunID = run.ID
	}
	if initial.Version != 0 || initial.Round != 0 {
		return fmt.Errorf("store: create run %q: initial model must be version 0 of round 0, got version %d round %d: %w",
			run.ID, initial.Version, initial.Round, ErrInvalid)
	}
	t := now()
	if run.CreatedAt.IsZero() {
		run.CreatedAt = t
	}
	if run.UpdatedAt.IsZero() {
		run.UpdatedAt = run.CreatedAt
	}
	if initial.CreatedAt.IsZero() {
		initial.CreatedAt = run.CreatedAt
	}
	return d.Tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = ?`, run.ID).Scan(&one)
		if err == nil {
			return fmt.Errorf("store: create run %q: %w", run.ID, ErrExists)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: create run %q: %w", run.ID, err)
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO runs (id, config_json, state, error, rounds_total, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			run.ID, run.ConfigJSON, string(run.State), run.Error, run.RoundsTotal,
			formatTime(run.CreatedAt), formatTime(run.UpdatedAt))
		if err != nil {
			return fmt.Errorf("store: create run %q: %w", run.ID, err)
		}
		if err := insertModel(ctx, tx, run.ID, initial); err != nil {
			return fmt.Errorf("store: create run %q: %w", run.ID, err)
		}
		return nil
	})
}

const runColumns = `id, config_json, state, error, rounds_total, created_at, updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanRun(s rowScanner) (Run, error) {
	var r Run
	var state, created, updated string
	if err := s.Scan(&r.ID, &r.ConfigJSON, &state, &r.Error, &r.RoundsTotal, &created, &updated); err != nil {
		return Run{}, err
	}
	r.State = RunState(state)
	var err error
	if r.CreatedAt, err = parseTime(created); err != nil {
		return Run{}, err
	}
	if r.UpdatedAt, err = parseTime(updated); err != nil {
		return Run{}, err
	}
	return r, nil
}

// GetRun returns the run with the given ID, or an error wrapping ErrNotFound.
func (d *DB) GetRun(ctx context.Context, id string) (Run, error) {
	r, err := scanRun(d.sql.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("store: run %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("store: get run %q: %w", id, err)
	}
	return r, nil
}

// ListRuns returns all runs, oldest first.
func (d *DB) ListRuns(ctx context.Context) ([]Run, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT `+runColumns+` FROM runs ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	defer rows.Close()
	var runs []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list runs: %w", err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	return runs, nil
}

// SetRunState sets the state and error message of a run and bumps its
// UpdatedAt. Any transition between valid states is allowed, so that a
// stopped or failed run can be resumed by setting it back to RunRunning.
func (d *DB) SetRunState(ctx context.Context, id string, st RunState, errMsg string) error {
	if !st.Valid() {
		return fmt.Errorf("store: set state of run %q: unknown state %q: %w", id, st, ErrInvalid)
	}
	res, err := d.sql.ExecContext(ctx, `UPDATE runs SET state = ?, error = ?, updated_at = ? WHERE id = ?`,
		string(st), errMsg, formatTime(now()), id)
	if err != nil {
		return fmt.Errorf("store: set state of run %q: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: set state of run %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: set state of run %q: %w", id, ErrNotFound)
	}
	return nil
}

// runStateTx returns the state of a run, or an error wrapping ErrNotFound.
func runStateTx(ctx context.Context, q queryRower, id string) (RunState, error) {
	var st string
	err := q.QueryRowContext(ctx, `SELECT state FROM runs WHERE id = ?`, id).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("run %q: %w", id, err)
	}
	return RunState(st), nil
}
