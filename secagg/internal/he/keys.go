package he

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
	"github.com/tuneinsight/lattigo/v5/utils/sampling"
)

// accessor is installed by package secagg so that site and hub can reach the
// Context inside a secagg.Params without secagg exporting lattigo types.
var accessor func(any) *Context

// SetAccessor installs the Params → Context accessor. Only package secagg
// calls it, from init.
func SetAccessor(f func(any) *Context) { accessor = f }

// Of returns the Context inside a secagg.Params.
func Of(params any) (*Context, error) {
	if accessor == nil {
		return nil, fmt.Errorf("he: no parameter accessor installed")
	}
	c := accessor(params)
	if c == nil {
		return nil, fmt.Errorf("he: parameters are not initialised (use secagg.NewParams)")
	}
	return c, nil
}

// PublicKeyCRP samples the common reference polynomial of the collective
// public-key protocol from a 32-byte seed. Every party derives the same
// polynomial from the same seed.
func (c *Context) PublicKeyCRP(seed [32]byte) (mhe.PublicKeyGenCRP, error) {
	prng, err := sampling.NewKeyedPRNG(seed[:])
	if err != nil {
		return mhe.PublicKeyGenCRP{}, fmt.Errorf("he: crs prng: %w", err)
	}
	return mhe.NewPublicKeyGenProtocol(c.params).SampleCRP(prng), nil
}

// ParsePublicKeyShare decodes and validates a public-key share.
func (c *Context) ParsePublicKeyShare(b []byte) (share mhe.PublicKeyGenShare, err error) {
	want := mhe.NewPublicKeyGenProtocol(c.params).AllocateShare()
	if len(b) != want.BinarySize() {
		return share, fmt.Errorf("%w: public-key share is %d bytes, want %d", ErrMalformed, len(b), want.BinarySize())
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: public-key share decoding failed: %v", ErrMalformed, r)
		}
	}()
	if err := share.UnmarshalBinary(b); err != nil {
		return share, fmt.Errorf("%w: public-key share: %v", ErrMalformed, err)
	}
	if err := c.checkQP(share.Value); err != nil {
		return share, err
	}
	return share, nil
}

func (c *Context) checkQP(p ringqp.Poly) error {
	if err := c.checkReduced([]ring.Poly{p.Q}); err != nil {
		return err
	}
	if c.params.PCount() == 0 {
		if p.P.Level() >= 0 && len(p.P.Coeffs) > 0 {
			return fmt.Errorf("%w: unexpected P component", ErrMalformed)
		}
		return nil
	}
	moduli := c.params.P()
	if len(p.P.Coeffs) != len(moduli) {
		return fmt.Errorf("%w: P component shape does not match the parameters", ErrMalformed)
	}
	for j, q := range moduli {
		if len(p.P.Coeffs[j]) != c.params.N() {
			return fmt.Errorf("%w: P component shape does not match the parameters", ErrMalformed)
		}
		for _, v := range p.P.Coeffs[j] {
			if v >= q {
				return fmt.Errorf("%w: P coefficient not reduced", ErrMalformed)
			}
		}
	}
	return nil
}

// AggregatePublicKey sums the shares and returns the collective public key.
func (c *Context) AggregatePublicKey(crp mhe.PublicKeyGenCRP, shares []mhe.PublicKeyGenShare) (*rlwe.PublicKey, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("he: no public-key shares")
	}
	proto := mhe.NewPublicKeyGenProtocol(c.params)
	acc := proto.AllocateShare()
	for _, s := range shares {
		proto.AggregateShares(acc, s, &acc)
	}
	pk := rlwe.NewPublicKey(c.params)
	proto.GenPublicKey(acc, crp, pk)
	return pk, nil
}

// ParsePublicKey decodes and validates a collective public key.
func (c *Context) ParsePublicKey(b []byte) (pk *rlwe.PublicKey, err error) {
	want := rlwe.NewPublicKey(c.params)
	if len(b) != want.BinarySize() {
		return nil, fmt.Errorf("%w: public key is %d bytes, want %d", ErrMalformed, len(b), want.BinarySize())
	}
	defer func() {
		if r := recover(); r != nil {
			pk, err = nil, fmt.Errorf("%w: public key decoding failed: %v", ErrMalformed, r)
		}
	}()
	pk = new(rlwe.PublicKey)
	if err := pk.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	if len(pk.Value) != 2 {
		return nil, fmt.Errorf("%w: public key has %d components", ErrMalformed, len(pk.Value))
	}
	for _, p := range pk.Value {
		if err := c.checkQP(p); err != nil {
			return nil, err
		}
	}
	return pk, nil
}

// ParseKeySwitchShare decodes and validates a decryption (key-switch) share.
func (c *Context) ParseKeySwitchShare(b []byte) (share mhe.KeySwitchShare, err error) {
	want := mhe.KeySwitchShare{Value: c.params.RingQ().NewPoly()}
	if len(b) != want.BinarySize() {
		return share, fmt.Errorf("%w: decryption share is %d bytes, want %d", ErrMalformed, len(b), want.BinarySize())
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: decryption share decoding failed: %v", ErrMalformed, r)
		}
	}()
	if err := share.UnmarshalBinary(b); err != nil {
		return share, fmt.Errorf("%w: decryption share: %v", ErrMalformed, err)
	}
	if err := c.checkReduced([]ring.Poly{share.Value}); err != nil {
		return share, err
	}
	return share, nil
}

// NewKeySwitch returns a key-switch protocol instance with the smudging noise
// of the parameters. It is not safe for concurrent use.
func (c *Context) NewKeySwitch() (mhe.KeySwitchProtocol, error) {
	ks, err := mhe.NewKeySwitchProtocol(c.params, c.SmudgingNoise())
	if err != nil {
		return ks, fmt.Errorf("he: key-switch protocol: %w", err)
	}
	return ks, nil
}

// Decrypt completes a collective decryption towards the zero key: it adds the
// aggregated key-switch share to ct and decodes the result into out.
func (c *Context) Decrypt(ks mhe.KeySwitchProtocol, ct *rlwe.Ciphertext, combined mhe.KeySwitchShare, cd *Codec, out []float64) error {
	res := rlwe.NewCiphertext(c.params, 1, ct.Level())
	ks.KeySwitch(ct, combined, res)
	zero := rlwe.NewSecretKey(c.params)
	pt := rlwe.NewPlaintext(c.params, res.Level())
	rlwe.NewDecryptor(c.params, zero).Decrypt(res, pt)
	*pt.MetaData = *res.MetaData
	return cd.Decode(pt, out)
}

// ParseShamirShare decodes and validates a Shamir share received from
// another party.
func (c *Context) ParseShamirShare(b []byte) (share mhe.ShamirSecretShare, err error) {
	want := mhe.NewThresholdizer(c.params).AllocateThresholdSecretShare()
	if len(b) != want.BinarySize() {
		return share, fmt.Errorf("%w: Shamir share is %d bytes, want %d", ErrMalformed, len(b), want.BinarySize())
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: Shamir share decoding failed: %v", ErrMalformed, r)
		}
	}()
	if err := share.UnmarshalBinary(b); err != nil {
		return share, fmt.Errorf("%w: Shamir share: %v", ErrMalformed, err)
	}
	if err := c.checkQP(share.Poly); err != nil {
		return share, err
	}
	return share, nil
}
