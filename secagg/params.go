package secagg

import (
	"fmt"
	"math"
	"slices"

	"github.com/cohortfl/cohort/secagg/internal/he"
)

// Scheme selects the homomorphic encryption scheme behind the secure sum.
type Scheme int

// Supported schemes. CKKS is the default (see MEASUREMENTS.md).
const (
	CKKS Scheme = Scheme(he.CKKS)
	BGV  Scheme = Scheme(he.BGV)
)

func (s Scheme) String() string {
	switch s {
	case CKKS:
		return "CKKS"
	case BGV:
		return "BGV"
	}
	return fmt.Sprintf("Scheme(%d)", int(s))
}

// Encoding bounds what may be summed. Sites clip every coordinate to
// [-ClipBound, ClipBound] before sealing; at most MaxParties contributions
// (and at most MaxParties key holders) take part in one sum. The fixed-point
// scale is derived from these bounds so that the sum can never wrap modulo Q
// (CKKS) or T (BGV).
type Encoding struct {
	MaxParties int
	ClipBound  float64
}

// ParametersLiteral is the public, unchecked description of a parameter set.
// Turn it into Params with NewParams.
type ParametersLiteral struct {
	Scheme Scheme
	LogN   int
	LogQ   []int // bit sizes of the ciphertext primes

	// LogScale is log2 of the CKKS scale Δ. Zero derives the largest
	// scale the headroom rule allows (capped at MaxDerivedLogScale).
	LogScale int
	// LogT is the bit size of the BGV plaintext modulus T (ignored by CKKS).
	LogT int
	// FracBits is the BGV fixed-point precision f. Zero derives the largest
	// f with MaxParties·(ClipBound·2^f + 1/2) < T/2.
	FracBits int

	// SmudgingSigma is the standard deviation of the noise each decryptor
	// adds to its decryption share. Zero means DefaultSmudgingSigma. Values
	// below MinSmudgingSigma are rejected unless Insecure is set.
	SmudgingSigma float64
	// Insecure allows SmudgingSigma < MinSmudgingSigma. Such parameters
	// leak the decryptors' key shares to an attacker who sees decryption
	// shares (see doc.go); use them only for measurements.
	Insecure bool

	Encoding Encoding
}

// Security and encoding constants.
const (
	DefaultSmudgingSigma = 1 << 40
	MinSmudgingSigma     = 1 << 40
	MaxDerivedLogScale   = 80
)

// maxLogQP is the largest log2(QP) with 128-bit security for a ternary
// secret (HE standard), indexed by logN.
var maxLogQP = map[int]int{11: 54, 12: 109, 13: 218, 14: 438}

// DefaultCKKS is the measured secure set: CKKS, N=2^12, Q=[54,55] bits,
// Δ=2^70, σ=2^40, coefficient encoding.
func DefaultCKKS() ParametersLiteral {
	return ParametersLiteral{
		Scheme:        CKKS,
		LogN:          12,
		LogQ:          []int{54, 55},
		LogScale:      70,
		SmudgingSigma: DefaultSmudgingSigma,
		Encoding:      Encoding{MaxParties: 1024, ClipBound: 1e4},
	}
}

// DefaultBGV is the BGV variant at the same ring size: T ≈ 2^40 and the
// fractional bits derived from the encoding (f=14 for K=1024, C=1e4; f=33
// for K=16, C=1).
func DefaultBGV() ParametersLiteral {
	return ParametersLiteral{
		Scheme:        BGV,
		LogN:          12,
		LogQ:          []int{54, 55},
		LogT:          40,
		SmudgingSigma: DefaultSmudgingSigma,
		Encoding:      Encoding{MaxParties: 1024, ClipBound: 1e4},
	}
}

// Params is a validated, immutable parameter set. The zero value is not
// usable; build one with NewParams. Params is safe for concurrent use.
type Params struct {
	lit ParametersLiteral // resolved: LogScale/FracBits/SmudgingSigma filled in
	ctx *he.Context
}

func init() {
	he.SetAccessor(func(v any) *he.Context {
		switch p := v.(type) {
		case Params:
			return p.ctx
		case *Params:
			if p != nil {
				return p.ctx
			}
		}
		return nil
	})
}

