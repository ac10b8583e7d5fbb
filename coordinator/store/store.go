package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Sentinel errors. Every error returned by this package wraps at most one of
// them; test with errors.Is.
var (
	// ErrNotFound reports that a run, round or model version does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists reports that a run with the same ID already exists.
	ErrExists = errors.New("store: already exists")
	// ErrConflict reports a write that would break the store's invariants:
	// a round that is not the next one, a reused attempt number, or a commit
	// to a run that is not running.
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid reports a malformed argument (empty ID, unknown state, ...).
	ErrInvalid = errors.New("store: invalid argument")
	// ErrCorrupt reports stored data that fails verification, such as a
	// model BLOB whose SHA-256 no longer matches.
	ErrCorrupt = errors.New("store: corrupt data")
	// ErrSchemaTooNew reports a database written by a newer binary whose
	// schema this binary does not know.
	ErrSchemaTooNew = errors.New("store: schema version newer than this binary")
)

// busyTimeout is how long a statement waits for another connection (for
// example an auditor's sqlite3 shell) to release a lock.
const busyTimeout = 10 * time.Second

// DB is the coordinator's durable state: one SQLite file.
//
// A DB is safe for concurrent use. It holds a single connection, so all
// operations are serialised; in particular, a callback passed to Tx or
// CommitRoundTx must use only the *sql.Tx it is given and must not call
// methods of DB, which would wait forever for the connection it holds.
type DB struct {
	sql  *sql.DB
	path string
}

// Open opens (creating if necessary) the SQLite database at path, applies
// the durability settings described in the package documentation, and runs
// any pending schema migrations.
func Open(path string) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("store: open: empty path: %w", ErrInvalid)
	}
	// The driver splits the DSN at the first '?', so such a path cannot be
	// expressed; ":memory:" and "file:" URIs would bypass WAL and the
	// durability guarantees this package documents.
	if strings.ContainsAny(path, "?#") || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: open %q: path must be a plain file name without '?' or '#': %w", path, ErrInvalid)
	}

	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %q: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	d := &DB{sql: db, path: path}
	ctx := context.Background()
	if err := d.checkPragmas(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %q: %w", path, err)
	}
	if err := d.Migrate(ctx, storeComponent, storeMigrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %q: %w", path, err)
	}
	return d, nil
}

// checkPragmas verifies that the connection really runs with the settings
// the durability argument depends on; a silent fallback (for example to
// journal_mode=delete on a file system without shared memory) is an error.
func (d *DB) checkPragmas(ctx context.Context) error {
	var mode string
	if err := d.sql.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	var syncMode, fk int
	if err := d.sql.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if syncMode != 2 { // FULL
		return fmt.Errorf("synchronous is %d, want 2 (FULL)", syncMode)
	}
	if err := d.sql.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("read foreign_keys: %w", err)
	}
	if fk != 1 {
		return errors.New("foreign_keys is off")
	}
	return nil
}

// Close closes the database. Committed transactions are already durable;
// Close only releases the file.
func (d *DB) Close() error {
	if err := d.sql.Close(); err != nil {
		return fmt.Errorf("store: close %q: %w", d.path, err)
	}
	return nil
}

// Path returns the file name the DB was opened with.
func (d *DB) Path() string { return d.path }

// SQL returns the underlying handle so that other packages can keep their
// own tables in the same file (see Migrate). It has a single connection;
// the caller must not change pool settings or connection pragmas.
func (d *DB) SQL() *sql.DB { return d.sql }

// Tx runs fn inside one write transaction (BEGIN IMMEDIATE). The transaction
// commits if fn returns nil and rolls back if fn returns an error or panics
// (the panic is then re-raised). fn must not call methods of d.
func (d *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// The error from fn (or the panic) is the one worth reporting.
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	committed = true
	return nil
}

// timeLayout is a fixed-width UTC timestamp, readable in sqlite3 and sorted
// correctly as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: bad timestamp %q", ErrCorrupt, s)
	}
	return t, nil
}

// now returns the current time rounded to what the store keeps, so values
// written and read back compare equal.
func now() time.Time { return time.Now().UTC().Round(0) }
