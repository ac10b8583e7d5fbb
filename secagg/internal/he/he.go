// Package he is the only place in Cohort that touches lattigo. It wraps the
// scheme-specific parts (CKKS or BGV encoding, ciphertext parsing and
// validation, homomorphic addition, decoding) behind a small Context that
// secagg, secagg/site and secagg/hub share. Being internal, it cannot be
// imported outside secagg/.
//
// A Context is immutable after New. Objects that carry scratch buffers
// (encoders, encryptors, protocol instances) are created per caller and are
// not safe for concurrent use; callers that need concurrency make one per
// goroutine.
package he

import (
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
	"github.com/tuneinsight/lattigo/v5/schemes/ckks"
)

// Scheme selects the homomorphic scheme.
type Scheme int

// Supported schemes.
const (
	CKKS Scheme = 1
	BGV  Scheme = 2
)

// Spec is the fully resolved description of a parameter set. secagg builds
// it after validation; he trusts it.
type Spec struct {
	Scheme   Scheme
	LogN     int
	LogQ     []int
	LogScale int     // CKKS: log2 of the scale Δ
	LogT     int     // BGV: bit size of the plaintext modulus T
	FracBits int     // BGV: fixed-point fractional bits f
	Sigma    float64 // smudging standard deviation
}

// Context holds the lattigo parameters for one Spec.
type Context struct {
	spec   Spec
	params rlwe.Parameters
	ckks   ckks.Parameters
	bgv    bgv.Parameters
	meta   rlwe.MetaData // metadata every fresh contribution ciphertext carries
	ctSize int           // serialized size of one ciphertext
}

// New builds lattigo parameters for spec.
func New(spec Spec) (*Context, error) {
	c := &Context{spec: spec}
	c.spec.LogQ = append([]int(nil), spec.LogQ...)
	switch spec.Scheme {
	case CKKS:
		p, err := ckks.NewParametersFromLiteral(ckks.ParametersLiteral{
			LogN:            spec.LogN,
			LogQ:            spec.LogQ,
			RingType:        ring.Standard,
			LogDefaultScale: spec.LogScale,
		})
		if err != nil {
			return nil, fmt.Errorf("he: ckks parameters: %w", err)
		}
		c.ckks, c.params = p, p.Parameters
	case BGV:
		gen := ring.NewNTTFriendlyPrimesGenerator(uint64(spec.LogT), uint64(2<<spec.LogN))
		t, err := gen.NextDownstreamPrime()
		if err != nil {
			return nil, fmt.Errorf("he: bgv plaintext modulus of %d bits: %w", spec.LogT, err)
		}
		p, err := bgv.NewParametersFromLiteral(bgv.ParametersLiteral{
			LogN:             spec.LogN,
			LogQ:             spec.LogQ,
			PlaintextModulus: t,
		})
		if err != nil {
			return nil, fmt.Errorf("he: bgv parameters: %w", err)
		}
		c.bgv, c.params = p, p.Parameters
	default:
		return nil, fmt.Errorf("he: unknown scheme %d", spec.Scheme)
	}
	pt := c.newPlaintext()
	ct := rlwe.NewCiphertext(c.params, 1, c.params.MaxLevel())
	*ct.MetaData = *pt.MetaData
	c.meta = *ct.MetaData
	c.ctSize = ct.BinarySize()
	return c, nil
}

// Spec returns the resolved spec.
func (c *Context) Spec() Spec { s := c.spec; s.LogQ = append([]int(nil), s.LogQ...); return s }

// Params returns the RLWE parameters.
func (c *Context) Params() rlwe.Parameters { return c.params }

// Provider returns the scheme parameters as a lattigo ParameterProvider.
func (c *Context) Provider() rlwe.ParameterProvider {
	if c.spec.Scheme == CKKS {
		return c.ckks
	}
	return c.bgv
}

// N is the ring degree, i.e. the number of values per ciphertext.
func (c *Context) N() int { return c.params.N() }

