package secwire

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Splitting, summing limb-wise with a small error on every coordinate (as a
// decryption would add) and joining gives the true sum with only the error of
// the last limb.
func TestWideSumSurvivesDecryptionError(t *testing.T) {
	const b = 1 << 20
	r := rand.New(rand.NewPCG(1, 2))
	sites := 7
	want := make([]float64, 5)
	sum := make([]float64, Limbs*len(want))
	for s := 0; s < sites; s++ {
		v := []float64{r.Float64() * 3e11, -r.Float64() * 1e9, r.Float64(), 12345, -b * b * 1.5}
		for i := range v {
			want[i] += v[i]
		}
		parts, err := SplitWide(v, b)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range parts {
			if math.Abs(p) > b {
				t.Fatalf("limb %d = %v exceeds the clip bound %v", i, p, float64(b))
			}
			sum[i] += p
		}
	}
	for i := range sum {
		sum[i] += 1e-8 * (r.Float64() - 0.5) // decryption noise
	}
	got, err := JoinWide(sum, b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		// Exact up to float64 rounding of the inputs plus the last limb's 1e-8.
		if d := math.Abs(got[i] - want[i]); d > 1e-8+1e-15*math.Abs(want[i])*Limbs*float64(sites) {
			t.Errorf("coordinate %d: got %.6f, want %.6f (diff %g)", i, got[i], want[i], d)
		}
	}
	if _, err := SplitWide([]float64{b * b * b}, b); err == nil {
		t.Error("a value beyond B³ was accepted")
	}
	if _, err := SplitWide([]float64{math.NaN()}, b); err == nil {
		t.Error("NaN was accepted")
	}
}
