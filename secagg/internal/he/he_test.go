package he

import (
	"errors"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

func TestParseCiphertextRejectsHostileInput(t *testing.T) {
	ctx, err := New(Spec{Scheme: CKKS, LogN: 12, LogQ: []int{54, 55}, LogScale: 70, Sigma: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	kg := rlwe.NewKeyGenerator(ctx.Params())
	sk := kg.GenSecretKeyNew()
	pt, err := ctx.NewCodec().Encode([]float64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	ct := ctx.NewZeroCiphertext()
	if err := rlwe.NewEncryptor(ctx.Params(), sk).Encrypt(pt, ct); err != nil {
		t.Fatal(err)
	}
	good, err := Marshal(ct)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctx.ParseCiphertext(good); err != nil {
		t.Fatalf("fresh ciphertext rejected: %v", err)
	}
	unreduced := ct.CopyNew()
	unreduced.Value[1].Coeffs[0][7] = ctx.Params().Q()[0]
	ub, _ := Marshal(unreduced)
	garbage := make([]byte, len(good))
	for i := range garbage {
		garbage[i] = 0xff
	}
	cases := map[string][]byte{
		"truncated":             good[:len(good)-1],
		"empty":                 nil,
		"unreduced coefficient": ub,
		"all 0xff":              garbage,
	}
	for name, b := range cases {
		if _, err := ctx.ParseCiphertext(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: ParseCiphertext = %v, want ErrMalformed", name, err)
		}
	}
}
