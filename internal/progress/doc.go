// Package progress reports the progress of long work (simulation rounds,
// dataset preparation) to a writer, normally os.Stderr.
//
// [New] picks one of three behaviours:
//
//   - disabled: every method is a no-op. The caller decides, for example to
//     keep a terminal quiet; stdout carrying --output json does not by itself
//     require disabling progress on stderr.
//   - enabled and w is a terminal: an interactive bar
//     (github.com/schollz/progressbar/v3) redrawn in place.
//   - enabled and w is not a terminal (CI logs, pipes, files): plain lines
//     such as "round 3/20 (15%) elapsed 4s", one each time progress crosses
//     another 10% of the total, or after [PlainInterval] without a line, so
//     logs stay readable and still show that work is alive.
//
// Output is best effort: write errors are ignored, since failing long work
// because a log pipe closed would be worse than losing the log.
//
// Usage:
//
//	bar := progress.New(os.Stderr, cfg.Rounds, "round", !quiet)
//	defer bar.Finish()
//	for r := range cfg.Rounds {
//		runRound(r)
//		bar.Add(1)
//	}
package progress
