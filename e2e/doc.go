// Package e2e holds Cohort's end-to-end tests. They build the cohort binary
// once, then drive real processes: a coordinator serving gRPC with mutual TLS
// on 127.0.0.1 over a real SQLite file, and sites dialling out to it with
// certificates issued by `cohort provision`. They check outcomes the way an
// operator would, through `cohort models list` and by reading the
// coordinator's database read-only:
//
//   - three sites complete a multi-round run;
//   - a coordinator killed with SIGKILL resumes its run on restart and commits
//     every round exactly once, while its sites reconnect;
//   - a site killed mid-run is dropped and the run finishes with the others;
//   - a site with a certificate from another authority is refused, and
//     --insecure is refused for non-loopback addresses;
//   - bad CSV input is reported with its file, line and column.
//
// Run them with
//
//	go test ./e2e
//
// They are skipped with -short. Every process is killed when its test ends,
// and every wait is bounded, so a hung coordinator fails a test rather than
// the whole run.
package e2e
