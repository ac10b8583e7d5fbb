package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"
)

// Round statuses.
const (
	RoundCommitted = "committed"
	RoundFailed    = "failed"
)

// Participant statuses.
const (
	ParticipantAccepted = "accepted"
	ParticipantRejected = "rejected"
	ParticipantLate     = "late"
	ParticipantDropped  = "dropped"
)

// Participant is one client's part in a round attempt.
type Participant struct {
	Client      string
	NumExamples int64
	Status      string // "accepted", "rejected", "late", "dropped"
	Reason      string
	UpdateHash  []byte // optional
}

// RoundRecord is one attempt at a round. A round number may have several
// failed attempts and at most one committed one; attempts are told apart by
// Attempt, which must be unique within the round (see NextAttempt).
type RoundRecord struct {
	RunID              string
	Round              int    // from 1
	Status             string // "committed", "failed"
	Attempt            int    // retries of the same round number, from 0
	Reason             string // why it failed
	StartedAt, EndedAt time.Time
	Participants       []Participant
	Metrics            map[string]float64 // e.g. "eval_loss", "eval_accuracy"; NaN is kept
}

// CommitRound is CommitRoundTx without extra rows.
func (d *DB) CommitRound(ctx context.Context, rec RoundRecord, mv ModelVersion) error {
	return d.CommitRoundTx(ctx, rec, mv, nil)
}

