package sim

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/privacy/accountant"
	"github.com/cohortfl/cohort/privacy/ledger"
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

// TestPrivacyBudgetStopsTheRunBeforeTheOffendingRelease gives a noise
// multiplier too small for the budget: the ledger admits exactly the rounds
// that fit (computed here with the accountant directly) and the run stops
// with ErrBudgetExceeded before the next release.
func TestPrivacyBudgetStopsTheRunBeforeTheOffendingRelease(t *testing.T) {
	acc, err := accountant.NewRDP(accountant.DefaultOrders())
	if err != nil {
		t.Fatal(err)
	}
	const sigma, budget = 2.0, 3.0
	fits := 0
	for k := 1; k <= 20; k++ {
		eps, err := acc.Epsilon([]accountant.Event{{Q: 1, Sigma: sigma, Steps: k}}, 1e-5)
		if err != nil {
			t.Fatal(err)
		}
		if eps > budget {
			break
		}
		fits = k
	}
	if fits < 1 || fits >= 10 {
		t.Fatalf("test setup: %d rounds fit the budget; want between 1 and 9", fits)
	}
	c := DefaultConfig()
	c.Rounds = 10
	c.DP = &coordinator.DPConfig{Client: &coordinator.ClientDP{Epsilon: budget, Delta: 1e-5, Clip: 1, Mode: coordinator.DPCentral,
		SampleRate: 1, NoiseMultiplier: sigma}}
	dir := t.TempDir()
	_, err = Run(context.Background(), c, Options{DBPath: filepath.Join(dir, "c.db")})
	if !errors.Is(err, ledger.ErrBudgetExceeded) {
		t.Fatalf("Run = %v, want ErrBudgetExceeded", err)
	}
	db, err := store.Open(filepath.Join(dir, "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runs, _ := db.ListRuns(context.Background())
	if len(runs) != 1 || runs[0].State != "failed" {
		t.Fatalf("runs = %+v, want one failed run", runs)
	}
	last, _ := db.LastCommittedRound(context.Background(), runs[0].ID)
	l, err := ledger.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	es, _ := l.Entries(context.Background(), runs[0].ID, "")
	if last != fits || len(es) != fits {
		t.Fatalf("%d rounds committed and %d ledger rows, want %d of each", last, len(es), fits)
	}
	for _, e := range es {
		if e.Status != ledger.Released {
			t.Fatalf("ledger row %d is %s, want released", e.ID, e.Status)
		}
	}
}
