package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
)

// encodingVersion is the version of the canonical encoding written by this
// binary. It is stored in every row (column v) and is part of the hashed
// bytes; a later encoding gets a new number and Verify keeps reading rows
// of the old one.
const encodingVersion = 1

// domainTag separates the hashes of audit entries from every other SHA-256
// in Cohort (model digests, update digests, ...).
const domainTag = "cohort/audit/event"

// entry is the hashed content of one row.
type entry struct {
	version int64
	seq     int64
	timeNS  int64 // Time as Unix nanoseconds, UTC
	kind    string
	runID   string
	round   int64
	actor   string
	subject string
	detail  []byte
	prev    [32]byte
}

// The fields whose checksums are kept in the field_sums column, in order.
// seq is not among them: a row under the wrong seq is found by its hash.
var sumFields = [...]string{"time", "kind", "run_id", "round", "actor", "subject", "detail", "prev_hash"}

const sumsLen = 4 * len(sumFields)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encode appends the canonical encoding of e to buf:
//
//	lp(domainTag) ‖ u32(version) ‖ u64(seq) ‖ i64(timeNS) ‖ lp(kind) ‖
//	lp(runID) ‖ i64(round) ‖ lp(actor) ‖ lp(subject) ‖ lp(detail) ‖ prev[32]
//
// where integers are big-endian two's complement and lp(x) is u64(len(x))
// followed by the bytes of x. Every field has a fixed width or a length
// prefix, so no two different entries encode to the same bytes.
//
// If sums is not nil, encode also stores there the CRC-32C of each field's
// encoding, in sumFields order.
func encode(buf []byte, e *entry, sums *[sumsLen]byte) []byte {
	buf = appendLP(buf, domainTag)
	buf = binary.BigEndian.AppendUint32(buf, uint32(e.version))
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.seq))
	start := len(buf)
	field := 0
	mark := func() {
		if sums != nil {
			binary.BigEndian.PutUint32(sums[4*field:], crc32.Checksum(buf[start:], castagnoli))
		}
		field++
		start = len(buf)
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.timeNS))
	mark()
	buf = appendLP(buf, e.kind)
	mark()
	buf = appendLP(buf, e.runID)
	mark()
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.round))
	mark()
	buf = appendLP(buf, e.actor)
	mark()
	buf = appendLP(buf, e.subject)
	mark()
	buf = appendLP(buf, e.detail)
	mark()
	buf = append(buf, e.prev[:]...)
	mark()
	return buf
}

func appendLP[T string | []byte](buf []byte, s T) []byte {
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(s)))
	return append(buf, s...)
}

// hasher computes entry hashes with a reusable buffer. It is not safe for
// concurrent use.
type hasher struct{ buf []byte }

// hash returns the SHA-256 of e's canonical encoding and, if sums is not
// nil, fills it with the field checksums.
func (h *hasher) hash(e *entry, sums *[sumsLen]byte) [32]byte {
	h.buf = encode(h.buf[:0], e, sums)
	return sha256.Sum256(h.buf)
}
