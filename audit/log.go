package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cohortfl/cohort/coordinator/store"
)

// component is the schema_version key of the audit tables.
const component = "audit"

// migrations is the schema history of the audit log. Append only.
var migrations = []store.Migration{{
	Name: "audit log",
	SQL: `
CREATE TABLE audit_log (
	seq        INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
	v          INTEGER NOT NULL,
	time       TEXT NOT NULL,
	kind       TEXT NOT NULL,
	run_id     TEXT NOT NULL,
	round      INTEGER NOT NULL,
	actor      TEXT NOT NULL,
	subject    TEXT NOT NULL,
	detail     TEXT NOT NULL,
	prev_hash  BLOB NOT NULL CHECK (length(prev_hash) = 32),
	hash       BLOB NOT NULL CHECK (length(hash) = 32),
	field_sums BLOB NOT NULL
) STRICT;
CREATE INDEX audit_log_run ON audit_log (run_id, seq);
CREATE INDEX audit_log_kind ON audit_log (kind, seq);
` + guardSQL,
}}

// guardSQL makes the table append-only for every writer that goes through
// SQLite without dropping the triggers first. It stops mistakes, not
// attackers; Verify is what detects the latter.
const guardSQL = `
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
`

var guardTriggers = []string{"audit_log_no_update", "audit_log_no_delete"}

// timeLayout is the stored form of Time: fixed-width UTC, as in package
// store, so the column reads well in sqlite3 and sorts as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// Log is the audit log in a store file.
//
// A Log is safe for concurrent use. Appends are serialised by the store's
// write transaction (BEGIN IMMEDIATE), which also serialises them with other
// processes writing the same file, so the entries always form one chain.
type Log struct {
	db  *store.DB
	now func() time.Time
}

// Option configures a Log.
type Option func(*Log)

// WithClock makes the Log take event times from now instead of time.Now.
func WithClock(now func() time.Time) Option {
	return func(l *Log) { l.now = now }
}