// T returns the BGV plaintext modulus, or 0 for CKKS.
func (c *Context) T() uint64 {
	if c.spec.Scheme == BGV {
		return c.bgv.PlaintextModulus()
	}
	return 0
}

// CiphertextSize is the serialized size in bytes of one ciphertext.
func (c *Context) CiphertextSize() int { return c.ctSize }

// EncryptionNoiseBound is a worst-case bound on |e|∞ of one fresh public-key
// encryption under a collective key aggregated from parties shares:
// |u·e_pk + e0 + e1·s|∞ ≤ 2·N·parties·B + B, with B the Gaussian bound.
func (c *Context) EncryptionNoiseBound(parties int) float64 {
	b := 6 * c.params.NoiseFreshSK()
	if g, ok := c.params.Xe().(ring.DiscreteGaussian); ok {
		b = g.Bound
	}
	return 2*float64(c.params.N())*float64(parties)*b + b
}

// SmudgingBound is the bound on |e|∞ of one decryption share: lattigo samples
// a truncated Gaussian of deviation sqrt(σ_fresh² + σ²) with bound 6 times
// that deviation.
func (c *Context) SmudgingBound() float64 {
	f := c.params.NoiseFreshSK()
	return 6 * math.Sqrt(f*f+c.spec.Sigma*c.spec.Sigma)
}

// SmudgingNoise returns the lattigo distribution for key-switch shares.
func (c *Context) SmudgingNoise() ring.DistributionParameters {
	return ring.DiscreteGaussian{Sigma: c.spec.Sigma, Bound: 6 * c.spec.Sigma}
}

func (c *Context) newPlaintext() *rlwe.Plaintext {
	var pt *rlwe.Plaintext
	if c.spec.Scheme == CKKS {
		pt = ckks.NewPlaintext(c.ckks, c.params.MaxLevel())
		pt.Scale = rlwe.NewScale(math.Exp2(float64(c.spec.LogScale)))
	} else {
		pt = bgv.NewPlaintext(c.bgv, c.params.MaxLevel())
	}
	pt.IsBatched = false
	return pt
}

// Codec encodes and decodes plaintexts. It is not safe for concurrent use.
type Codec struct {
	c    *Context
	ckks *ckks.Encoder
	bgv  *bgv.Encoder
	ints []int64
}

// NewCodec returns a Codec for c.
func (c *Context) NewCodec() *Codec {
	cd := &Codec{c: c}
	if c.spec.Scheme == CKKS {
		// Precision 53 keeps the encoder on float64 arithmetic even though
		// the scale exceeds 2^64 (the default would pick big.Float).
		cd.ckks = ckks.NewEncoder(c.ckks, 53)
	} else {
		cd.bgv = bgv.NewEncoder(c.bgv)
		cd.ints = make([]int64, c.params.N())
	}
	return cd
}

// Encode encodes up to N values (already validated by the caller) into a
// coefficient-encoded plaintext at the top level.
func (cd *Codec) Encode(values []float64) (*rlwe.Plaintext, error) {
	if len(values) > cd.c.N() {
		return nil, fmt.Errorf("he: %d values exceed ring degree %d", len(values), cd.c.N())
	}
	pt := cd.c.newPlaintext()
	if cd.ckks != nil {
		if err := cd.ckks.Encode(values, pt); err != nil {
			return nil, fmt.Errorf("he: ckks encode: %w", err)
		}
		return pt, nil
	}
	scale := math.Exp2(float64(cd.c.spec.FracBits))
	ints := cd.ints[:len(values)]
	for i, v := range values {
		ints[i] = int64(math.Round(v * scale))
	}
	if err := cd.bgv.Encode(ints, pt); err != nil {
		return nil, fmt.Errorf("he: bgv encode: %w", err)
	}
	return pt, nil
}

