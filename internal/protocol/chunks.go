package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ChunkValues is the number of float64 values per chunk: 64 Ki values = 512 KiB
// per message, far below gRPC's 4 MiB default limit.
const ChunkValues = 1 << 16

// MaxParams bounds the length of any parameter vector a peer may announce
// (2^28 values = 2 GiB of float64), so a forged header cannot make the receiver
// allocate without limit.
const MaxParams = 1 << 28

// ErrNotFinite reports a NaN or ±Inf in a decoded vector.
var ErrNotFinite = errors.New("protocol: value is NaN or Inf")

// AppendFloats appends the little-endian encoding of v to dst.
func AppendFloats(dst []byte, v []float64) []byte {
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(x))
	}
	return dst
}

// DecodeFloats decodes b into dst (len(b) must be 8·len(dst)) and rejects any
// NaN or Inf, reporting its index offset by base (the position of dst in the
// whole vector).
func DecodeFloats(dst []float64, b []byte, base int) error {
	if len(b) != 8*len(dst) {
		return fmt.Errorf("protocol: chunk at value %d has %d bytes, want %d", base, len(b), 8*len(dst))
	}
	for i := range dst {
		x := math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: index %d is %v", ErrNotFinite, base+i, x)
		}
		dst[i] = x
	}
	return nil
}

// CheckFloats reports, like DecodeFloats, the first NaN or Inf among the
// little-endian float64s in b (len(b) must be a multiple of 8), without
// decoding them anywhere.
func CheckFloats(b []byte, base int) error {
	if len(b)%8 != 0 {
		return fmt.Errorf("protocol: chunk at value %d has %d bytes, not a whole number of float64 values", base, len(b))
	}
	const exp = 0x7ff0000000000000 // all exponent bits set: ±Inf or NaN
	for i := 0; i < len(b); i += 8 {
		if bits := binary.LittleEndian.Uint64(b[i:]); bits&exp == exp {
			return fmt.Errorf("%w: index %d is %v", ErrNotFinite, base+i/8, math.Float64frombits(bits))
		}
	}
	return nil
}
