// Package ledger is the durable privacy ledger: one row per noisy release,
// with the mechanism, its sampling rate q, noise multiplier σ, number of
// steps, the party whose data it covers (the run's clients for client-level
// DP, a site for record-level DP) and its status.
//
// The ledger is write-ahead. A release is appended as "pending" in its own
// transaction before the noisy value exists outside the process (before
// noise is drawn, before a sum is decrypted), and marked "released" in the
// transaction that commits the round. ε spent is always computed from every
// row, pending or released, so a crash between the noise and the commit can
// only over-count, never under-count. The budget check runs before the
// pending row is written: a release that would exceed the budget is refused
// and never happens.
//
// The table lives in the coordinator's SQLite file (or in a site's own
// ledger file), migrated as component "privacy" of package store.
package ledger