// Decode decodes a plaintext into out (len(out) ≤ N).
func (cd *Codec) Decode(pt *rlwe.Plaintext, out []float64) error {
	if cd.ckks != nil {
		buf := make([]float64, cd.c.N())
		if err := cd.ckks.Decode(pt, buf); err != nil {
			return fmt.Errorf("he: ckks decode: %w", err)
		}
		copy(out, buf)
		return nil
	}
	pt.IsBatched = false
	if err := cd.bgv.Decode(pt, cd.ints); err != nil {
		return fmt.Errorf("he: bgv decode: %w", err)
	}
	inv := math.Exp2(-float64(cd.c.spec.FracBits))
	for i := range out {
		out[i] = float64(cd.ints[i]) * inv
	}
	return nil
}

// ErrMalformed reports a ciphertext or key that does not parse or does not
// match the parameters.
var ErrMalformed = errors.New("he: malformed object")

// ParseCiphertext decodes b and checks that it is a well-formed fresh
// contribution ciphertext for c: exact size, degree 1, top level, the
// expected metadata, and every coefficient reduced modulo its prime. It never
// panics on hostile input.
func (c *Context) ParseCiphertext(b []byte) (ct *rlwe.Ciphertext, err error) {
	if len(b) != c.ctSize {
		return nil, fmt.Errorf("%w: ciphertext is %d bytes, want %d", ErrMalformed, len(b), c.ctSize)
	}
	defer func() {
		if r := recover(); r != nil {
			ct, err = nil, fmt.Errorf("%w: ciphertext decoding failed: %v", ErrMalformed, r)
		}
	}()
	ct = new(rlwe.Ciphertext)
	if err := ct.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%w: ciphertext: %v", ErrMalformed, err)
	}
	if ct.Degree() != 1 || ct.Level() != c.params.MaxLevel() {
		return nil, fmt.Errorf("%w: ciphertext degree %d level %d, want degree 1 level %d", ErrMalformed, ct.Degree(), ct.Level(), c.params.MaxLevel())
	}
	if ct.MetaData == nil || !ct.MetaData.Equal(&c.meta) {
		return nil, fmt.Errorf("%w: ciphertext metadata does not match the parameters", ErrMalformed)
	}
	if err := c.checkReduced(ct.Value); err != nil {
		return nil, err
	}
	return ct, nil
}

func (c *Context) checkReduced(polys []ring.Poly) error {
	moduli := c.params.Q()
	for _, p := range polys {
		if p.N() != c.params.N() || len(p.Coeffs) != len(moduli) {
			return fmt.Errorf("%w: polynomial shape does not match the parameters", ErrMalformed)
		}
		for j, q := range moduli {
			for _, v := range p.Coeffs[j] {
				if v >= q {
					return fmt.Errorf("%w: coefficient not reduced modulo prime %d", ErrMalformed, j)
				}
			}
		}
	}
	return nil
}

// NewZeroCiphertext returns a zero ciphertext with contribution metadata, the
// neutral element of Add.
func (c *Context) NewZeroCiphertext() *rlwe.Ciphertext {
	ct := rlwe.NewCiphertext(c.params, 1, c.params.MaxLevel())
	*ct.MetaData = c.meta
	return ct
}

// Add sets acc = acc + ct coefficient-wise modulo Q. Both must come from
// ParseCiphertext or NewZeroCiphertext. Ring addition is exact, commutative
// and deterministic, so any party adding the same ciphertexts gets the same
// bytes.
func (c *Context) Add(acc, ct *rlwe.Ciphertext) {
	r := c.params.RingQ().AtLevel(acc.Level())
	r.Add(acc.Value[0], ct.Value[0], acc.Value[0])
	r.Add(acc.Value[1], ct.Value[1], acc.Value[1])
}

// Marshal serializes a ciphertext.
func Marshal(ct *rlwe.Ciphertext) ([]byte, error) {
	b, err := ct.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("he: marshal ciphertext: %w", err)
	}
	return b, nil
}

// QBits returns log2(Q) exactly enough for headroom checks.
func (c *Context) QBits() float64 {
	q := new(big.Float).SetInt(c.params.RingQ().ModulusAtLevel[c.params.MaxLevel()])
	f, _ := q.Float64()
	return math.Log2(f)
}