// NewParams validates lit and builds the parameters. It rejects sets that
// are not 128-bit secure, smudging below 2^40 without Insecure, and
// encodings whose worst-case sum could overflow.
func NewParams(lit ParametersLiteral) (Params, error) {
	lit.LogQ = slices.Clone(lit.LogQ)
	if lit.Scheme != CKKS && lit.Scheme != BGV {
		return Params{}, fmt.Errorf("%w: unknown scheme %v", ErrBadParams, lit.Scheme)
	}
	bound, ok := maxLogQP[lit.LogN]
	if !ok {
		return Params{}, fmt.Errorf("%w: LogN=%d unsupported (want 11..14)", ErrBadParams, lit.LogN)
	}
	if len(lit.LogQ) == 0 {
		return Params{}, fmt.Errorf("%w: LogQ is empty", ErrBadParams)
	}
	logQ := 0
	for i, b := range lit.LogQ {
		if b < 20 || b > 61 {
			return Params{}, fmt.Errorf("%w: LogQ[%d]=%d outside [20,61]", ErrBadParams, i, b)
		}
		logQ += b
	}
	if logQ > bound {
		return Params{}, fmt.Errorf("%w: log2(Q)=%d exceeds the 128-bit security bound %d for LogN=%d", ErrBadParams, logQ, bound, lit.LogN)
	}
	if lit.SmudgingSigma == 0 {
		lit.SmudgingSigma = DefaultSmudgingSigma
	}
	if math.IsNaN(lit.SmudgingSigma) || math.IsInf(lit.SmudgingSigma, 0) || lit.SmudgingSigma < 1 {
		return Params{}, fmt.Errorf("%w: SmudgingSigma=%v invalid", ErrBadParams, lit.SmudgingSigma)
	}
	if lit.SmudgingSigma < MinSmudgingSigma && !lit.Insecure {
		return Params{}, fmt.Errorf("%w: SmudgingSigma=2^%.1f below the 2^40 minimum (set Insecure only for measurements)", ErrBadParams, math.Log2(lit.SmudgingSigma))
	}
	enc := lit.Encoding
	if enc.MaxParties < 1 {
		return Params{}, fmt.Errorf("%w: Encoding.MaxParties=%d must be ≥ 1", ErrBadParams, enc.MaxParties)
	}
	if !(enc.ClipBound > 0) || math.IsInf(enc.ClipBound, 0) {
		return Params{}, fmt.Errorf("%w: Encoding.ClipBound=%v must be finite and > 0", ErrBadParams, enc.ClipBound)
	}
	if lit.Scheme == BGV && (lit.LogT < 17 || lit.LogT >= lit.LogQ[0]) {
		return Params{}, fmt.Errorf("%w: LogT=%d must be in [17, LogQ[0]=%d)", ErrBadParams, lit.LogT, lit.LogQ[0])
	}
	spec := he.Spec{Scheme: he.Scheme(lit.Scheme), LogN: lit.LogN, LogQ: lit.LogQ, LogT: lit.LogT, Sigma: lit.SmudgingSigma}
	// A scale is needed to build CKKS parameters; the headroom check below
	// does not depend on it, so build once with a placeholder.
	spec.LogScale = 1
	ctx, err := he.New(spec)
	if err != nil {
		return Params{}, fmt.Errorf("%w: %w", ErrBadParams, err)
	}
	if err := resolveHeadroom(&lit, ctx); err != nil {
		return Params{}, err
	}
	spec.LogScale, spec.FracBits = lit.LogScale, lit.FracBits
	if ctx, err = he.New(spec); err != nil {
		return Params{}, fmt.Errorf("%w: %w", ErrBadParams, err)
	}
	return Params{lit: lit, ctx: ctx}, nil
}

// noiseBound is the worst-case |noise| of a decrypted sum of k
// contributions decrypted by k decryptors: k fresh encryptions plus k
// smudged shares (before any multiplication by T).
func noiseBound(ctx *he.Context, k int) float64 {
	return float64(k)*ctx.EncryptionNoiseBound(k) + float64(k)*ctx.SmudgingBound()
}

