package reportdata

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/gate"
	"github.com/cohortfl/cohort/internal/sim"
	"github.com/cohortfl/cohort/privacy/accountant"
	"github.com/cohortfl/cohort/privacy/ledger"
	"github.com/cohortfl/cohort/report"
)

// sameFloat reports whether a and b are equal, NaN equal to NaN.
func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// simulate runs hmda with 5 sites for 3 rounds with client-level DP at a
// fixed σ, a fairness audit of afam and a disparate-impact policy, and
// returns the open store and the run ID.
func simulate(t *testing.T, sigma, delta float64) (*store.DB, string) {
	t.Helper()
	c := sim.DefaultConfig()
	c.Rounds = 3
	c.Protected, c.Fairness = []string{"afam"}, "audit"
	c.DP = &coordinator.DPConfig{Client: &coordinator.ClientDP{Epsilon: 50, Delta: delta, Clip: 1,
		Mode: coordinator.DPCentral, SampleRate: 1, NoiseMultiplier: sigma}}
	minDI := 0.8
	c.Policy = &gate.Policy{Fairness: gate.Fairness{MinDisparateImpact: &minDI}}
	path := filepath.Join(t.TempDir(), "cohort.db")
	res, err := sim.Run(context.Background(), c, sim.Options{DBPath: path})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, res.RunID
}

