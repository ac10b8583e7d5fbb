//go:build race

package bench_test

// raceEnabled reports whether the race detector is on; TestQuick then runs
// smaller sizes, since everything (the coordinator child included) runs many
// times slower.
const raceEnabled = true
