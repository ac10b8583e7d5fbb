// Package coordinator drives federated training runs.
//
// # Shape
//
// The package splits the protocol core from its I/O, in the manner of etcd's
// raft:
//
//   - Round (round.go) is the state machine of one phase of one round: which
//     sites were selected, with which task nonces, what became of each (pending,
//     active, accepted, rejected, dropped) and whether the round met its
//     minimum. It reads no clock and does no I/O; callers pass the time in.
//   - SelectCohort (selection.go) picks a round's sites deterministically from
//     (seed, round, attempt, available sites).
//   - Engine (engine.go, submit.go) owns the I/O: it asks a Dispatcher to deliver
//     tasks, folds results into the round's aggregate through the Strategy,
//     commits rounds and model versions to the SQLite store (package store), and
//     evaluates. Results arrive through BeginResult followed by SubmitFit,
//     SubmitStatistics or SubmitEvaluation; all of them take one mutex, so the
//     slots of the Round and the contents of the aggregate always agree.
//   - SiteServer and AdminServer (server.go, admin.go) are the gRPC edge. They
//     validate requests, stream models and updates in chunks, and map domain
//     errors to status codes. Registry (sites.go) is the gRPC Dispatcher: one
//     task queue per site with an open Connect stream. The coordinator never
//     dials a site.
//   - Serve (serve.go) assembles a coordinator process: mTLS, services,
//     Prometheus /metrics, and resumption of interrupted runs.
//
// # Round lifecycle
//
// A run starts with a statistics phase when it standardises features: every
// connected site returns its feature moments (count, Σx, Σx² per feature),
// which are summed and sent back with every later task, so each site
// standardises with global statistics that no single site revealed.
//
// Each round then selects a cohort (a fraction of the connected sites, at
// least MinClients), sends fit tasks with a fresh random nonce and a deadline,
// and folds every valid update into one running aggregate as it arrives:
// an update is checked for run, round, phase, selection, nonce (so a replay of
// an earlier round's upload is refused), deadline, length and finiteness
// before it touches the aggregate. When every selected site has answered, or
// the deadline passes, the round closes. With fewer than MinClients accepted
// results it fails explicitly; it is retried (with a new attempt number and
// new nonces) or ends the run, as RunConfig.OnFailure says. It never waits
// beyond its deadline.
//
// A successful round commits, in one SQLite transaction, the round record,
// its participants and the new model version. Only then is the model sent to
// sites for federated evaluation (loss, accuracy and the pooled AUC from summed
// score histograms); the evaluation metrics are added to the committed round.
// Stop criteria (target accuracy, patience) are checked after evaluation.
//
// # Durability
//
// Because a round and its model version commit together, a coordinator killed
// at any moment restarts on the same database at the last committed round with
// every model version intact (Serve resumes runs marked running). A round that
// was in flight is played again, with fresh nonces; its attempt number
// continues after any failed attempts that were recorded.
//
// # Memory
//
// The coordinator holds the global model once, and the round's running sum
// (with its compensation terms). A bounded number of uploads are read at once
// (ServeOptions.MaxStaged, default 1). A fit upload above 1 MiB goes, chunk
// by chunk, to an unlinked spool file while its values are checked and
// hashed; once its signature verifies, the engine folds it into the sum from
// the file (aggregation.Vector), so no model-sized buffer is allocated per
// upload. FedAvg writes the next model over the mean, and the store writes
// it without copying, so a round's end allocates nothing model-sized either.
// No strategy that can run under secure aggregation holds K updates. Median,
// trimmed mean and Krum do, by nature, and say so
// (aggregation.BufferingStrategy).
package coordinator
