// Package audit is Cohort's tamper-evident audit log: an append-only,
// hash-chained record of who did what in a federation (sites joining or
// being refused, updates received with their digests and signatures,
// decryption shares given or refused, privacy-ledger entries, release-gate
// decisions, published models, denied RPCs, operator actions).
//
// The log lives in the coordinator's SQLite file (package
// coordinator/store), in table audit_log, migrated as component "audit",
// so that an entry can be written in the same transaction as the state
// change it records.
//
// # Usage
//
//	db, err := store.Open("cohort.db")
//	log, err := audit.Open(ctx, db)
//	_, err = log.Append(ctx, audit.Event{Kind: audit.KindSiteJoined, RunID: run, Actor: site})
//	_, err = log.Append(ctx, audit.UpdateReceived(run, round, site, digest, sig))
//
//	// Atomically with a round commit:
//	err = db.CommitRoundTx(ctx, rec, mv, func(tx *sql.Tx) error {
//		_, err := log.AppendTx(ctx, tx, audit.Event{Kind: audit.KindRoundCommitted, ...})
//		return err
//	})
//
//	// An auditor:
//	rep, err := log.Verify(ctx)          // or VerifyAgainst(ctx, anchor)
//	anchor, err := log.Head(ctx)         // keep it outside the database
//
// Append writes one entry per transaction; AppendBatch writes many in one
// (one fsync for all); AppendTx writes inside the caller's transaction and
// must be used there, because the store has a single connection and Append
// from inside a store callback would wait for itself forever.
//
// # Events
//
// An Event has a Kind (the Kind constants: run_started, run_finished,
// site_joined, site_refused, round_started, update_received,
// update_rejected, round_committed, round_failed, decrypt_share_given,
// decrypt_share_refused, ledger_entry, gate_decision, model_published,
// role_denied, admin_action), the RunID and Round it belongs to, the Actor
// who acted (a site, a user's certificate CN, "coordinator"), a Subject and
// a Detail: empty or a small JSON object, checked and compacted by Append.
//
// Detail must never hold secrets. No key material, secret-key or
// decryption shares, passwords, tokens or raw training data: the log is
// meant to be read by auditors and copied into reports. Record digests,
// identifiers, parameters and decisions. Append refuses objects with keys
// that look like secrets ("secret", "password", "private_key", ...), as a
// guard against accidents only; the rule is the caller's to keep.
//
// # The chain
//
// Entries are numbered Seq = 1, 2, 3, ... without gaps. Each stores
// PrevHash, the Hash of entry Seq−1 (32 zero bytes for entry 1), and its
// own Hash, the SHA-256 of its canonical encoding (version 1):
//
//	lp("cohort/audit/event") ‖ u32(1) ‖ u64(Seq) ‖ i64(Time as UTC Unix nanoseconds) ‖
//	lp(Kind) ‖ lp(RunID) ‖ i64(Round) ‖ lp(Actor) ‖ lp(Subject) ‖ lp(Detail) ‖ PrevHash
//
// Integers are big-endian; lp(x) is the length of x as a u64 followed by
// the bytes of x. The tag separates these hashes from every other SHA-256
// in Cohort, the version lets a later encoding coexist with this one (it is
// stored per row, column v), and the fixed widths and length prefixes make
// the encoding injective: ("ab", "c") and ("a", "bc") cannot collide. Since
// each Hash covers PrevHash, the hash of entry n commits to entries 1..n.
//
// Appends are serialised by SQLite's write lock: the head is read and the
// entry inserted inside one BEGIN IMMEDIATE transaction, and seq is the
// primary key, so concurrent writers, in one process or several, can never
// fork the chain. Time comes from the Log's clock (WithClock), in UTC with
// nanosecond precision; it is not required to increase.
//
// Beside the hashed columns each row keeps field_sums, a CRC-32C of each
// field's encoding. They carry no security: they let Verify say which
// column of an edited row changed.
//
// # Verification
//
// Verify streams the table in Seq order, keeping only the previous row's
// hashes, recomputes every hash and link, and reports every problem it
// finds (up to MaxProblems) with the seq concerned:
//
//   - edited: a row's columns no longer match its hash; the message names
//     the columns (kind, detail, actor, time, ...), or says that the hash,
//     prev_hash or field_sums column itself was altered.
//   - missing: rows deleted: "entry 42 is missing (41 is followed by 43)".
//   - reordered: a row hashes correctly only under another seq (within 64
//     places): rows swapped or renumbered; both rows are named.
//   - broken_link: a self-consistent row whose prev_hash is not the
//     previous row's hash: the previous row was rewritten and re-hashed by
//     someone who knows this encoding, or foreign rows were spliced in.
//   - bad_genesis: entry 1's prev_hash is not zero.
//   - guard_removed: the triggers that make audit_log append-only for
//     ordinary SQL are gone (they stop mistakes, not attackers).
//
// What a chain cannot detect. It is kept in a file that its attacker may be
// able to write, so:
//
//   - Truncation: removing the last k rows leaves a valid, shorter chain.
//   - Rewriting: someone with write access who knows this (public)
//     encoding can edit an entry and re-hash it and every later entry; the
//     result is a valid chain. Nothing inside the file can tell.
//
// Both are caught by an anchor kept outside the file's reach. Head returns
// the last (Seq, Hash); record it where the attacker cannot change it: in a
// signed model card when a model is published, in a ticket, in a second
// system, or in a transparency log. VerifyAgainst(anchor) then checks that
// the anchored entry still exists with the recorded hash, which together
// with an intact chain proves entries 1..anchor.Seq are the ones written,
// and reports truncated or anchor_mismatch otherwise. Entries after the
// newest anchor are protected by the chain only: anchor often. The log is
// tamper-evident, not tamper-proof, and not confidential: it does not
// prevent a change, nor hide its content from whoever can read the file.
//
// # Cost
//
// Bench, for the project's bench command, measures appends one
// transaction each, appends in batches and Verify, each against a
// plain-INSERT (or plain SELECT) baseline of the same columns in the same
// run. One-per-transaction appends are bound by the fsync of the commit, so
// the chain adds little there; batched appends and Verify show its CPU cost
// (a head read, JSON checks and one SHA-256 per entry) and its extra 100
// bytes per row.
package audit
