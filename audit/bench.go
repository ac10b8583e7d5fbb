package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/cohortfl/cohort/coordinator/store"
)

// Sizes of Bench.
const (
	// BenchBatchSize is the number of events per transaction of the batched
	// measurements.
	BenchBatchSize = 1000
	// BenchSingleMax caps the events of the one-transaction-per-append
	// measurements: each is an fsync, so their rate is that of the disk and
	// a few hundred suffice to measure it.
	BenchSingleMax = 500
)

// BenchResult is the outcome of Bench. Rates are per second of wall time.
// The baseline ("plain") writes the same columns minus the chain's (no
// prev_hash, hash, field_sums), with the same indexes, as plain INSERTs
// without reading the head or hashing, in the same file and run.
type BenchResult struct {
	Events       int `json:"events"`        // n: events appended in batches
	SingleEvents int `json:"single_events"` // events appended one transaction each: min(n, BenchSingleMax)
	BatchSize    int `json:"batch_size"`
	Verified     int `json:"verified"` // entries Verify read: SingleEvents + Events

	AppendPerSec      float64 `json:"append_per_sec"`       // Append: one transaction per event
	BatchAppendPerSec float64 `json:"batch_append_per_sec"` // AppendBatch of BatchSize events
	VerifyPerSec      float64 `json:"verify_per_sec"`       // entries per second of Verify

	PlainInsertPerSec      float64 `json:"plain_insert_per_sec"`       // one INSERT per transaction
	PlainBatchInsertPerSec float64 `json:"plain_batch_insert_per_sec"` // BatchSize INSERTs per transaction
	PlainScanPerSec        float64 `json:"plain_scan_per_sec"`         // rows per second of a SELECT of every column

	// Costs of the chain, as multiples of the baseline's time per event:
	// PlainInsertPerSec / AppendPerSec and so on (1 means free).
	AppendCost      float64 `json:"append_cost"`
	BatchAppendCost float64 `json:"batch_append_cost"`
	VerifyCost      float64 `json:"verify_cost"`
}

func (r BenchResult) String() string {
	return fmt.Sprintf("audit: append %.0f/s (%.2f× a plain insert), batch append %.0f/s (%.2f×), verify %.0f entries/s (%.2f× a plain scan) over %d entries",
		r.AppendPerSec, r.AppendCost, r.BatchAppendPerSec, r.BatchAppendCost, r.VerifyPerSec, r.VerifyCost, r.Verified)
}

const plainSchema = `
CREATE TABLE audit_bench_plain (
	seq     INTEGER PRIMARY KEY NOT NULL,
	time    TEXT NOT NULL,
	kind    TEXT NOT NULL,
	run_id  TEXT NOT NULL,
	round   INTEGER NOT NULL,
	actor   TEXT NOT NULL,
	subject TEXT NOT NULL,
	detail  TEXT NOT NULL
) STRICT;
CREATE INDEX audit_bench_plain_run ON audit_bench_plain (run_id, seq);
CREATE INDEX audit_bench_plain_kind ON audit_bench_plain (kind, seq);`

const plainInsert = `INSERT INTO audit_bench_plain (time, kind, run_id, round, actor, subject, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`

