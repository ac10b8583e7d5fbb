package protocol

import (
	"crypto/sha256"
	"encoding/binary"
)

// updateSigningTag separates update signatures from every other signature
// made with a site's certificate key.
const updateSigningTag = "cohort/update-signature/v1\x00"

// ValuesSHA256 is the SHA-256 of v's wire encoding (AppendFloats), hashed
// through a small buffer.
func ValuesSHA256(v []float64) [32]byte {
	h := sha256.New()
	buf := make([]byte, 0, 8*1024)
	for len(v) > 0 {
		n := min(len(v), cap(buf)/8)
		buf = AppendFloats(buf[:0], v[:n])
		h.Write(buf)
		v = v[n:]
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// UpdateSigningDigest is what a site signs (ECDSA over SHA-256, with its
// certificate key) for a plaintext upload: the run, round and task nonce
// (so a signature cannot be replayed into another task), the example count
// and the hash of the values. Every field is length-prefixed.
func UpdateSigningDigest(runID string, round uint64, nonce []byte, numExamples int64, values [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(updateSigningTag))
	var b [8]byte
	for _, f := range [][]byte{[]byte(runID), nonce} {
		binary.BigEndian.PutUint64(b[:], uint64(len(f)))
		h.Write(b[:])
		h.Write(f)
	}
	binary.BigEndian.PutUint64(b[:], round)
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(numExamples))
	h.Write(b[:])
	h.Write(values[:])
	var d [32]byte
	h.Sum(d[:0])
	return d
}
