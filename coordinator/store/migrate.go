package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Migration is one forward-only schema step. Its version is its position in
// the list passed to Migrate, counting from 1. Released migrations are never
// edited, removed or reordered; new ones are appended.
type Migration struct {
	// Name describes the step for error messages and readers of the code.
	Name string
	// SQL is executed as one script; it may hold several statements.
	SQL string
	// Apply, if set, runs after SQL in the same transaction, for steps that
	// need Go code (backfilling a column, for example).
	Apply func(ctx context.Context, tx *sql.Tx) error
}

// storeComponent is the schema_version key of this package's own tables.
const storeComponent = "store"

// createSchemaVersion bootstraps the migration bookkeeping table. It is the
// only DDL outside the migration lists.
const createSchemaVersion = `
CREATE TABLE IF NOT EXISTS schema_version (
	component  TEXT PRIMARY KEY NOT NULL,
	version    INTEGER NOT NULL CHECK (version >= 0),
	updated_at TEXT NOT NULL
) STRICT`

// Migrate brings the tables of component up to date by applying, in order,
// every migration in ms beyond the version recorded for component in the
// schema_version table. Each step commits in its own transaction together
// with its version bump, so an interrupted Migrate resumes where it stopped.
//
// Packages that keep tables in the coordinator's file (the privacy ledger,
// the audit log, ...) call Migrate once after Open with their own component
// name and list. Migrate returns an error wrapping ErrSchemaTooNew when the
// file records more steps than ms holds.
func (d *DB) Migrate(ctx context.Context, component string, ms []Migration) error {
	if component == "" {
		return fmt.Errorf("store: migrate: empty component name: %w", ErrInvalid)
	}
	if _, err := d.sql.ExecContext(ctx, createSchemaVersion); err != nil {
		return fmt.Errorf("store: migrate %s: create schema_version: %w", component, err)
	}
	for {
		done := false
		err := d.Tx(ctx, func(tx *sql.Tx) error {
			// Read the version inside the write transaction so that two
			// processes migrating at once cannot both apply a step.
			v, err := schemaVersion(ctx, tx, component)
			if err != nil {
				return err
			}
			if v > len(ms) {
				return fmt.Errorf("store: migrate %s: file is at version %d, this binary knows %d: %w",
					component, v, len(ms), ErrSchemaTooNew)
			}
			if v == len(ms) {
				done = true
				return nil
			}
			m := ms[v]
			next := v + 1
			if m.SQL != "" {
				if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
					return fmt.Errorf("store: migrate %s to version %d (%s): %w", component, next, m.Name, err)
				}
			}
			if m.Apply != nil {
				if err := m.Apply(ctx, tx); err != nil {
					return fmt.Errorf("store: migrate %s to version %d (%s): %w", component, next, m.Name, err)
				}
			}
			_, err = tx.ExecContext(ctx, `
				INSERT INTO schema_version (component, version, updated_at) VALUES (?, ?, ?)
				ON CONFLICT (component) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
				component, next, formatTime(now()))
			if err != nil {
				return fmt.Errorf("store: migrate %s: record version %d: %w", component, next, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// SchemaVersion returns the number of migrations applied for component
// (0 if none).
func (d *DB) SchemaVersion(ctx context.Context, component string) (int, error) {
	if _, err := d.sql.ExecContext(ctx, createSchemaVersion); err != nil {
		return 0, fmt.Errorf("store: schema version of %s: %w", component, err)
	}
	var v int
	err := d.sql.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE component = ?`, component).Scan(&v)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: schema version of %s: %w", component, err)
	}
	return v, nil
}

func schemaVersion(ctx context.Context, tx *sql.Tx, component string) (int, error) {
	var v int
	err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE component = ?`, component).Scan(&v)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: read schema version of %s: %w", component, err)
	}
	return v, nil
}

// storeMigrations is this package's schema history. Append only.
var storeMigrations = []Migration{
	{
		Name: "runs, rounds, participants, metrics, model versions",
		SQL: `
CREATE TABLE runs (
	id           TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
	config_json  TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('running', 'completed', 'failed', 'stopped')),
	error        TEXT NOT NULL DEFAULT '',
	rounds_total INTEGER NOT NULL CHECK (rounds_total >= 0),
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL
) STRICT;

CREATE TABLE model_versions (
	run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	version    INTEGER NOT NULL CHECK (version >= 0),
	round      INTEGER NOT NULL CHECK (round >= 0),
	num_params INTEGER NOT NULL CHECK (num_params >= 0),
	sha256     BLOB NOT NULL CHECK (length(sha256) = 32),
	params     BLOB NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (run_id, version)
) STRICT;

CREATE TABLE rounds (
	run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	round      INTEGER NOT NULL CHECK (round >= 1),
	attempt    INTEGER NOT NULL CHECK (attempt >= 0),
	status     TEXT NOT NULL CHECK (status IN ('committed', 'failed')),
	reason     TEXT NOT NULL DEFAULT '',
	started_at TEXT NOT NULL,
	ended_at   TEXT NOT NULL,
	PRIMARY KEY (run_id, round, attempt)
) STRICT;

-- At most one committed attempt per round.
CREATE UNIQUE INDEX rounds_one_commit ON rounds (run_id, round) WHERE status = 'committed';

CREATE TABLE round_participants (
	run_id       TEXT NOT NULL,
	round        INTEGER NOT NULL,
	attempt      INTEGER NOT NULL,
	client       TEXT NOT NULL CHECK (client <> ''),
	num_examples INTEGER NOT NULL CHECK (num_examples >= 0),
	status       TEXT NOT NULL CHECK (status IN ('accepted', 'rejected', 'late', 'dropped')),
	reason       TEXT NOT NULL DEFAULT '',
	update_hash  BLOB,
	PRIMARY KEY (run_id, round, attempt, client),
	FOREIGN KEY (run_id, round, attempt) REFERENCES rounds (run_id, round, attempt) ON DELETE CASCADE
) STRICT;

CREATE TABLE round_metrics (
	run_id  TEXT NOT NULL,
	round   INTEGER NOT NULL,
	attempt INTEGER NOT NULL,
	name    TEXT NOT NULL CHECK (name <> ''),
	value   REAL, -- NULL stands for NaN, which SQLite cannot store
	PRIMARY KEY (run_id, round, attempt, name),
	FOREIGN KEY (run_id, round, attempt) REFERENCES rounds (run_id, round, attempt) ON DELETE CASCADE
) STRICT;
`,
	},
	{
		// A model in one BLOB costs SQLite about two more copies of it in
		// C memory while the row is written or read (measured: 20 MB for
		// an 8 MB model). Chunks keep that to a few hundred KiB at any
		// size, and a model beyond SQLite's 1 GB BLOB limit can be stored.
		// Rows written before this step keep storage 'inline'.
		Name: "model parameters stored in chunks",
		SQL: `
ALTER TABLE model_versions ADD COLUMN storage TEXT NOT NULL DEFAULT 'inline'
	CHECK (storage IN ('inline', 'chunked'));

CREATE TABLE model_chunks (
	run_id  TEXT NOT NULL,
	version INTEGER NOT NULL,
	seq     INTEGER NOT NULL CHECK (seq >= 0),
	data    BLOB NOT NULL CHECK (length(data) > 0 AND length(data) % 8 = 0),
	PRIMARY KEY (run_id, version, seq),
	FOREIGN KEY (run_id, version) REFERENCES model_versions (run_id, version) ON DELETE CASCADE
) STRICT;
`,
	},
}
