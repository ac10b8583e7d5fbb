package registry

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/cohortfl/cohort/internal/protocol"
)

// EncodeParams returns the canonical encoding of a parameter vector: each
// value as 8 little-endian bytes of its IEEE-754 bits, in order. It is the
// encoding coordinator/store keeps, so a card's params_sha256 equals the
// store's SHA256 of the same model version.
func EncodeParams(p []float64) []byte {
	return protocol.AppendFloats(make([]byte, 0, 8*len(p)), p)
}

// DecodeParams is the inverse of EncodeParams. It fails with
// ErrMalformedArtifact if len(b) is not a multiple of 8.
func DecodeParams(b []byte) ([]float64, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("%w: params encoding of %d bytes is not a multiple of 8", ErrMalformedArtifact, len(b))
	}
	p := make([]float64, len(b)/8)
	for i := range p {
		p[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return p, nil
}

// paramsLenMatches reports whether b, an encoding of parameters, holds
// exactly numParams values. It divides rather than multiplies numParams by
// 8, which could overflow.
func paramsLenMatches(b []byte, numParams int) bool {
	return len(b)%8 == 0 && len(b)/8 == numParams
}

// HashParams returns the SHA-256 of EncodeParams(p).
func HashParams(p []float64) [32]byte {
	return protocol.ValuesSHA256(p) // the same bytes, hashed through a small buffer
}

// SetParams binds c to the parameter vector p: it sets ParamsSHA256 to the
// hex SHA-256 of EncodeParams(p) and Model.NumParams to len(p).
func (c *Card) SetParams(p []float64) {
	h := HashParams(p)
	c.ParamsSHA256 = hex.EncodeToString(h[:])
	c.Model.NumParams = len(p)
}

// CheckParams reports, with an error wrapping ErrInvalidCard, whether p is
// not the parameter vector c describes (length or hash). A site calls it
// with the global model it holds before co-signing.
func (c *Card) CheckParams(p []float64) error {
	if len(p) != c.Model.NumParams {
		return fmt.Errorf("%w: card has num_params %d, parameter vector has %d", ErrInvalidCard, c.Model.NumParams, len(p))
	}
	h := HashParams(p)
	if got := hex.EncodeToString(h[:]); got != c.ParamsSHA256 {
		return fmt.Errorf("%w: card has params_sha256 %s, parameter vector hashes to %s", ErrInvalidCard, c.ParamsSHA256, got)
	}
	return nil
}
