package protocol

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// updateSigningTag separates update signatures from every other signature
// made with a site's certificate key.
const updateSigningTag = "cohort/update-signature/v1\x00"

// ValuesSHA256 is the SHA-256 of v's wire encoding (AppendFloats), hashed
// through a small buffer.
func ValuesSHA256(v []float64) [32]byte {
	var h ValuesHash
	h.Write(v)
	return h.Sum()
}

// ValuesHash computes ValuesSHA256 of a vector given in pieces, in order,
// through an 8 KiB buffer. The zero value is ready to use.
type ValuesHash struct {
	h   hash.Hash
	buf []byte
}

// Write adds the next values.
func (vh *ValuesHash) Write(v []float64) {
	if vh.h == nil {
		vh.h, vh.buf = sha256.New(), make([]byte, 0, 8*1024)
	}
	for len(v) > 0 {
		n := min(len(v), cap(vh.buf)/8)
		vh.buf = AppendFloats(vh.buf[:0], v[:n])
		vh.h.Write(vh.buf)
		v = v[n:]
	}
}

// Sum returns the hash of the values written so far.
func (vh *ValuesHash) Sum() [32]byte {
	if vh.h == nil {
		return sha256.Sum256(nil)
	}
	var d [32]byte
	vh.h.Sum(d[:0])
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