// resolveHeadroom derives or checks the fixed-point scale.
//
// CKKS: the decrypted coefficient is Σ round(v_k·Δ) + e with
// |Σ round(v_k·Δ)| ≤ K·(C·Δ + 1/2) and |e| ≤ noiseBound(K). It must stay
// below Q/2 to decode without wrapping; we keep one more bit of margin:
//
//	log2(K·(C·Δ + 1/2) + noiseBound(K)) ≤ log2(Q) − 2
//
// BGV: the sum is exact modulo T, so |Σ round(v_k·2^f)| ≤ K·(C·2^f + 1/2)
// must stay below T/4 (one bit of margin), and the decryption noise, which
// BGV multiplies by T, must satisfy T/2 + T·noiseBound(K) ≤ Q/4.
func resolveHeadroom(lit *ParametersLiteral, ctx *he.Context) error {
	k, c := float64(lit.Encoding.MaxParties), lit.Encoding.ClipBound
	logQ := ctx.QBits()
	e := noiseBound(ctx, lit.Encoding.MaxParties)
	fits := func(logScale int) bool {
		return math.Log2(k*(c*math.Exp2(float64(logScale))+0.5)+e) <= logQ-2
	}
	switch lit.Scheme {
	case CKKS:
		if lit.LogScale == 0 {
			for s := MaxDerivedLogScale; s >= 1; s-- {
				if fits(s) {
					lit.LogScale = s
					break
				}
			}
			if lit.LogScale == 0 {
				return fmt.Errorf("%w: no CKKS scale fits MaxParties=%d ClipBound=%g in log2(Q)=%.1f", ErrBadParams, lit.Encoding.MaxParties, c, logQ)
			}
		}
		if lit.LogScale < 1 || !fits(lit.LogScale) {
			return fmt.Errorf("%w: LogScale=%d overflows: need log2(K·C·Δ + noise) ≤ log2(Q)−2 = %.1f for K=%d, C=%g", ErrBadParams, lit.LogScale, logQ-2, lit.Encoding.MaxParties, c)
		}
		lit.FracBits = 0
	case BGV:
		t := float64(ctx.T())
		if math.Log2(t/2+t*e) > logQ-2 {
			return fmt.Errorf("%w: BGV noise T·e=2^%.1f leaves no room in log2(Q)=%.1f", ErrBadParams, math.Log2(t*e), logQ)
		}
		fitsT := func(f int) bool { return k*(c*math.Exp2(float64(f))+0.5) < t/4 }
		if lit.FracBits == 0 {
			for f := 62; f >= 1; f-- {
				if fitsT(f) {
					lit.FracBits = f
					break
				}
			}
			if lit.FracBits == 0 {
				return fmt.Errorf("%w: no BGV precision fits MaxParties=%d ClipBound=%g in T=2^%d", ErrBadParams, lit.Encoding.MaxParties, c, lit.LogT)
			}
		}
		if lit.FracBits < 1 || !fitsT(lit.FracBits) {
			return fmt.Errorf("%w: FracBits=%d overflows T: need K·C·2^f < T/4 for K=%d, C=%g", ErrBadParams, lit.FracBits, lit.Encoding.MaxParties, c)
		}
		lit.LogScale = 0
	}
	return nil
}

// Literal returns the resolved literal (derived fields filled in).
func (p Params) Literal() ParametersLiteral {
	l := p.lit
	l.LogQ = slices.Clone(l.LogQ)
	return l
}

// Scheme returns the scheme.
func (p Params) Scheme() Scheme { return p.lit.Scheme }

// N is the ring degree: the number of values one ciphertext carries.
func (p Params) N() int { return 1 << p.lit.LogN }

// Encoding returns the clipping and party bounds.
func (p Params) Encoding() Encoding { return p.lit.Encoding }

// LogScale is log2 of the fixed-point scale: Δ for CKKS, 2^f for BGV.
func (p Params) LogScale() int {
	if p.lit.Scheme == BGV {
		return p.lit.FracBits
	}
	return p.lit.LogScale
}

// SmudgingSigma is the decryption-share smudging deviation.
func (p Params) SmudgingSigma() float64 { return p.lit.SmudgingSigma }

// Ciphertexts is the number of ciphertexts that carry dim values.
func (p Params) Ciphertexts(dim int) int { return (dim + p.N() - 1) / p.N() }

// CiphertextBytes is the serialized size of one ciphertext.
func (p Params) CiphertextBytes() int {
	if p.ctx == nil {
		return 0
	}
	return p.ctx.CiphertextSize()
}

// ErrorBound is a worst-case bound on |decrypted − exact| per coordinate
// for a sum of contributors inputs decrypted by decryptors sites.
//
// CKKS: (K/2 + K·B_enc + t·B_smudge)/Δ for the rounding, encryption and
// smudging noise, plus 2·K·C·2^-53 for float64 rounding at encode and decode.
// BGV: the sum is exact modulo T, so only the encoding rounding K·2^-(f+1)
// remains, plus the same float64 term.
func (p Params) ErrorBound(contributors, decryptors int) float64 {
	if p.ctx == nil {
		return math.Inf(1)
	}
	k := float64(contributors)
	fl := 2 * k * p.lit.Encoding.ClipBound * math.Exp2(-53)
	if p.lit.Scheme == BGV {
		return k*math.Exp2(-float64(p.lit.FracBits+1)) + fl
	}
	e := k/2 + k*p.ctx.EncryptionNoiseBound(p.lit.Encoding.MaxParties) + float64(decryptors)*p.ctx.SmudgingBound()
	return e*math.Exp2(-float64(p.lit.LogScale)) + fl
}

// String summarises the parameters.
func (p Params) String() string {
	return fmt.Sprintf("%v logN=%d logQ=%v logScale=%d σ=2^%.1f K≤%d |v|≤%g",
		p.lit.Scheme, p.lit.LogN, p.lit.LogQ, p.LogScale(), math.Log2(p.lit.SmudgingSigma), p.lit.Encoding.MaxParties, p.lit.Encoding.ClipBound)
}
