package aggregation

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// The server optimisers' state (m and v) is encoded as follows, version 1;
// integers and floats are little-endian, floats IEEE 754 binary64 bit patterns
// (so a restored state is bit-identical to the saved one):
//
//	size   field
//	4      magic "CHOS" (Cohort optimiser state)
//	1      version, 1
//	1      n, the length of the strategy name
//	n      strategy name: "fedadam", "fedyogi" or "fedadagrad"
//	8      d, the model dimension (uint64)
//	8·d    m
//	8·d    v
//	4      CRC-32C (Castagnoli) of every preceding byte
//
// The hyperparameters (η, β1, β2, τ) are not part of the state: they come from
// the Options the run was created with.
const (
	stateMagic   = "CHOS"
	stateVersion = 1
	// stateOverhead is the size of everything but the name and the vectors.
	stateOverhead = len(stateMagic) + 1 + 1 + 8 + 4
)

var stateCRC = crc32.MakeTable(crc32.Castagnoli)

var (
	_ MeanStrategy     = (*fedOpt)(nil)
	_ StatefulStrategy = (*fedOpt)(nil)
)

// MarshalState returns m and v after the last successful round, encoded as
// above, or nil before the first successful round. The bytes are new; later
// rounds do not change them.
func (s *fedOpt) MarshalState() ([]byte, error) {
	if s.m == nil {
		return nil, nil
	}
	if len(s.name) > math.MaxUint8 {
		return nil, fmt.Errorf("aggregation: %s: strategy name too long to encode", s.name)
	}
	b := make([]byte, 0, stateOverhead+len(s.name)+16*len(s.m))
	b = append(b, stateMagic...)
	b = append(b, stateVersion, byte(len(s.name)))
	b = append(b, s.name...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s.m)))
	for _, x := range s.m {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	for _, x := range s.v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, stateCRC)), nil
}

// UnmarshalState replaces m and v with the state encoded in b by MarshalState.
// An empty b (what MarshalState returns before the first round) resets the
// optimiser to its initial state. It returns an error wrapping ErrInvalidState,
// and leaves the state unchanged, if b is truncated or has trailing bytes, is
// not version 1, fails its checksum, was written by another strategy (FedYogi's
// state given to FedAdam), or holds a non-finite m or v or a negative v. b is
// not retained.
func (s *fedOpt) UnmarshalState(b []byte) error {
	if len(b) == 0 {
		s.m, s.v = nil, nil
		return nil
	}
	m, v, err := s.decodeState(b)
	if err != nil {
		return err
	}
	s.m, s.v = m, v
	return nil
}

func (s *fedOpt) decodeState(b []byte) (m, v []float64, err error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("aggregation: %s: %s: %w", s.name, fmt.Sprintf(format, args...), ErrInvalidState)
	}
	if len(b) < len(stateMagic)+2 {
		return nil, nil, bad("state truncated: %d bytes, shorter than its header", len(b))
	}
	if string(b[:len(stateMagic)]) != stateMagic {
		return nil, nil, bad("not an optimiser state (magic %q, want %q)", b[:len(stateMagic)], stateMagic)
	}
	if ver := b[len(stateMagic)]; ver != stateVersion {
		return nil, nil, bad("state version %d, this build reads version %d", ver, stateVersion)
	}
	n := int(b[len(stateMagic)+1])
	if len(b) < stateOverhead+n {
		return nil, nil, bad("state truncated: %d bytes, its header alone needs %d", len(b), stateOverhead+n)
	}
	name := b[len(stateMagic)+2 : len(stateMagic)+2+n]
	body := b[len(stateMagic)+2+n : len(b)-4] // d, m, v
	d := binary.LittleEndian.Uint64(body)
	body = body[8:]
	if d > uint64(len(body))/16 {
		return nil, nil, bad("state truncated: dimension %d needs %s bytes of moments, %d present",
			d, times16(d), len(body))
	}
	if uint64(len(body)) != 16*d {
		return nil, nil, bad("state has %d trailing bytes after dimension %d", uint64(len(body))-16*d, d)
	}
	if want, got := binary.LittleEndian.Uint32(b[len(b)-4:]), crc32.Checksum(b[:len(b)-4], stateCRC); got != want {
		return nil, nil, bad("state corrupted: checksum %08x, want %08x", got, want)
	}
	if string(name) != s.name {
		return nil, nil, bad("state was written by strategy %q, not %q", name, s.name)
	}
	m, v = make([]float64, d), make([]float64, d)
	for i := range m {
		m[i] = math.Float64frombits(binary.LittleEndian.Uint64(body[8*i:]))
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(body[8*(int(d)+i):]))
		if math.IsNaN(m[i]) || math.IsInf(m[i], 0) {
			return nil, nil, bad("state m[%d] is %v", i, m[i])
		}
		if math.IsNaN(v[i]) || math.IsInf(v[i], 0) || v[i] < 0 {
			return nil, nil, bad("state v[%d] is %v, want finite and >= 0", i, v[i])
		}
	}
	return m, v, nil
}

// times16 returns 16·d as a string, spelling out an overflow of uint64.
func times16(d uint64) string {
	if d > math.MaxUint64/16 {
		return fmt.Sprintf("16·%d", d)
	}
	return fmt.Sprint(16 * d)
}
