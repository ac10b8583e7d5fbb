package hub

import (
	"math"
	"os/exec"
	"strings"
	"testing"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/internal/he"
	"github.com/cohortfl/cohort/secagg/internal/secaggtest"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
)

// TestNoSiteSecrets proves by the build graph that the coordinator side
// cannot reach site secrets: neither secagg nor secagg/hub depends on
// secagg/site, where every secret key, Shamir share and private identity
// key lives.
func TestNoSiteSecrets(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not available")
	}
	for _, pkg := range []string{"github.com/cohortfl/cohort/secagg", "github.com/cohortfl/cohort/secagg/hub"} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 5 {
			t.Fatalf("go list -deps %s returned too little: %q", pkg, out)
		}
		for _, d := range deps {
			if d == "github.com/cohortfl/cohort/secagg/site" {
				t.Errorf("%s depends on secagg/site", pkg)
			}
		}
	}
}

// TestFewerThanTSharesCannotDecrypt forces a combine with t−1 valid shares
// (bypassing Combine's count check) and shows the output is unrelated to
// the sum: the missing share leaves a uniformly random mask modulo Q.
func TestFewerThanTSharesCannotDecrypt(t *testing.T) {
	lit := secagg.DefaultCKKS()
	lit.Encoding = secagg.Encoding{MaxParties: 8, ClipBound: 1}
	params, err := secagg.NewParams(lit)
	if err != nil {
		t.Fatal(err)
	}
	c := secaggtest.NewCluster(t, params, 5, 3, 3)
	const dim = 64
	vecs := secaggtest.RandomVectors(5, 5, dim, 1)
	acc, err := NewAccumulator(params, c.Epoch, 1, dim)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range c.Parties {
		ct, err := p.Seal(vecs[i], 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := acc.Add(p.ID(), ct, c.Epoch.Members[i].Public); err != nil {
			t.Fatal(err)
		}
	}
	req, err := acc.DecryptRequest([]int{0, 2, 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := he.Of(params)
	var parts [][]mhe.KeySwitchShare
	for _, a := range req.Active {
		s, err := c.Parties[a].DecryptShare(req)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := ctx.ParseKeySwitchShare(s.Shares[0])
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, []mhe.KeySwitchShare{ks})
	}
	agg, err := ctx.ParseCiphertext(req.Aggregate[0])
	if err != nil {
		t.Fatal(err)
	}
	want := secaggtest.PlainSum(vecs)
	maxErr := func(got []float64) float64 {
		m := 0.0
		for i := range want {
			m = math.Max(m, math.Abs(got[i]-want[i]))
		}
		return m
	}
	full, err := combine(ctx, []*rlwe.Ciphertext{agg}, parts, dim)
	if err != nil {
		t.Fatal(err)
	}
	if e := maxErr(full); e > params.ErrorBound(5, 3) {
		t.Fatalf("t shares: error %g above bound", e)
	}
	for drop := range parts {
		short := append(append([][]mhe.KeySwitchShare(nil), parts[:drop]...), parts[drop+1:]...)
		got, err := combine(ctx, []*rlwe.Ciphertext{agg}, short, dim)
		if err != nil {
			t.Fatal(err)
		}
		// The sum is at most K·C = 5 in magnitude; a random residue modulo
		// Q ≈ 2^109 decodes to magnitudes around 2^108/2^70 ≈ 2^38.
		far := 0
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e6 {
				far++
			}
		}
		if far < dim*9/10 {
			t.Errorf("dropping share %d: only %d of %d coordinates are garbage", drop, far, dim)
		}
	}
}
