// Package protocol holds the pieces of Cohort's wire protocol that both the
// coordinator and the client SDK must agree on and that are not generated from
// proto/: the typed task configuration carried in Task.config, and the binary
// encoding of parameter vectors in chunks.
//
// Parameter vectors travel as little-endian IEEE-754 float64 values, split into
// chunks of at most ChunkValues values so that no gRPC message comes near the
// default 4 MiB limit, whatever the model size.
package protocol
