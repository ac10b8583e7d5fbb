package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cohort.db")
	d, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

func countRows(t *testing.T, d *DB, table string) int {
	t.Helper()
	var n int
	if err := d.SQL().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestOpenSettings(t *testing.T) {
	d, path := openTemp(t)
	ctx := context.Background()
	var mode string
	var syncMode, fk, busy int
	db := d.SQL()
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := db.QueryRow("PRAGMA synchronous").Scan(&syncMode); err != nil || syncMode != 2 {
		t.Errorf("synchronous = %d, %v; want 2 (FULL)", syncMode, err)
	}
	if err := db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := db.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != int(busyTimeout.Milliseconds()) {
		t.Errorf("busy_timeout = %d, %v; want %d", busy, err, busyTimeout.Milliseconds())
	}
	v, err := d.SchemaVersion(ctx, storeComponent)
	if err != nil || v != len(storeMigrations) {
		t.Errorf("SchemaVersion(store) = %d, %v; want %d", v, err, len(storeMigrations))
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Reopening an up-to-date file applies nothing and keeps the version.
	d2, err := Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer d2.Close()
	if v, err := d2.SchemaVersion(ctx, storeComponent); err != nil || v != len(storeMigrations) {
		t.Errorf("after reopen SchemaVersion(store) = %d, %v; want %d", v, err, len(storeMigrations))
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "a?b.db", "x#y.db", "file:foo.db"} {
		d, err := Open(p)
		if err == nil {
			d.Close()
			t.Errorf("Open(%q) succeeded, want error", p)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", p, err)
		}
	}
	// A directory that does not exist cannot hold the file.
	if d, err := Open(filepath.Join(t.TempDir(), "missing", "x.db")); err == nil {
		d.Close()
		t.Errorf("Open in a missing directory succeeded")
	}
}

func TestSchemaTooNew(t *testing.T) {
	d, path := openTemp(t)
	if _, err := d.SQL().Exec(`UPDATE schema_version SET version = 99 WHERE component = 'store'`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d2, err := Open(path)
	if err == nil {
		d2.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
}

func TestMigrateComponent(t *testing.T) {
	d, path := openTemp(t)
	ctx := context.Background()
	ms := []Migration{
		{Name: "ledger", SQL: `CREATE TABLE ledger (id INTEGER PRIMARY KEY, eps REAL NOT NULL);
			CREATE INDEX ledger_eps ON ledger (eps);`},
		{Name: "seed", SQL: `INSERT INTO ledger (eps) VALUES (0.5)`},
	}
	if err := d.Migrate(ctx, "privacy", ms); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if v, _ := d.SchemaVersion(ctx, "privacy"); v != 2 {
		t.Errorf("version = %d, want 2", v)
	}
	// Running again is a no-op: the seed row is not duplicated.
	if err := d.Migrate(ctx, "privacy", ms); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if n := countRows(t, d, "ledger"); n != 1 {
		t.Errorf("ledger rows = %d, want 1", n)
	}

	// A failing step rolls back entirely and leaves the version alone.
	bad := append(append([]Migration{}, ms...),
		Migration{Name: "half", SQL: `CREATE TABLE half (x INTEGER); INSERT INTO nosuch VALUES (1);`})
	if err := d.Migrate(ctx, "privacy", bad); err == nil {
		t.Fatal("failing migration succeeded")
	}
	if v, _ := d.SchemaVersion(ctx, "privacy"); v != 2 {
		t.Errorf("after failed step version = %d, want 2", v)
	}
	var n int
	if err := d.SQL().QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("table of failed step exists (n=%d, err=%v)", n, err)
	}

	// Appending a step applies only that step, after a reopen, with Apply.
	d.Close()
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	calls := 0
	more := append(append([]Migration{}, ms...), Migration{Name: "backfill", Apply: func(ctx context.Context, tx *sql.Tx) error {
		calls++
		_, err := tx.ExecContext(ctx, `UPDATE ledger SET eps = eps * 2`)
		return err
	}})
	if err := d.Migrate(ctx, "privacy", more); err != nil {
		t.Fatalf("Migrate 3: %v", err)
	}
	var eps float64
	if err := d.SQL().QueryRow(`SELECT eps FROM ledger`).Scan(&eps); err != nil || eps != 1 || calls != 1 {
		t.Errorf("after backfill eps = %v (err %v), calls = %d; want 1, 1", eps, err, calls)
	}
	// The store's own version is untouched by other components.
	if v, _ := d.SchemaVersion(ctx, storeComponent); v != len(storeMigrations) {
		t.Errorf("store version = %d, want %d", v, len(storeMigrations))
	}
	if err := d.Migrate(ctx, "privacy", ms); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Migrate with fewer steps = %v, want ErrSchemaTooNew", err)
	}
	if err := d.Migrate(ctx, "", ms); !errors.Is(err, ErrInvalid) {
		t.Errorf("Migrate with empty component = %v, want ErrInvalid", err)
	}
}

func TestTxRollsBack(t *testing.T) {
	d, _ := openTemp(t)
	ctx := context.Background()
	if _, err := d.SQL().Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO t VALUES (1)`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Tx = %v, want boom", err)
	}
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Errorf("panic was swallowed")
			}
		}()
		_ = d.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.Exec(`INSERT INTO t VALUES (2)`); err != nil {
				return err
			}
			panic("inside tx")
		})
	}()
	if n := countRows(t, d, "t"); n != 0 {
		t.Errorf("rows after failed transactions = %d, want 0", n)
	}
	if err := d.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO t VALUES (3)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, d, "t"); n != 1 {
		t.Errorf("rows after committed transaction = %d, want 1", n)
	}
}

func TestErrorsCarryContext(t *testing.T) {
	d, _ := openTemp(t)
	_, err := d.GetRun(context.Background(), "nope")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("GetRun(nope) = %v, want ErrNotFound naming the run", err)
	}
}
