package privacy

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	mrand "math/rand/v2"
)

// CryptoNormal draws a standard normal variate from crypto/rand (Box–Muller
// on 53-bit uniforms). All DP noise in a deployment comes from here.
func CryptoNormal() float64 {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("privacy: crypto/rand failed: %v", err)) // broken invariant: the OS RNG does not fail
	}
	u1 := (float64(binary.LittleEndian.Uint64(b[:8])>>11) + 0.5) / (1 << 53)
	u2 := float64(binary.LittleEndian.Uint64(b[8:])>>11) / (1 << 53)
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// SeededNormal returns a reproducible N(0, 1) source for simulations and
// tests only; it is safe for use by one goroutine at a time.
func SeededNormal(seed uint64) func() float64 {
	r := mrand.New(mrand.NewPCG(seed, 0xd15c0))
	return r.NormFloat64
}