// Open migrates the audit tables in db (component "audit") and returns the
// log. db stays owned by the caller.
func Open(ctx context.Context, db *store.DB, opts ...Option) (*Log, error) {
	if db == nil {
		return nil, errors.New("audit: open: nil database")
	}
	l := &Log{db: db, now: time.Now}
	for _, o := range opts {
		o(l)
	}
	if l.now == nil {
		return nil, errors.New("audit: open: nil clock")
	}
	if err := db.Migrate(ctx, component, migrations); err != nil {
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	return l, nil
}

// Append writes e as the next entry, in its own transaction, and returns it
// with Seq, Time, PrevHash and Hash set and Detail compacted. When Append
// returns nil the entry is durable (see package store). Append must not be
// called from inside a store transaction callback; use AppendTx there.
func (l *Log) Append(ctx context.Context, e Event) (Event, error) {
	out, err := l.AppendBatch(ctx, []Event{e})
	if err != nil {
		return Event{}, err
	}
	return out[0], nil
}

// AppendBatch writes events as consecutive entries in one transaction: all
// or none are written. It is the way to record many events at once; the
// cost of a transaction (an fsync) is paid once.
func (l *Log) AppendBatch(ctx context.Context, events []Event) ([]Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	norm, err := normaliseAll(events)
	if err != nil {
		return nil, err
	}
	err = l.db.Tx(ctx, func(tx *sql.Tx) error {
		return l.appendTx(ctx, tx, norm)
	})
	if err != nil {
		return nil, err
	}
	return norm, nil
}

// AppendTx writes e as the next entry inside tx, the caller's write
// transaction on the same store file (from store.DB.Tx or the callback of
// store.DB.CommitRoundTx), so that the audit entry commits or rolls back
// with the state change it records. The returned Seq and Hash are final only
// once tx commits. Appending several events to one tx is fine.
func (l *Log) AppendTx(ctx context.Context, tx *sql.Tx, e Event) (Event, error) {
	norm, err := normaliseAll([]Event{e})
	if err != nil {
		return Event{}, err
	}
	if err := l.appendTx(ctx, tx, norm); err != nil {
		return Event{}, err
	}
	return norm[0], nil
}

func normaliseAll(events []Event) ([]Event, error) {
	out := make([]Event, len(events))
	for i, e := range events {
		n, err := e.normalised()
		if err != nil {
			if len(events) > 1 {
				return nil, fmt.Errorf("audit: event %d of %d: %w", i, len(events), err)
			}
			return nil, err
		}
		n.Seq, n.Time, n.PrevHash, n.Hash = 0, time.Time{}, [32]byte{}, [32]byte{}
		out[i] = n
	}
	return out, nil
}

// appendTx chains events (already normalised) after the head read in tx and
// fills in their Seq, Time and hashes.
func (l *Log) appendTx(ctx context.Context, tx *sql.Tx, events []Event) error {
	head, err := headQ(ctx, tx)
	if err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_log
		(seq, v, time, kind, run_id, round, actor, subject, detail, prev_hash, hash, field_sums)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	defer stmt.Close()
	var h hasher
	var sums [sumsLen]byte
	seq, prev := head.Seq, head.Hash
	for i := range events {
		e := &events[i]
		t := l.now().UTC().Round(0)
		if !representable(t) {
			return fmt.Errorf("audit: append: clock time %v outside the years 1678–2261", t)
		}
		seq++
		e.Seq, e.Time, e.PrevHash = seq, t, prev
		e.Hash = h.hash(&entry{
			version: encodingVersion, seq: seq, timeNS: t.UnixNano(),
			kind: e.Kind, runID: e.RunID, round: int64(e.Round), actor: e.Actor, subject: e.Subject,
			detail: e.Detail, prev: prev,
		}, &sums)
		if _, err := stmt.ExecContext(ctx, seq, encodingVersion, t.Format(timeLayout), e.Kind, e.RunID, e.Round,
			e.Actor, e.Subject, string(e.Detail), e.PrevHash[:], e.Hash[:], sums[:]); err != nil {
			return fmt.Errorf("audit: append entry %d (%s): %w", seq, e.Kind, err)
		}
		prev = e.Hash
	}
	return nil
}

// representable reports whether t survives the round trip through Unix
// nanoseconds and the four-digit year of timeLayout.
func representable(t time.Time) bool {
	return t.Year() >= 1678 && t.Year() <= 2261
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Head returns the last entry's seq and hash: the anchor an auditor records
// (in a signed model card, a ticket, another system) so that VerifyAgainst
// can later detect truncation or a rewrite of everything up to it. An empty
// log's head is the zero Anchor. Head does not verify the log; record the
// Head of a Report whose OK is true when that matters.
func (l *Log) Head(ctx context.Context) (Anchor, error) {
	return headQ(ctx, l.db.SQL())
}

func headQ(ctx context.Context, q querier) (Anchor, error) {
	var a Anchor
	var h []byte
	err := q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&a.Seq, &h)
	if err == sql.ErrNoRows {
		return Anchor{}, nil
	}
	if err != nil {
		return Anchor{}, fmt.Errorf("audit: read head: %w", err)
	}
	if len(h) != 32 {
		return Anchor{}, fmt.Errorf("audit: read head: entry %d has a %d-byte hash", a.Seq, len(h))
	}
	copy(a.Hash[:], h)
	return a, nil
}

// Filter selects entries for List. Zero fields do not filter.
type Filter struct {
	RunID    string
	Kind     string
	Actor    string
	AfterSeq int64     // only entries with Seq > AfterSeq (for paging)
	Since    time.Time // only entries with Time ≥ Since
	Until    time.Time // only entries with Time < Until
	Limit    int       // at most Limit entries (0: no limit)
}

// List returns the entries that match f in Seq order. It reads the rows as
// stored and does not check their hashes: run Verify for that.
func (l *Log) List(ctx context.Context, f Filter) ([]Event, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("audit: list: negative limit %d", f.Limit)
	}
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.RunID != "" {
		add("run_id = ?", f.RunID)
	}
	if f.Kind != "" {
		add("kind = ?", f.Kind)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.AfterSeq > 0 {
		add("seq > ?", f.AfterSeq)
	}
	if !f.Since.IsZero() {
		add("time >= ?", f.Since.UTC().Format(timeLayout))
	}
	if !f.Until.IsZero() {
		add("time < ?", f.Until.UTC().Format(timeLayout))
	}
	q := `SELECT seq, time, kind, run_id, round, actor, subject, detail, prev_hash, hash FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := l.db.SQL().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var ts, detail string
		var prev, hash []byte
		if err := rows.Scan(&e.Seq, &ts, &e.Kind, &e.RunID, &e.Round, &e.Actor, &e.Subject, &detail, &prev, &hash); err != nil {
			return nil, fmt.Errorf("audit: list: %w", err)
		}
		if e.Time, err = time.Parse(timeLayout, ts); err != nil {
			return nil, fmt.Errorf("audit: list: entry %d has a malformed time %q", e.Seq, ts)
		}
		if detail != "" {
			e.Detail = json.RawMessage(detail)
		}
		copy(e.PrevHash[:], prev)
		copy(e.Hash[:], hash)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}
