package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/privacy/accountant"
)

// ErrBudgetExceeded reports a release that would take a party past its budget.
var ErrBudgetExceeded = errors.New("privacy: budget exceeded")

// ClientParty is the party of client-level releases: the run's clients.
const ClientParty = "*clients"

// Mechanism names.
const SubsampledGaussian = "subsampled_gaussian"

// Statuses of a ledger row.
const (
	Pending  = "pending"
	Released = "released"
)

// Entry is one noisy release.
type Entry struct {
	ID        int64     `json:"id"`
	RunID     string    `json:"run_id"`
	Party     string    `json:"party"`
	Round     int       `json:"round"`
	Attempt   int       `json:"attempt"`
	Purpose   string    `json:"purpose"` // "update", "clip_count", "dpsgd", ...
	Mechanism string    `json:"mechanism"`
	Q         float64   `json:"q"`
	Sigma     float64   `json:"sigma"`
	Steps     int       `json:"steps"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// Event returns the accountant event of the entry.
func (e Entry) Event() accountant.Event {
	return accountant.Event{Q: e.Q, Sigma: e.Sigma, Steps: e.Steps}
}

// Validate checks an entry before it is written.
func (e Entry) Validate() error {
	switch {
	case e.RunID == "" || e.Party == "":
		return fmt.Errorf("privacy: ledger entry needs a run and a party (got %q, %q)", e.RunID, e.Party)
	case e.Mechanism != SubsampledGaussian:
		return fmt.Errorf("privacy: ledger entry mechanism %q is unknown", e.Mechanism)
	case !(e.Q > 0 && e.Q <= 1):
		return fmt.Errorf("privacy: ledger entry sampling rate %v outside (0, 1]", e.Q)
	case !(e.Sigma > 0) || math.IsInf(e.Sigma, 0):
		return fmt.Errorf("privacy: ledger entry noise multiplier %v is not a positive number", e.Sigma)
	case e.Steps < 1:
		return fmt.Errorf("privacy: ledger entry has %d steps", e.Steps)
	}
	return nil
}

var migrations = []store.Migration{{
	Name: "privacy ledger",
	SQL: `CREATE TABLE privacy_ledger (
		id          INTEGER PRIMARY KEY AUTOINCREMENT,
		run_id      TEXT NOT NULL,
		party       TEXT NOT NULL,
		round       INTEGER NOT NULL,
		attempt     INTEGER NOT NULL,
		purpose     TEXT NOT NULL,
		mechanism   TEXT NOT NULL,
		q           REAL NOT NULL CHECK (q > 0 AND q <= 1),
		sigma       REAL NOT NULL CHECK (sigma > 0),
		steps       INTEGER NOT NULL CHECK (steps >= 1),
		status      TEXT NOT NULL CHECK (status IN ('pending', 'released')),
		created_at  TEXT NOT NULL
	) STRICT;
	CREATE INDEX privacy_ledger_run ON privacy_ledger (run_id, party);`,
}}

// Ledger reads and writes the privacy ledger in a store file.
type Ledger struct {
	db  *store.DB
	now func() time.Time
}

// Open migrates the ledger table in db and returns the ledger.
func Open(ctx context.Context, db *store.DB) (*Ledger, error) {
	if err := db.Migrate(ctx, "privacy", migrations); err != nil {
		return nil, err
	}
	return &Ledger{db: db, now: time.Now}, nil
}

// Reserve appends entries as pending, in one transaction, after checking that
// every party stays within budget with them. It returns the row ids, to be
// marked released by ReleaseTx when the round commits.
func (l *Ledger) Reserve(ctx context.Context, acc accountant.Accountant, budgets map[string]Budget, entries ...Entry) ([]int64, error) {
	for _, e := range entries {
		if err := e.Validate(); err != nil {
			return nil, err
		}
	}
	var ids []int64
	err := l.db.Tx(ctx, func(tx *sql.Tx) error {
		ids = ids[:0]
		for party, b := range budgets {
			var next []Entry
			for _, e := range entries {
				if e.Party == party {
					next = append(next, e)
				}
			}
			if len(next) == 0 {
				continue
			}
			past, err := entriesTx(ctx, tx, next[0].RunID, party)
			if err != nil {
				return err
			}
			if _, err := b.check(acc, party, past, next); err != nil {
				return err
			}
		}
		for _, e := range entries {
			res, err := tx.ExecContext(ctx, `INSERT INTO privacy_ledger
				(run_id, party, round, attempt, purpose, mechanism, q, sigma, steps, status, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
				e.RunID, e.Party, e.Round, e.Attempt, e.Purpose, e.Mechanism, e.Q, e.Sigma, e.Steps,
				l.now().UTC().Format(time.RFC3339Nano))
			if err != nil {
				return fmt.Errorf("privacy: writing ledger entry: %w", err)
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// ReleaseTx marks reserved rows released, inside the caller's transaction
// (the one that commits the round).
func ReleaseTx(ctx context.Context, tx *sql.Tx, ids []int64) error {
	for _, id := range ids {
		res, err := tx.ExecContext(ctx, `UPDATE privacy_ledger SET status = 'released' WHERE id = ? AND status = 'pending'`, id)
		if err != nil {
			return fmt.Errorf("privacy: releasing ledger entry %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("privacy: ledger entry %d is not pending", id)
		}
	}
	return nil
}

// Entries returns a run's ledger rows in order; party "" means every party.
func (l *Ledger) Entries(ctx context.Context, runID, party string) ([]Entry, error) {
	var out []Entry
	err := l.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = entriesTx(ctx, tx, runID, party)
		return err
	})
	return out, err
}

func entriesTx(ctx context.Context, tx *sql.Tx, runID, party string) ([]Entry, error) {
	q := `SELECT id, run_id, party, round, attempt, purpose, mechanism, q, sigma, steps, status, created_at
		FROM privacy_ledger WHERE run_id = ?`
	args := []any{runID}
	if party != "" {
		q += ` AND party = ?`
		args = append(args, party)
	}
	rows, err := tx.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("privacy: reading ledger: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var created string
		if err := rows.Scan(&e.ID, &e.RunID, &e.Party, &e.Round, &e.Attempt, &e.Purpose, &e.Mechanism, &e.Q, &e.Sigma, &e.Steps, &e.Status, &created); err != nil {
			return nil, err
		}
		e.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Budget is a party's (ε, δ) budget.
type Budget struct {
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
}

// Spent returns the ε that entries spend at δ.
func Spent(acc accountant.Accountant, entries []Entry, delta float64) (float64, error) {
	if len(entries) == 0 {
		return 0, nil
	}
	ev := make([]accountant.Event, len(entries))
	for i, e := range entries {
		ev[i] = e.Event()
	}
	return acc.Epsilon(ev, delta)
}

// check returns ε after past+next, or ErrBudgetExceeded.
func (b Budget) check(acc accountant.Accountant, party string, past, next []Entry) (float64, error) {
	before, err := Spent(acc, past, b.Delta)
	if err != nil {
		return 0, err
	}
	after, err := Spent(acc, append(append([]Entry(nil), past...), next...), b.Delta)
	if err != nil {
		return 0, err
	}
	if after > b.Epsilon {
		return after, fmt.Errorf("%w: party %s has spent ε=%.4f of its budget ε=%.4f (δ=%g); the next release would bring it to ε=%.4f",
			ErrBudgetExceeded, party, before, b.Epsilon, b.Delta, after)
	}
	return after, nil
}

// NextAttempt returns one more than the highest attempt with a ledger row for
// the round (0 if none).
func (l *Ledger) NextAttempt(ctx context.Context, runID string, round int) (int, error) {
	var next int
	err := l.db.SQL().QueryRowContext(ctx,
		`SELECT COALESCE(MAX(attempt) + 1, 0) FROM privacy_ledger WHERE run_id = ? AND round = ?`, runID, round).Scan(&next)
	if err != nil {
		return 0, fmt.Errorf("privacy: reading ledger attempts: %w", err)
	}
	return next, nil
}
