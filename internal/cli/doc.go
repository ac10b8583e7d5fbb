// Package cli implements the cohort command line: one file per verb, each with
// an Options struct, a newCmdX constructor and an xRun(opts) function, so that
// every verb can be run and tested without a process.
package cli
