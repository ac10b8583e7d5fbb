package store

import (
	"encoding/binary"

	"github.com/cohortfl/cohort/internal/offheap"
)

// littleEndian reports whether this machine stores a float64 in memory as
// its little-endian encoding, as the params BLOB does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// paramsBytes returns p's BLOB encoding. On a little-endian machine that is
// p's own memory, viewed as bytes (no copy: a round's commit then allocates
// nothing model-sized); the caller must not let the view outlive the write
// or modify p meanwhile. Elsewhere it is EncodeParams(p).
func paramsBytes(p []float64) []byte {
	if !littleEndian || len(p) == 0 {
		return EncodeParams(p)
	}
	return offheap.Bytes(p)
}
