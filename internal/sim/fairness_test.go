package sim

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/privacy/ledger"

	"github.com/cohortfl/cohort/dataset"
	"github.com/cohortfl/cohort/fairness"
	"github.com/cohortfl/cohort/model"
)

// pooledRates computes per-group selection rate, TPR and FPR of the
// favourable decision directly from the pooled held-out rows of every site,
// without the fairness package's layouts or the secure-sum vectors.
func pooledRates(t *testing.T, p *prepared, params []float64, c Config) map[string][3]float64 {
	t.Helper()
	st, err := dataset.NewStandardizer(dataset.LocalMoments(p.pooled), p.pooled.D)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(model.Spec{Name: c.Model, Features: p.pooled.D, Classes: 2})
	if err != nil {
		t.Fatal(err)
	}
	type cnt struct{ n, sel, pos, tp, neg, fp float64 }
	by := map[string]*cnt{}
	out := make([]float64, 2)
	for _, s := range p.sites {
		ev := s.eval.Subset(seq(s.eval.N))
		if err := st.Apply(&ev); err != nil {
			t.Fatal(err)
		}
		for i := range ev.N {
			g := "afam=" + s.protEval["afam"][i]
			if by[g] == nil {
				by[g] = &cnt{}
			}
			m.PredictProba(params, ev.Row(i), out)
			favDecision := out[1] <= 0.5 // hmda: the favourable outcome is deny = no (class 0)
			favLabel := ev.Y[i] == 0
			k := by[g]
			k.n++
			if favDecision {
				k.sel++
			}
			if favLabel {
				k.pos++
				if favDecision {
					k.tp++
				}
			} else {
				k.neg++
				if favDecision {
					k.fp++
				}
			}
		}
	}
	rates := map[string][3]float64{}
	for g, k := range by {
		rates[g] = [3]float64{k.sel / k.n, k.tp / k.pos, k.fp / k.neg}
	}
	return rates
}

// TestFederatedAuditEqualsPooled: the audit the coordinator computes from
// summed per-site vectors (in the clear and through threshold HE) equals the
// same metrics computed directly on the pooled held-out rows.
func TestFederatedAuditEqualsPooled(t *testing.T) {
	for _, secure := range []string{"none", "he"} {
		c := DefaultConfig()
		c.Protected, c.Fairness, c.Secure, c.Rounds = []string{"afam"}, "audit", secure, 5
		p, err := prepare(c)
		if err != nil {
			t.Fatal(err)
		}
		r := runSim(t, c)
		if r.Publication == nil || len(r.Publication.Fairness) != 1 {
			t.Fatalf("%s: publication audit missing: %+v", secure, r.Publication)
		}
		fam := r.Publication.Fairness[0]
		want := pooledRates(t, p, r.Params, c)
		tol := 1e-12
		if secure == "he" {
			tol = 1e-9 // counts are rounded after decryption, so they are exact; rates to float precision
		}
		var srs []float64
		for _, g := range fam.Groups {
			w, ok := want[g.Key]
			if !ok {
				t.Fatalf("%s: group %q not in the pooled data", secure, g.Key)
			}
			for i, got := range []float64{float64(g.SelectionRate), float64(g.TPR), float64(g.FPR)} {
				if math.Abs(got-w[i]) > tol {
					t.Errorf("%s: group %s rate %d = %v, pooled %v", secure, g.Key, i, got, w[i])
				}
			}
			srs = append(srs, w[0])
		}
		di := math.Min(srs[0], srs[1]) / math.Max(srs[0], srs[1])
		if math.Abs(float64(fam.DisparateImpact)-di) > tol {
			t.Errorf("%s: DI = %v, pooled %v", secure, fam.DisparateImpact, di)
		}
	}
}

// TestReweighingBalancesWeightedLabels: the federated weights make the
// weighted positive rate equal in every group (Kamiran & Calders), checked on
// the pooled training rows the sites hold.
func TestReweighingBalancesWeightedLabels(t *testing.T) {
	c := DefaultConfig()
	c.Protected, c.Fairness, c.Rounds, c.ExplainRows = []string{"afam"}, "reweigh", 1, 0
	p, err := prepare(c)
	if err != nil {
		t.Fatal(err)
	}
	r := runSim(t, c)
	w := r.Publication.ReweighWeights
	if len(w) != 2 {
		t.Fatalf("weights = %v", w)
	}
	var wpos, wall = map[string]float64{}, map[string]float64{}
	var pos, all float64
	for _, s := range p.sites {
		for i, y := range s.train.Y {
			g := fairness.GroupKey([]fairness.Group{{Attr: "afam", Value: s.protTrain["afam"][i]}})
			wall[g] += w[g][y]
			wpos[g] += w[g][y] * float64(y)
			all++
			pos += float64(y)
		}
	}
	for g := range wall {
		if got := wpos[g] / wall[g]; math.Abs(got-pos/all) > 1e-12 {
			t.Errorf("weighted P(y=1 | %s) = %v, want P(y=1) = %v", g, got, pos/all)
		}
	}
}

// TestReweighCountNoiseIsLedgered: noisy reweighing counts leave a released
// ledger row (party records, σ as configured) and the reported ε is the
// Gaussian mechanism's RDP ε(α) = α/(2σ²) converted with Balle et al.
// (2020): min over α of ε(α) + log(1 − 1/α) − (log δ + log α)/(α − 1),
// computed here on a fine grid (the accountant's discrete orders can only
// give a slightly larger value).
func TestReweighCountNoiseIsLedgered(t *testing.T) {
	c := DefaultConfig()
	c.Protected, c.Fairness, c.Rounds, c.ExplainRows, c.CountNoise = []string{"afam"}, "reweigh", 1, 0, 2
	dbPath := filepath.Join(t.TempDir(), "c.db")
	r, err := Run(context.Background(), c, Options{DBPath: dbPath})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := ledger.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := l.Entries(context.Background(), r.RunID, coordinator.RecordsParty)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Purpose != "reweigh_counts" || rows[0].Sigma != 2 || rows[0].Q != 1 || rows[0].Steps != 1 || rows[0].Status != ledger.Released {
		t.Fatalf("ledger rows %+v, want one released reweigh_counts row with σ=2", rows)
	}
	best := math.Inf(1)
	for a := 1.01; a < 200; a += 0.01 {
		best = math.Min(best, a/(2*4)+math.Log(1-1/a)-(math.Log(1e-5)+math.Log(a))/(a-1))
	}
	eps := r.Publication.Epsilon["reweigh_counts"]
	if !(eps >= best-1e-9 && eps <= best*1.05) {
		t.Errorf("ε(reweigh counts) = %v, want within [%v, %v]", eps, best, best*1.05)
	}
}