// CommitRoundTx records a committed round in ONE transaction: the round
// row, its participants, its metrics, the new model version with its
// parameters, and whatever extra writes (privacy ledger entries, audit
// events). Either all of it is durable when CommitRoundTx returns nil, or
// none of it is written.
//
// rec.Status may be empty or "committed". rec.Round must be the round after
// the last committed one, the run must be running, mv.Version and mv.Round
// must equal rec.Round, and mv.RunID may be empty or equal rec.RunID.
// Violations return errors wrapping ErrConflict or ErrInvalid. extra runs
// last, inside the transaction; if it returns an error nothing is written.
// extra must use only the *sql.Tx it is given.
func (d *DB) CommitRoundTx(ctx context.Context, rec RoundRecord, mv ModelVersion, extra func(*sql.Tx) error) error {
	if rec.Status == "" {
		rec.Status = RoundCommitted
	}
	if rec.Status != RoundCommitted {
		return fmt.Errorf("store: commit round %d of run %q: status %q, want %q: %w",
			rec.Round, rec.RunID, rec.Status, RoundCommitted, ErrInvalid)
	}
	if err := validateRound(rec); err != nil {
		return fmt.Errorf("store: commit round %d of run %q: %w", rec.Round, rec.RunID, err)
	}
	if mv.RunID == "" {
		mv.RunID = rec.RunID
	}
	if mv.Version != rec.Round || mv.Round != rec.Round {
		return fmt.Errorf("store: commit round %d of run %q: model version %d of round %d, want both %d: %w",
			rec.Round, rec.RunID, mv.Version, mv.Round, rec.Round, ErrInvalid)
	}
	return d.Tx(ctx, func(tx *sql.Tx) error {
		if err := insertRound(ctx, tx, rec); err != nil {
			return fmt.Errorf("store: commit round %d of run %q: %w", rec.Round, rec.RunID, err)
		}
		if err := insertModel(ctx, tx, rec.RunID, mv); err != nil {
			return fmt.Errorf("store: commit round %d of run %q: %w", rec.Round, rec.RunID, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET updated_at = ? WHERE id = ?`,
			formatTime(now()), rec.RunID); err != nil {
			return fmt.Errorf("store: commit round %d of run %q: %w", rec.Round, rec.RunID, err)
		}
		if extra != nil {
			if err := extra(tx); err != nil {
				return fmt.Errorf("store: commit round %d of run %q: extra writes: %w", rec.Round, rec.RunID, err)
			}
		}
		return nil
	})
}

// RecordFailedRound keeps a failed attempt at a round, with whatever
// participants and metrics it gathered. rec.Status may be empty or
// "failed". The round must be the one after the last committed round and
// the attempt number must not have been used for it.
func (d *DB) RecordFailedRound(ctx context.Context, rec RoundRecord) error {
	if rec.Status == "" {
		rec.Status = RoundFailed
	}
	if rec.Status != RoundFailed {
		return fmt.Errorf("store: record failed round %d of run %q: status %q, want %q: %w",
			rec.Round, rec.RunID, rec.Status, RoundFailed, ErrInvalid)
	}
	if err := validateRound(rec); err != nil {
		return fmt.Errorf("store: record failed round %d of run %q: %w", rec.Round, rec.RunID, err)
	}
	return d.Tx(ctx, func(tx *sql.Tx) error {
		if err := insertRound(ctx, tx, rec); err != nil {
			return fmt.Errorf("store: record failed round %d of run %q: %w", rec.Round, rec.RunID, err)
		}
		return nil
	})
}

func validateRound(rec RoundRecord) error {
	if rec.RunID == "" {
		return fmt.Errorf("empty run ID: %w", ErrInvalid)
	}
	if rec.Round < 1 {
		return fmt.Errorf("round numbers start at 1: %w", ErrInvalid)
	}
	if rec.Attempt < 0 {
		return fmt.Errorf("negative attempt %d: %w", rec.Attempt, ErrInvalid)
	}
	seen := make(map[string]bool, len(rec.Participants))
	for i, p := range rec.Participants {
		if p.Client == "" {
			return fmt.Errorf("participant %d has an empty client name: %w", i, ErrInvalid)
		}
		if seen[p.Client] {
			return fmt.Errorf("participant %q listed twice: %w", p.Client, ErrInvalid)
		}
		seen[p.Client] = true
		if p.NumExamples < 0 {
			return fmt.Errorf("participant %q has negative NumExamples %d: %w", p.Client, p.NumExamples, ErrInvalid)
		}
		switch p.Status {
		case ParticipantAccepted, ParticipantRejected, ParticipantLate, ParticipantDropped:
		default:
			return fmt.Errorf("participant %q has unknown status %q: %w", p.Client, p.Status, ErrInvalid)
		}
	}
	for name := range rec.Metrics {
		if name == "" {
			return fmt.Errorf("metric with an empty name: %w", ErrInvalid)
		}
	}
	return nil
}

// insertRound writes the round row, participants and metrics inside tx
// after checking the ordering invariants.
func insertRound(ctx context.Context, tx *sql.Tx, rec RoundRecord) error {
	st, err := runStateTx(ctx, tx, rec.RunID)
	if err != nil {
		return err
	}
	if st != RunRunning {
		return fmt.Errorf("run is %s, not running: %w", st, ErrConflict)
	}
	last, err := lastCommitted(ctx, tx, rec.RunID)
	if err != nil {
		return err
	}
	if rec.Round != last+1 {
		return fmt.Errorf("last committed round is %d, so the next round is %d: %w", last, last+1, ErrConflict)
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM rounds WHERE run_id = ? AND round = ? AND attempt = ?`,
		rec.RunID, rec.Round, rec.Attempt).Scan(&one)
	if err == nil {
		return fmt.Errorf("attempt %d already recorded: %w", rec.Attempt, ErrConflict)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO rounds (run_id, round, attempt, status, reason, started_at, ended_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		rec.RunID, rec.Round, rec.Attempt, rec.Status, rec.Reason,
		formatTime(rec.StartedAt), formatTime(rec.EndedAt)); err != nil {
		return fmt.Errorf("insert round row: %w", err)
	}
	for _, p := range rec.Participants {
		var hash any // NULL when absent
		if p.UpdateHash != nil {
			hash = p.UpdateHash
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO round_participants (run_id, round, attempt, client, num_examples, status, reason, update_hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.RunID, rec.Round, rec.Attempt, p.Client, p.NumExamples, p.Status, p.Reason, hash); err != nil {
			return fmt.Errorf("insert participant %q: %w", p.Client, err)
		}
	}
	for name, v := range rec.Metrics {
		var val any = v
		if math.IsNaN(v) {
			val = nil
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO round_metrics (run_id, round, attempt, name, value) VALUES (?, ?, ?, ?, ?)`,
			rec.RunID, rec.Round, rec.Attempt, name, val); err != nil {
			return fmt.Errorf("insert metric %q: %w", name, err)
		}
	}
	return nil
}

type queryRower interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

func lastCommitted(ctx context.Context, q queryRower, runID string) (int, error) {
	var last int
	err := q.QueryRowContext(ctx,
		`SELECT COALESCE(MAX(round), 0) FROM rounds WHERE run_id = ? AND status = 'committed'`, runID).Scan(&last)
	if err != nil {
		return 0, fmt.Errorf("read last committed round: %w", err)
	}
	return last, nil
}

// LastCommittedRound returns the highest committed round of a run, 0 if
// none. Because rounds commit in order together with their model version,
// rounds 1..r and model versions 0..r all exist when it returns r.
func (d *DB) LastCommittedRound(ctx context.Context, runID string) (int, error) {
	if _, err := runStateTx(ctx, d.sql, runID); err != nil {
		return 0, fmt.Errorf("store: last committed round: %w", err)
	}
	last, err := lastCommitted(ctx, d.sql, runID)
	if err != nil {
		return 0, fmt.Errorf("store: run %q: %w", runID, err)
	}
	return last, nil
}

// NextAttempt returns the attempt number to use for the next try at round:
// one more than the highest recorded attempt, or 0 if there is none. A
// coordinator resuming after a crash uses it so that its retry does not
// collide with attempts recorded before the crash.
func (d *DB) NextAttempt(ctx context.Context, runID string, round int) (int, error) {
	if _, err := runStateTx(ctx, d.sql, runID); err != nil {
		return 0, fmt.Errorf("store: next attempt: %w", err)
	}
	var next int
	err := d.sql.QueryRowContext(ctx,
		`SELECT COALESCE(MAX(attempt) + 1, 0) FROM rounds WHERE run_id = ? AND round = ?`, runID, round).Scan(&next)
	if err != nil {
		return 0, fmt.Errorf("store: next attempt of round %d of run %q: %w", round, runID, err)
	}
	return next, nil
}

type roundKey struct{ round, attempt int }

// Rounds returns every recorded attempt of a run, committed and failed, in
// order of round then attempt, with participants (in the order given when
// recorded) and metrics.
func (d *DB) Rounds(ctx context.Context, runID string) ([]RoundRecord, error) {
	var out []RoundRecord
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		out = nil
		if _, err := runStateTx(ctx, tx, runID); err != nil {
			return err
		}
		idx := map[roundKey]int{}
		rows, err := tx.QueryContext(ctx, `
			SELECT round, attempt, status, reason, started_at, ended_at
			FROM rounds WHERE run_id = ? ORDER BY round, attempt`, runID)
		if err != nil {
			return err
		}
		for rows.Next() {
			rec := RoundRecord{RunID: runID}
			var started, ended string
			if err := rows.Scan(&rec.Round, &rec.Attempt, &rec.Status, &rec.Reason, &started, &ended); err != nil {
				rows.Close()
				return err
			}
			if rec.StartedAt, err = parseTime(started); err != nil {
				rows.Close()
				return err
			}
			if rec.EndedAt, err = parseTime(ended); err != nil {
				rows.Close()
				return err
			}
			idx[roundKey{rec.Round, rec.Attempt}] = len(out)
			out = append(out, rec)
		}
		if err := closeRows(rows); err != nil {
			return err
		}

		rows, err = tx.QueryContext(ctx, `
			SELECT round, attempt, client, num_examples, status, reason, update_hash
			FROM round_participants WHERE run_id = ? ORDER BY round, attempt, rowid`, runID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k roundKey
			var p Participant
			if err := rows.Scan(&k.round, &k.attempt, &p.Client, &p.NumExamples, &p.Status, &p.Reason, &p.UpdateHash); err != nil {
				rows.Close()
				return err
			}
			i, ok := idx[k]
			if !ok {
				rows.Close()
				return fmt.Errorf("%w: participant %q of missing round %d attempt %d", ErrCorrupt, p.Client, k.round, k.attempt)
			}
			out[i].Participants = append(out[i].Participants, p)
		}
		if err := closeRows(rows); err != nil {
			return err
		}

		rows, err = tx.QueryContext(ctx, `
			SELECT round, attempt, name, value FROM round_metrics WHERE run_id = ? ORDER BY round, attempt, name`, runID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k roundKey
			var name string
			var v sql.NullFloat64
			if err := rows.Scan(&k.round, &k.attempt, &name, &v); err != nil {
				rows.Close()
				return err
			}
			i, ok := idx[k]
			if !ok {
				rows.Close()
				return fmt.Errorf("%w: metric %q of missing round %d attempt %d", ErrCorrupt, name, k.round, k.attempt)
			}
			if out[i].Metrics == nil {
				out[i].Metrics = map[string]float64{}
			}
			val := math.NaN()
			if v.Valid {
				val = v.Float64
			}
			out[i].Metrics[name] = val
		}
		return closeRows(rows)
	})
	if err != nil {
		return nil, fmt.Errorf("store: rounds of run %q: %w", runID, err)
	}
	return out, nil
}

func closeRows(rows *sql.Rows) error {
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}
