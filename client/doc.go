// Package client is Cohort's site SDK.
//
// A partner application implements Trainer (Fit and Evaluate over flat
// parameter vectors) and, if the run standardises features,
// StatisticsProvider; or it uses ModelTrainer, the ready implementation for
// Cohort's own learners on a site's encoded dataset. Run then connects to the
// coordinator — the site always dials out, so it works from behind a hospital
// or bank firewall — authenticates with the site's certificate, and executes
// the tasks the coordinator streams to it:
//
//   - statistics: return the site's feature moments;
//   - fit: download the global model in chunks, train locally, upload
//     params − global in chunks, echoing the task's nonce;
//   - evaluate: score the model on held-out rows and return summable counts.
//
// Run reconnects with exponential backoff and jitter whenever the stream
// breaks, for example while the coordinator restarts after a crash, and
// returns only when its context ends, the run finishes (with ExitWhenDone),
// or the coordinator refuses the site outright (a bad certificate).
//
// Raw data never leaves the site: only model deltas, moment sums and
// evaluation counts do.
package client