// TestBuildFromSimulation checks every section Build fills against the
// store it read, and ε against the accountant run directly.
func TestBuildFromSimulation(t *testing.T) {
	const sigma, delta = 1.1, 1e-5
	ctx := context.Background()
	db, run := simulate(t, sigma, delta)
	d, err := Build(ctx, db, run)
	if err != nil {
		t.Fatal(err)
	}

	// Summary.
	if s := d.Summary; s.RunID != run || s.State != "completed" || s.RoundsTotal != 3 || s.DPMode != "central" ||
		s.Model != "logreg" || s.Strategy != "fedavg" || s.SecureAggregation.Mode != report.SecAggNone {
		t.Errorf("summary = %+v", s)
	}

	// Rounds: every stored attempt, metrics as stored.
	recs, err := db.Rounds(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	last, err := db.LastCommittedRound(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if last != 3 || d.Summary.RoundsCompleted != last {
		t.Errorf("rounds completed: report %d, store %d; want 3", d.Summary.RoundsCompleted, last)
	}
	if len(d.Rounds) != len(recs) {
		t.Fatalf("%d rounds in the report, %d attempts in the store", len(d.Rounds), len(recs))
	}
	committed := 0
	for i, rec := range recs {
		r := d.Rounds[i]
		if r.Round != rec.Round || r.Attempt != rec.Attempt || r.Status != rec.Status {
			t.Errorf("round %d: report %d/%d %s, store %d/%d %s", i, r.Round, r.Attempt, r.Status, rec.Round, rec.Attempt, rec.Status)
		}
		if rec.Status != store.RoundCommitted {
			continue
		}
		committed++
		want, ok := rec.Metrics["eval_accuracy"]
		if !ok || !(want > 0.5) {
			t.Fatalf("round %d: stored eval_accuracy %v (present %v); the simulation did not evaluate", rec.Round, want, ok)
		}
		if got := float64(r.Metrics[report.MetricEvalAccuracy]); got != want {
			t.Errorf("round %d: eval_accuracy %v, stored %v", rec.Round, got, want)
		}
		if r.Accepted != 5 || r.Selected != 5 {
			t.Errorf("round %d: accepted/selected %d/%d, want 5/5 (sample rate 1)", rec.Round, r.Accepted, r.Selected)
		}
		if _, ok := r.Metrics["fair.afam.disparate_impact"]; ok {
			t.Errorf("round %d: fairness metric left in the rounds table", rec.Round)
		}
	}
	if committed != last {
		t.Errorf("%d committed attempts in the store, last committed round %d", committed, last)
	}

	// Participation: 5 sites, each in all 3 rounds, with the training rows
	// the simulation gave each (the count a site announces on connecting).
	if len(d.Participation) != 5 {
		t.Errorf("participation: %d sites, want 5", len(d.Participation))
	}
	sets, err := sim.SiteTrainingSets(sim.DefaultConfig()) // same split as simulate's config
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range d.Participation {
		if want := int64(sets[i].N); s.Rounds != 3 || s.Examples != want {
			t.Errorf("site %s: %d rounds, %d examples; want 3 and %d", s.Name, s.Rounds, s.Examples, want)
		}
	}

	// Fairness: one audit of afam per committed round, DI as stored.
	if d.Fairness == nil {
		t.Fatal("fairness section missing")
	}
	var audits int
	for _, fr := range d.Fairness.Rounds {
		if fr.Family != "afam" {
			t.Errorf("fairness round %d: family %q, want afam", fr.Round, fr.Family)
			continue
		}
		audits++
		var stored float64 = math.NaN()
		for _, rec := range recs {
			if rec.Round == fr.Round && rec.Status == store.RoundCommitted {
				if v, ok := rec.Metrics["fair.afam.disparate_impact"]; ok {
					stored = v
				}
			}
		}
		if math.IsNaN(stored) || !sameFloat(float64(fr.DisparateImpact), stored) {
			t.Errorf("round %d: DI %v, stored fair.afam.disparate_impact %v", fr.Round, fr.DisparateImpact, stored)
		}
	}
	if audits != last {
		t.Errorf("%d fairness audits of afam, want one per committed round (%d)", audits, last)
	}
	if th := d.Fairness.Thresholds; len(th) != 1 || th[0] != (report.Threshold{Metric: "disparate_impact", Op: ">=", Value: 0.8}) {
		t.Errorf("thresholds = %+v, want DI >= 0.8", th)
	}

	// Gate and per-group rates: as in the publication.
	pub, err := coordinator.LoadPublication(ctx, db, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Gate) != 1 {
		t.Fatalf("%d gate decisions, want 1", len(d.Gate))
	}
	g := d.Gate[0]
	if g.Passed != pub.Decision.Passed || len(g.Checks) != len(pub.Decision.Checks) || len(g.Checks) == 0 {
		t.Fatalf("gate: passed %v with %d checks; publication: passed %v with %d checks",
			g.Passed, len(g.Checks), pub.Decision.Passed, len(pub.Decision.Checks))
	}
	for i, c := range pub.Decision.Checks {
		got := g.Checks[i]
		if got.Name != c.Name || !sameFloat(float64(got.Value), c.Value) || got.Op != c.Op ||
			!sameFloat(float64(got.Threshold), c.Threshold) || got.Passed != c.Passed || got.Detail != c.Detail {
			t.Errorf("check %d: report %+v, publication %+v", i, got, c)
		}
	}
	var groups int
	for _, f := range pub.Fairness {
		groups += len(f.Groups)
	}
	if groups < 2 || len(d.Fairness.Groups) != groups {
		t.Errorf("per-group metrics: %d in the report, %d in the publication (want >= 2)", len(d.Fairness.Groups), groups)
	}

	// Explanations: the publication's global importance.
	if pub.Importance == nil || d.Explanations == nil || len(d.Explanations.Global) != len(pub.Importance.Features) {
		t.Fatalf("explanations: report %+v, publication %+v", d.Explanations, pub.Importance)
	}
	for i, f := range pub.Importance.Features {
		if got := d.Explanations.Global[i]; got.Feature != f.Name || !sameFloat(float64(got.MeanAbsSHAP), float64(f.MeanAbs)) {
			t.Errorf("feature %d: report %+v, publication %s %v", i, got, f.Name, f.MeanAbs)
		}
	}

	// Privacy: every ledger row; ε from the RDP accountant directly. With
	// q = 1 and no failed attempt, the k-th release composes k identical
	// Gaussian mechanisms, and ε after round r is ε after r releases.
	l, err := ledger.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := l.Entries(ctx, run, "")
	if err != nil {
		t.Fatal(err)
	}
	p := d.Privacy
	if p == nil || len(p.Ledger) != len(entries) || len(entries) != 3 {
		t.Fatalf("privacy ledger: report %+v, store %d entries, want 3", p, len(entries))
	}
	if p.Accountant != "rdp" || p.Delta != delta || p.EpsilonBudget != 50 {
		t.Errorf("privacy: accountant %q, δ %v, budget %v", p.Accountant, p.Delta, p.EpsilonBudget)
	}
	acc, err := accountant.NewRDP(accountant.DefaultOrders())
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= 3; k++ {
		want, err := acc.Epsilon([]accountant.Event{{Q: 1, Sigma: sigma, Steps: k}}, delta)
		if err != nil {
			t.Fatal(err)
		}
		e := p.Ledger[k-1]
		if e.Party != ledger.ClientParty || e.Round != k || e.Status != ledger.Released || float64(e.Sigma) != sigma {
			t.Errorf("ledger row %d = %+v", k, e)
		}
		if got := float64(e.EpsilonAfter); math.Abs(got-want) > 1e-9*want {
			t.Errorf("ε after ledger row %d = %v, want %v", k, got, want)
		}
		if len(p.Epsilon) != 3 || p.Epsilon[k-1].Round != k || math.Abs(float64(p.Epsilon[k-1].Value)-want) > 1e-9*want {
			t.Errorf("ε after round %d: %+v, want %v", k, p.Epsilon, want)
		}
		if got := float64(d.Rounds[k-1].Metrics[report.MetricEpsilon]); math.Abs(got-want) > 1e-9*want {
			t.Errorf("round %d epsilon metric %v, want %v", k, got, want)
		}
	}

	// Verification: the audit chain, intact.
	if c := d.Verification.Checks; len(c) != 1 || c[0].Name != "audit chain" || !c[0].OK {
		t.Fatalf("verification = %+v, want one passing audit chain check", c)
	}
	if d.Verification.Verdict() != report.VerdictVerified {
		t.Errorf("verdict %q", d.Verification.Verdict())
	}

	// Every format renders.
	for _, f := range report.Formats {
		var b strings.Builder
		if err := report.Render(&b, d, f); err != nil {
			t.Errorf("render %s: %v", f, err)
		}
	}

	// Tamper with one audit entry the way someone with write access would:
	// lift the append-only guard, edit, put the guard back.
	for _, stmt := range []string{
		`DROP TRIGGER audit_log_no_update`,
		`DROP TRIGGER audit_log_no_delete`,
		`UPDATE audit_log SET actor = 'mallory' WHERE seq = 2`,
		`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`,
		`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`,
	} {
		if _, err := db.SQL().ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	d, err = Build(ctx, db, run)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Verification.Checks
	if len(c) != 1 || c[0].OK || !strings.Contains(c[0].Detail, "seq 2") || !strings.Contains(c[0].Detail, audit.ProblemEdited) {
		t.Fatalf("after editing entry 2: verification = %+v, want a failed audit chain check naming seq 2", c)
	}
	if d.Verification.Verdict() != report.VerdictFailed {
		t.Errorf("verdict after tampering %q, want %q", d.Verification.Verdict(), report.VerdictFailed)
	}
}

// TestBuildMinimalRun: a run with one committed round and no DP, fairness,
// explanations or publication has those sections nil or empty, and an
// unknown run ID names the runs the file holds.
func TestBuildMinimalRun(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := `{"run_id":"r1","model":"mlp","hidden":[16,8],"strategy":"fedprox","strategy_options":{"proximal_mu":0.1},"secure":"he","threshold":2}`
	if err := db.CreateRun(ctx, store.Run{ID: "r1", ConfigJSON: cfg, RoundsTotal: 2}, store.ModelVersion{Params: []float64{0, 0}}); err != nil {
		t.Fatal(err)
	}
	rec := store.RoundRecord{RunID: "r1", Round: 1, Participants: []store.Participant{
		{Client: "b", Status: store.ParticipantAccepted, NumExamples: 40},
		{Client: "a", Status: store.ParticipantLate}},
		Metrics: map[string]float64{"eval_accuracy": 0.75, "eval_auc": math.NaN(), "fair.x.y.disparate_impact": 0.9}}
	if err := db.CommitRound(ctx, rec, store.ModelVersion{Version: 1, Round: 1, Params: []float64{1, 2}}); err != nil {
		t.Fatal(err)
	}
	d, err := Build(ctx, db, "r1")
	if err != nil {
		t.Fatal(err)
	}
	s := d.Summary
	if s.Model != "mlp(16,8)" || s.Strategy != "fedprox(mu=0.1)" || s.DPMode != "none" || s.RoundsCompleted != 1 ||
		s.SecureAggregation != (report.SecureAggregation{Mode: report.SecAggHE, Threshold: 2}) {
		t.Errorf("summary = %+v", s)
	}
	if d.Privacy != nil || d.Fairness != nil || d.Explanations != nil || d.Gate != nil || d.Lineage != nil {
		t.Errorf("sections of features the run did not use: privacy %v, fairness %v, explanations %v, gate %v, lineage %v",
			d.Privacy, d.Fairness, d.Explanations, d.Gate, d.Lineage)
	}
	if len(d.Rounds) != 1 || d.Rounds[0].Accepted != 1 || d.Rounds[0].Selected != 2 ||
		!math.IsNaN(float64(d.Rounds[0].Metrics["eval_auc"])) || len(d.Rounds[0].Metrics) != 2 {
		t.Errorf("rounds = %+v", d.Rounds)
	}
	want := []report.Site{{Name: "a"}, {Name: "b", Rounds: 1, Examples: 40}}
	if len(d.Participation) != 2 || d.Participation[0] != want[0] || d.Participation[1] != want[1] {
		t.Errorf("participation = %+v, want %+v", d.Participation, want)
	}
	if c := d.Verification.Checks; len(c) != 1 || !c[0].OK {
		t.Errorf("verification of an empty audit log = %+v, want OK", c)
	}

	_, err = Build(ctx, db, "r2")
	var nf *RunNotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "known runs: r1") {
		t.Fatalf("Build of an unknown run = %v, want a RunNotFoundError listing r1", err)
	}
}

func TestParseFairnessMetric(t *testing.T) {
	for _, tc := range []struct {
		in, family, metric string
		ok                 bool
	}{
		{"fair.sex.disparate_impact", "sex", "disparate_impact", true},
		{"fair.age&sex.equalized_odds_difference", "age&sex", "equalized_odds_difference", true},
		{"fair.x.y.calibration_gap", "x.y", "calibration_gap", true},
		{"fair.disparate_impact", "", "", false},
		{"fair.sex.accuracy_difference", "", "", false},
		{"eval_accuracy", "", "", false},
	} {
		fam, m, ok := parseFairnessMetric(tc.in)
		if fam != tc.family || m != tc.metric || ok != tc.ok {
			t.Errorf("parseFairnessMetric(%q) = %q, %q, %v; want %q, %q, %v", tc.in, fam, m, ok, tc.family, tc.metric, tc.ok)
		}
	}
}

func TestGroupLabel(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"age=%3C%3D30", "age=<=30"},
		{"afam=yes", "afam=yes"},
		{"race=B&sex=F", "race=B & sex=F"},
		{"a%26b=x%3Dy", "a&b=x=y"},
		{"not a key", "not a key"},
	} {
		if got := groupLabel(tc.key); got != tc.want {
			t.Errorf("groupLabel(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}
