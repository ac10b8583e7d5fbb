package coordinator

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/internal/protocol"
)

// spoolMinBytes is the payload size above which a fit upload is spooled to
// disk instead of decoded into memory: 1 MiB, the size at which a
// model-sized buffer per upload starts to matter next to the model itself.
const spoolMinBytes = 1 << 20

// A spool holds one plaintext fit upload between its receipt and its
// folding into the round's sum, in a temporary file that is unlinked as
// soon as it is created: the coordinator's memory then does not grow with
// the size or the number of uploads in flight, and a crash leaves no file
// behind. The values are checked (finite) as they are written; the engine
// reads them back, in chunks, only once the whole upload has arrived and
// its signature verified.
//
// A spool implements aggregation.BoundedVector once complete. It is not
// safe for concurrent use.
type spool struct {
	f       *tempFile
	n       int    // values announced
	written int64  // bytes written
	maxBits uint64 // largest |value| written, as float64 bits (ordered like the values)

	raw  []byte    // read buffer, ChunkValues values
	vals []float64 // decoded chunk
}

// newSpool creates a spool for n values in dir ("" is the system's
// temporary directory).
func newSpool(dir string, n int) (*spool, error) {
	f, err := createTemp(dir, "cohort-upload-*")
	if err != nil {
		return nil, fmt.Errorf("coordinator: creating a spool file for an upload: %w", err)
	}
	return &spool{f: f, n: n}, nil
}

// write appends one chunk's wire bytes (little-endian float64s).
func (s *spool) write(b []byte) error {
	if s.written+int64(len(b)) > 8*int64(s.n) {
		return fmt.Errorf("%w: payload continues past the %d announced values", aggregation.ErrWrongLength, s.n)
	}
	if _, err := s.f.Write(b); err != nil {
		return fmt.Errorf("coordinator: spooling the upload after %d values: %w", s.written/8, err)
	}
	for i := 0; i+8 <= len(b); i += 8 {
		s.maxBits = max(s.maxBits, binary.LittleEndian.Uint64(b[i:])&^(1<<63))
	}
	s.written += int64(len(b))
	return nil
}

// MaxAbs implements aggregation.BoundedVector: the largest magnitude among
// the values written, which the caller checked to be finite before writing
// them (protocol.CheckFloats). It is +Inf (no bound) until the spool is
// complete.
func (s *spool) MaxAbs() float64 {
	if s.written != 8*int64(s.n) {
		return math.Inf(1)
	}
	return math.Float64frombits(s.maxBits)
}

// Len implements aggregation.Vector.
func (s *spool) Len() int { return s.n }

// Chunks implements aggregation.Vector: it reads the file back in chunks of
// protocol.ChunkValues values.
func (s *spool) Chunks(fn func(off int, chunk []float64) error) error {
	if s.written != 8*int64(s.n) {
		return fmt.Errorf("%w: the spool holds %d of %d values", aggregation.ErrWrongLength, s.written/8, s.n)
	}
	if s.raw == nil {
		s.raw = make([]byte, 8*min(s.n, protocol.ChunkValues))
		s.vals = make([]float64, min(s.n, protocol.ChunkValues))
	}
	for off := 0; off < s.n; off += protocol.ChunkValues {
		k := min(protocol.ChunkValues, s.n-off)
		if _, err := s.f.ReadAt(s.raw[:8*k], 8*int64(off)); err != nil {
			return fmt.Errorf("coordinator: reading the spooled upload at value %d: %w", off, err)
		}
		if err := protocol.DecodeFloats(s.vals[:k], s.raw[:8*k], off); err != nil {
			return err // checked when written: the file changed under us
		}
		if err := fn(off, s.vals[:k]); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the file (and removes it if it could not be unlinked when
// created).
func (s *spool) Close() error { return s.f.Close() }
