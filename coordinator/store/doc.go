// Package store keeps the coordinator's durable state in one SQLite file:
// runs, round attempts with their participants and metrics, and every
// global model version. Later components (the privacy ledger, the audit
// log, the model registry) keep their tables in the same file, so an
// auditor can open it with the sqlite3 shell and a single transaction can
// span all of them.
//
// # Usage
//
//	db, err := store.Open("cohort.db")
//	...
//	err = db.CreateRun(ctx, store.Run{ID: id, ConfigJSON: cfg, RoundsTotal: n},
//		store.ModelVersion{Params: initial})
//	...
//	// After aggregating round r:
//	err = db.CommitRoundTx(ctx, rec, store.ModelVersion{Version: r, Round: r, Params: p},
//		func(tx *sql.Tx) error { return ledger.Append(ctx, tx, spend) })
//
// On restart the coordinator resumes from LastCommittedRound and
// LatestModel, and numbers its retry with NextAttempt.
//
// # Schema
//
// All tables are STRICT. Timestamps are TEXT in UTC, fixed-width
// "2006-01-02T15:04:05.000000000Z", so they read well and sort as text.
//
//	schema_version(component PK, version, updated_at)
//	    migrations applied per component; this package is "store".
//	runs(id PK, config_json, state, error, rounds_total, created_at, updated_at)
//	    state in running|completed|failed|stopped.
//	model_versions(run_id, version, round, num_params, sha256, params, created_at, storage)
//	    PK (run_id, version). The parameters are num_params little-endian
//	    float64s (8 bytes each, 8 MB for 1M parameters): in params when
//	    storage is 'inline' (rows written before schema version 2), else
//	    params is empty and they are the concatenation of model_chunks.
//	    sha256 is the SHA-256 of that encoding and is checked on every read
//	    with parameters.
//	model_chunks(run_id, version, seq, data)
//	    PK (run_id, version, seq), FK to model_versions; seq counts from 0
//	    with no gap, and every chunk but the last holds exactly 2^15 values
//	    (256 KiB), so no statement copies a model-sized BLOB.
//	rounds(run_id, round, attempt, status, reason, started_at, ended_at)
//	    PK (run_id, round, attempt); status in committed|failed; a partial
//	    unique index allows one committed attempt per round.
//	round_participants(run_id, round, attempt, client, num_examples, status, reason, update_hash)
//	    PK (run_id, round, attempt, client), FK to rounds; status in
//	    accepted|rejected|late|dropped; update_hash may be NULL.
//	round_metrics(run_id, round, attempt, name, value)
//	    PK (run_id, round, attempt, name), FK to rounds; value NULL means NaN.
//
// # Invariants
//
// Round r's commit writes the round row, its participants, its metrics and
// model version r in one transaction (CommitRoundTx), and only when round
// r-1 is committed and the run is running. Hence, in every state the file
// can be found in, LastCommittedRound = r implies that rounds 1..r are
// committed and model versions 0..r exist, that no model version exists
// beyond r, and that no round row lacks its model. Failed attempts
// (RecordFailedRound) are kept beside the commit, told apart by Attempt.
// Writes that must be atomic with a round (privacy ledger entries, audit
// events) go in the extra callback of CommitRoundTx; if any part fails,
// nothing is written. The ledger rule "written durably before release" is
// met by releasing only after CommitRoundTx returns.
//
// # Durability
//
// Open sets, on every connection:
//
//   - journal_mode=WAL: a commit appends to the write-ahead log, readers in
//     other processes (sqlite3, auditors) do not block the writer, and a
//     torn write at the end of the log is discarded on recovery.
//   - synchronous=FULL: the log is fsynced at every commit, so a commit
//     that has returned survives kill -9 and also power loss; NORMAL would
//     survive only a process crash.
//   - foreign_keys=ON: participants and metrics cannot outlive their round.
//   - busy_timeout: wait rather than fail when another process holds a lock.
//   - BEGIN IMMEDIATE for every transaction: the write lock is taken up
//     front, so a transaction never fails half-way on a lock upgrade.
//
// Open checks that these settings took effect. The pool has one
// connection, which serialises all access; callbacks given to Tx,
// CommitRoundTx and Migration.Apply must use only their *sql.Tx and never
// call DB methods, or they wait forever. TestCrashRecovery SIGKILLs a
// committing process at random moments and checks the invariants above.
//
// # Migrations
//
// Each component owns an append-only list of Migration values; version n
// is the n-th entry. Migrate applies the missing entries in order, each in
// its own transaction together with its schema_version bump, and refuses a
// file that records more versions than the list has (ErrSchemaTooNew). Open
// migrates this package's own list (storeMigrations: append new entries,
// never edit released ones). Another package adds its tables with
//
//	err := db.Migrate(ctx, "ledger", []store.Migration{
//		{Name: "ledger table", SQL: `CREATE TABLE ledger (...) STRICT;`},
//	})
//
// once after Open.
package store
