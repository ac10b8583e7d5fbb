package secagg_test

import (
	"testing"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/hub"
	"github.com/cohortfl/cohort/secagg/internal/he"
	"github.com/cohortfl/cohort/secagg/internal/secaggtest"
)

// Benchmarks are per ciphertext (N = 4096 values), 5 sites, t = 3,
// MinClients = 3. Report values/s = 4096 / (ns/op · 1e-9).

func benchSchemes(b *testing.B, f func(b *testing.B, c *secaggtest.Cluster)) {
	for _, s := range []secagg.Scheme{secagg.CKKS, secagg.BGV} {
		b.Run(s.String(), func(b *testing.B) {
			c := secaggtest.NewCluster(b, testParams(b, s), 5, 3, 3)
			f(b, c)
		})
	}
}

// BenchmarkSeal: encode + encrypt + hash + sign one ciphertext.
func BenchmarkSeal(b *testing.B) {
	benchSchemes(b, func(b *testing.B, c *secaggtest.Cluster) {
		vec := secaggtest.RandomVectors(1, 1, c.Params.N(), 1)[0]
		b.ResetTimer()
		for i := range b.N {
			if _, err := c.Parties[0].Seal(vec, uint64(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(c.Params.CiphertextBytes()), "ct_bytes")
		b.ReportMetric(float64(c.Params.CiphertextBytes())/float64(4*c.Params.N()), "x_float32")
	})
}

// BenchmarkAdd: the hub's homomorphic addition alone (no checks).
func BenchmarkAdd(b *testing.B) {
	benchSchemes(b, func(b *testing.B, c *secaggtest.Cluster) {
		ctx, _ := he.Of(c.Params)
		contrib, _ := c.Parties[0].Seal(make([]float64, c.Params.N()), 1)
		ct, err := ctx.ParseCiphertext(contrib.Ciphertexts[0])
		if err != nil {
			b.Fatal(err)
		}
		acc := ctx.NewZeroCiphertext()
		b.ResetTimer()
		for range b.N {
			ctx.Add(acc, ct)
		}
	})
}

// BenchmarkAccumulatorAdd: hub.Accumulator.Add including signature check,
// parsing and coefficient-range validation.
func BenchmarkAccumulatorAdd(b *testing.B) {
	benchSchemes(b, func(b *testing.B, c *secaggtest.Cluster) {
		dim := c.Params.N()
		var cs []secagg.Contribution
		for _, p := range c.Parties {
			ct, _ := p.Seal(make([]float64, dim), 1)
			cs = append(cs, ct)
		}
		b.ResetTimer()
		var acc *hub.Accumulator
		for i := range b.N {
			if i%len(cs) == 0 {
				b.StopTimer()
				acc, _ = hub.NewAccumulator(c.Params, c.Epoch, 1, dim)
				b.StartTimer()
			}
			k := i % len(cs)
			if err := acc.Add(cs[k].From, cs[k], c.Epoch.Members[k].Public); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecryptShare: one decryptor's work for one aggregate ciphertext
// with K = 3 contributions: verify 3 signatures, re-add 3 ciphertexts,
// compare, then the smudged key-switch share.
func BenchmarkDecryptShare(b *testing.B) {
	benchSchemes(b, func(b *testing.B, c *secaggtest.Cluster) {
		dim := c.Params.N()
		b.ResetTimer()
		for i := range b.N {
			b.StopTimer()
			round := uint64(i + 1)
			acc, _ := hub.NewAccumulator(c.Params, c.Epoch, round, dim)
			for k := range 3 {
				ct, _ := c.Parties[k].Seal(make([]float64, dim), round)
				if err := acc.Add(ct.From, ct, c.Epoch.Members[k].Public); err != nil {
					b.Fatal(err)
				}
			}
			req, _ := acc.DecryptRequest([]int{0, 1, 2})
			b.StartTimer()
			if _, err := c.Parties[0].DecryptShare(req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCombine: verify t = 3 signed shares, aggregate them and decode
// one ciphertext.
func BenchmarkCombine(b *testing.B) {
	benchSchemes(b, func(b *testing.B, c *secaggtest.Cluster) {
		dim := c.Params.N()
		acc, _ := hub.NewAccumulator(c.Params, c.Epoch, 1, dim)
		for k := range 3 {
			ct, _ := c.Parties[k].Seal(make([]float64, dim), 1)
			if err := acc.Add(ct.From, ct, c.Epoch.Members[k].Public); err != nil {
				b.Fatal(err)
			}
		}
		req, _ := acc.DecryptRequest([]int{0, 1, 2})
		var shares []secagg.DecryptionShare
		for k := range 3 {
			s, err := c.Parties[k].DecryptShare(req)
			if err != nil {
				b.Fatal(err)
			}
			shares = append(shares, s)
		}
		b.ResetTimer()
		for range b.N {
			if _, err := hub.Combine(c.Params, c.Epoch, req, shares); err != nil {
				b.Fatal(err)
			}
		}
	})
}