// Bench measures the log in a fresh store file in a new directory under dir
// (removed afterwards): min(n, BenchSingleMax) single appends, then n
// events appended in batches of BenchBatchSize, then Verify of the whole
// log; and the plain baseline of each step, in the same run, alternating
// with it (event by event, batch by batch; the scans twice each, the faster
// counting). The events are update_received entries with a digest and a
// 96-byte signature, as ten sites write them in a round.
func Bench(ctx context.Context, dir string, n int) (BenchResult, error) {
	if n < 1 {
		return BenchResult{}, fmt.Errorf("audit: bench: n = %d, want ≥ 1", n)
	}
	tmp, err := os.MkdirTemp(dir, "audit-bench-")
	if err != nil {
		return BenchResult{}, fmt.Errorf("audit: bench: %w", err)
	}
	defer os.RemoveAll(tmp)
	db, err := store.Open(filepath.Join(tmp, "audit.db"))
	if err != nil {
		return BenchResult{}, fmt.Errorf("audit: bench: %w", err)
	}
	defer db.Close()
	l, err := Open(ctx, db)
	if err != nil {
		return BenchResult{}, fmt.Errorf("audit: bench: %w", err)
	}
	if _, err := db.SQL().ExecContext(ctx, plainSchema); err != nil {
		return BenchResult{}, fmt.Errorf("audit: bench: %w", err)
	}

	single := min(n, BenchSingleMax)
	res := BenchResult{Events: n, SingleEvents: single, BatchSize: BenchBatchSize, Verified: single + n}
	events := make([]Event, n)
	for i := range events {
		events[i] = benchEvent(i)
	}

	// Baseline and chain alternate, event by event and batch by batch, so
	// that drift (the file growing, the machine's load) affects both alike.
	var plainT, chainT time.Duration
	timed := func(d *time.Duration, f func() error) error {
		start := time.Now()
		err := f()
		*d += time.Since(start)
		return err
	}
	for _, e := range events[:single] {
		if err := timed(&plainT, func() error {
			return db.Tx(ctx, func(tx *sql.Tx) error { return plainRows(ctx, tx, []Event{e}) })
		}); err != nil {
			return BenchResult{}, err
		}
		if err := timed(&chainT, func() error { _, err := l.Append(ctx, e); return err }); err != nil {
			return BenchResult{}, err
		}
	}
	res.PlainInsertPerSec, res.AppendPerSec = perSec(single, plainT), perSec(single, chainT)

	plainT, chainT = 0, 0
	for i := 0; i < n; i += BenchBatchSize {
		b := events[i:min(i+BenchBatchSize, n)]
		if err := timed(&plainT, func() error {
			return db.Tx(ctx, func(tx *sql.Tx) error { return plainRows(ctx, tx, b) })
		}); err != nil {
			return BenchResult{}, err
		}
		if err := timed(&chainT, func() error { _, err := l.AppendBatch(ctx, b); return err }); err != nil {
			return BenchResult{}, err
		}
	}
	res.PlainBatchInsertPerSec, res.BatchAppendPerSec = perSec(n, plainT), perSec(n, chainT)

	// Reading everything back: each twice, alternating; the faster counts.
	plainT, chainT = time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for range 2 {
		start := time.Now()
		scanned, err := plainScan(ctx, db.SQL())
		if err != nil {
			return BenchResult{}, err
		}
		plainT = min(plainT, time.Since(start))
		start = time.Now()
		rep, err := l.Verify(ctx)
		if err != nil {
			return BenchResult{}, err
		}
		chainT = min(chainT, time.Since(start))
		if !rep.OK || rep.Entries != res.Verified || scanned != res.Verified {
			return BenchResult{}, fmt.Errorf("audit: bench: Verify read %d entries (plain scan %d), want %d: %v",
				rep.Entries, scanned, res.Verified, rep.Err())
		}
	}
	res.PlainScanPerSec, res.VerifyPerSec = perSec(res.Verified, plainT), perSec(res.Verified, chainT)

	res.AppendCost = res.PlainInsertPerSec / res.AppendPerSec
	res.BatchAppendCost = res.PlainBatchInsertPerSec / res.BatchAppendPerSec
	res.VerifyCost = res.PlainScanPerSec / res.VerifyPerSec
	return res, nil
}

func perSec(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// benchEvent returns the i-th event of Bench's workload: site-(i mod 10)'s
// update of round i/10+1 of run "bench".
func benchEvent(i int) Event {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))
	h := sha256.Sum256(seed[:])
	sig := sha256.Sum256(h[:])
	return UpdateReceived("bench", i/10+1, fmt.Sprintf("site-%02d", i%10), h, append(sig[:], h[:]...))
}

func plainRows(ctx context.Context, tx *sql.Tx, events []Event) error {
	stmt, err := tx.PrepareContext(ctx, plainInsert)
	if err != nil {
		return fmt.Errorf("audit: bench: %w", err)
	}
	defer stmt.Close()
	for _, e := range events {
		if _, err := stmt.ExecContext(ctx, time.Now().UTC().Format(timeLayout), e.Kind, e.RunID, e.Round,
			e.Actor, e.Subject, string(e.Detail)); err != nil {
			return fmt.Errorf("audit: bench: %w", err)
		}
	}
	return nil
}

func plainScan(ctx context.Context, db *sql.DB) (int, error) {
	rows, err := db.QueryContext(ctx, `SELECT seq, time, kind, run_id, round, actor, subject, detail FROM audit_bench_plain ORDER BY seq`)
	if err != nil {
		return 0, fmt.Errorf("audit: bench: %w", err)
	}
	defer rows.Close()
	count := 0
	for rows.Next() {
		var seq, round int64
		var t, kind, runID, actor, subject, detail string
		if err := rows.Scan(&seq, &t, &kind, &runID, &round, &actor, &subject, &detail); err != nil {
			return 0, fmt.Errorf("audit: bench: %w", err)
		}
		count++
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("audit: bench: %w", err)
	}
	return count, nil
}
