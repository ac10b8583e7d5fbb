package secagg_test

import (
	"errors"
	"math"
	"testing"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/hub"
	"github.com/cohortfl/cohort/secagg/internal/secaggtest"
)

func testParams(t testing.TB, scheme secagg.Scheme) secagg.Params {
	t.Helper()
	lit := secagg.DefaultCKKS()
	if scheme == secagg.BGV {
		lit = secagg.DefaultBGV()
	}
	lit.Encoding = secagg.Encoding{MaxParties: 16, ClipBound: 1}
	p, err := secagg.NewParams(lit)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEndToEndSum(t *testing.T) {
	for _, scheme := range []secagg.Scheme{secagg.CKKS, secagg.BGV} {
		t.Run(scheme.String(), func(t *testing.T) {
			params := testParams(t, scheme)
			c := secaggtest.NewCluster(t, params, 5, 3, 3)
			dim := params.N() + 7 // two ciphertexts
			vecs := secaggtest.RandomVectors(1, 5, dim, params.Encoding().ClipBound)
			acc, err := hub.NewAccumulator(params, c.Epoch, 7, dim)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range c.Parties {
				ctb, err := p.Seal(vecs[i], 7)
				if err != nil {
					t.Fatal(err)
				}
				if err := acc.Add(p.ID(), ctb, c.Epoch.Members[i].Public); err != nil {
					t.Fatal(err)
				}
			}
			want := secaggtest.PlainSum(vecs)
			bound := params.ErrorBound(5, 3)
			// Every 3-subset of the 5 sites can decrypt.
			for _, active := range [][]int{{0, 1, 2}, {0, 3, 4}, {1, 2, 4}, {2, 3, 4}} {
				req, err := acc.DecryptRequest(active)
				if err != nil {
					t.Fatal(err)
				}
				var shares []secagg.DecryptionShare
				for _, a := range active {
					s, err := c.Parties[a].DecryptShare(req)
					if err != nil {
						t.Fatalf("active %v: site %d: %v", active, a, err)
					}
					shares = append(shares, s)
				}
				got, err := hub.Combine(params, c.Epoch, req, shares)
				if err != nil {
					t.Fatal(err)
				}
				maxErr := 0.0
				for i := range want {
					maxErr = math.Max(maxErr, math.Abs(got[i]-want[i]))
				}
				if maxErr > bound {
					t.Errorf("active %v: max |got−want| = %g exceeds the bound %g", active, maxErr, bound)
				}
				t.Logf("active %v: max error %.3g (bound %.3g)", active, maxErr, bound)
				_, err = hub.Combine(params, c.Epoch, req, shares[:2])
				if !errors.Is(err, secagg.ErrNotEnoughShares) {
					t.Errorf("Combine with t−1 shares: err = %v, want ErrNotEnoughShares", err)
				}
			}
		})
	}
}

// TestManyCiphertextsCombine decrypts a 24-ciphertext sum of 10 sites with
// t = 6, twice, at the scale of the benchmark's rounds. (Lattigo's key-switch
// share on a non-NTT ciphertext ends with a lazy inverse NTT plus noise, which
// can leave coefficients in [q, 2q) that Combine rejects; the 1M-parameter
// benchmark hit it, this test does not reproduce it reliably, and the fix —
// sites reduce their shares — is in site.keySwitchShares.)
func TestManyCiphertextsCombine(t *testing.T) {
	if testing.Short() {
		t.Skip("48 ciphertexts")
	}
	params := testParams(t, secagg.CKKS)
	const n, th = 10, 6
	c := secaggtest.NewCluster(t, params, n, th, n)
	dim := 24 * params.N()
	vecs := secaggtest.RandomVectors(3, n, dim, params.Encoding().ClipBound)
	want := secaggtest.PlainSum(vecs)
	for round := uint64(1); round <= 2; round++ {
		acc, err := hub.NewAccumulator(params, c.Epoch, round, dim)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range c.Parties {
			ctb, err := p.Seal(vecs[i], round)
			if err != nil {
				t.Fatal(err)
			}
			if err := acc.Add(p.ID(), ctb, c.Epoch.Members[i].Public); err != nil {
				t.Fatal(err)
			}
		}
		active := []int{0, 2, 3, 5, 7, 9}
		req, err := acc.DecryptRequest(active)
		if err != nil {
			t.Fatal(err)
		}
		var shares []secagg.DecryptionShare
		for _, a := range active {
			s, err := c.Parties[a].DecryptShare(req)
			if err != nil {
				t.Fatal(err)
			}
			shares = append(shares, s)
		}
		got, err := hub.Combine(params, c.Epoch, req, shares)
		if err != nil {
			t.Fatalf("round %d: Combine: %v", round, err)
		}
		bound := params.ErrorBound(n, th)
		for i := range want {
			if math.Abs(got[i]-want[i]) > bound {
				t.Fatalf("round %d: value %d = %v, want %v ± %g", round, i, got[i], want[i], bound)
			}
		}
	}
}
