package sim

import (
	"context"
	"math"
	"testing"
)

// TestTestSetStaysOutOfTraining checks that no held-out test row reaches any
// site, and that every site's local eval rows are disjoint from its training rows.
func TestTestSetStaysOutOfTraining(t *testing.T) {
	for _, part := range []string{"iid", "dirichlet:0.5", "quantity:1", "column:afam"} {
		c := DefaultConfig()
		c.Partition = part
		p, err := prepare(c)
		if err != nil {
			t.Fatalf("%s: %v", part, err)
		}
		test := map[int]bool{}
		for _, r := range p.testRows {
			test[r] = true
		}
		seen := map[int]string{}
		for _, s := range p.sites {
			for _, r := range append(append([]int(nil), s.trainRows...), s.evalRows...) {
				if test[r] {
					t.Fatalf("%s: test row %d is held by site %s", part, r, s.name)
				}
				if other, dup := seen[r]; dup {
					t.Fatalf("%s: row %d is held twice (%s and %s)", part, r, other, s.name)
				}
				seen[r] = s.name
			}
		}
		if len(seen)+len(test) != p.rows {
			t.Fatalf("%s: %d site rows + %d test rows != %d dataset rows", part, len(seen), len(test), p.rows)
		}
	}
}

func runSim(t *testing.T, c Config) Result {
	t.Helper()
	r, err := Run(context.Background(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDeterministicAndTransportIndependent: the same seed gives the same model,
// and the gRPC transport (real mTLS on loopback) gives the model the in-process
// transport gives. Arrival order differs between runs, so parameters are
// compared to 1e-12 relative (WeightedSum's documented order tolerance).
func TestDeterministicAndTransportIndependent(t *testing.T) {
	c := DefaultConfig()
	c.Rounds = 5
	a, b := runSim(t, c), runSim(t, c)
	c.Transport = "grpc"
	g := runSim(t, c)
	for i := range a.Params {
		for _, other := range [][]float64{b.Params, g.Params} {
			if d := math.Abs(a.Params[i] - other[i]); d > 1e-12*math.Max(1, math.Abs(a.Params[i])) {
				t.Fatalf("param %d differs: %v vs %v", i, a.Params[i], other[i])
			}
		}
	}
	c.Transport, c.Seed = "inproc", 2
	if d := runSim(t, c); d.Params[0] == a.Params[0] {
		t.Fatal("a different seed gave the same first parameter")
	}
}

// TestUtilityCloseToCentralised checks the utility target: FedAvg
// logistic regression under Dirichlet(0.5) label skew is within 1.0 accuracy
// point of the centralised baseline on the same test set. On german_credit
// and hmda one test row moves accuracy by 0.5 and 0.2 points, so single seeds
// are noisy; the target is checked on the mean over five seeds. fertility's
// test set has 50,931 rows and is checked on one seed.
func TestUtilityCloseToCentralised(t *testing.T) {
	cases := []struct {
		dataset string
		clients int
		seeds   []uint64
		short   bool
	}{
		{"hmda", 5, []uint64{1, 2, 3, 4, 5}, true},
		{"german_credit", 5, []uint64{1, 2, 3, 4, 5}, true},
		{"fertility", 100, []uint64{1}, false},
	}
	for _, tc := range cases {
		if testing.Short() && !tc.short {
			continue
		}
		var gap float64
		for _, seed := range tc.seeds {
			c := DefaultConfig()
			c.Dataset, c.Clients, c.Seed = tc.dataset, tc.clients, seed
			r := runSim(t, c)
			t.Logf("%s seed %d: federated %.4f, centralised %.4f", tc.dataset, seed, r.Federated.Accuracy, r.Centralized.Accuracy)
			gap += (r.Federated.Accuracy - r.Centralized.Accuracy) / float64(len(tc.seeds))
		}
		if gap < -0.010 {
			t.Errorf("%s: federated accuracy is %.2f points below centralised on average, want within 1.0", tc.dataset, -100*gap)
		}
	}
}

// TestSecureMatchesPlaintext: a run with threshold HE produces the model the
// plaintext run produces. The CKKS decryption error is about 1e-11 on sums of
// order 1e3 (docs/secure-aggregation.md), far below the 1e-6 relative
// tolerance the issue sets; accuracy must agree to 3 decimals.
func TestSecureMatchesPlaintext(t *testing.T) {
	c := DefaultConfig() // hmda, 5 sites
	plain := runSim(t, c)
	c.Secure = "he"
	he := runSim(t, c)
	for i := range plain.Params {
		p, h := plain.Params[i], he.Params[i]
		if d := math.Abs(p - h); d > 1e-6*math.Max(math.Abs(p), 1e-3) {
			t.Fatalf("param %d: plaintext %v, HE %v (relative difference %g > 1e-6)", i, p, h, d/math.Abs(p))
		}
	}
	if math.Round(plain.Federated.Accuracy*1000) != math.Round(he.Federated.Accuracy*1000) {
		t.Fatalf("accuracy differs at 3 decimals: plaintext %.4f, HE %.4f", plain.Federated.Accuracy, he.Federated.Accuracy)
	}
	// The HE run really decrypted something other than the plaintext path:
	// parameters differ in their last bits because CKKS adds noise.
	same := true
	for i := range plain.Params {
		same = same && plain.Params[i] == he.Params[i]
	}
	if same {
		t.Fatal("HE parameters are bit-identical to plaintext: was the secure path used?")
	}
}
