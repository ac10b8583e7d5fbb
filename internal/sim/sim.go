package sim

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/dataset"
	"github.com/cohortfl/cohort/model"
	"github.com/cohortfl/cohort/privacy"
	"github.com/cohortfl/cohort/registry"
)

// Scores are test-set metrics.
type Scores struct {
	Accuracy float64 `json:"accuracy"`
	AUC      float64 `json:"auc"`
	Loss     float64 `json:"loss"`
	// DisparateImpact is min/max over the two largest groups of the first
	// protected attribute of the rate at which the model predicts the positive
	// class on the test set (1 = parity; the four-fifths rule asks ≥ 0.8).
	// Omitted when the dataset has no protected attribute.
	DisparateImpact *float64 `json:"disparate_impact,omitempty"`
	// Fairness is the audit of every protected-attribute family on the
	// test set (with --fairness audit or reweigh).
	Fairness []coordinator.FamilyReport `json:"fairness,omitempty"`
}

// Result is the outcome of a simulation. Its JSON form is the stable contract
// of `cohort simulate --output json`.
type Result struct {
	Settings    Config                    `json:"settings"`
	RunID       string                    `json:"run_id"`
	Sites       int                       `json:"sites"`
	TrainRows   int                       `json:"train_rows"`
	TestRows    int                       `json:"test_rows"`
	Features    int                       `json:"features"`
	Epsilon     map[string]float64        `json:"epsilon,omitempty"`             // ε spent at the end: "client", "record_max"
	Protected   string                    `json:"protected_attribute,omitempty"` // the attribute disparate impact is measured on
	Rounds      []coordinator.RoundReport `json:"-"`
	RoundsRun   int                       `json:"rounds_completed"`
	Federated   Scores                    `json:"federated"`
	Centralized Scores                    `json:"centralized"`
	Seconds     float64                   `json:"seconds"`
	Database    string                    `json:"database"`
	Params      []float64                 `json:"-"`
	// Publication is the gate's decision on the federated model, with its
	// audit, global importance and proxy check.
	Publication *coordinator.Publication `json:"publication,omitempty"`
	// CAPEM is the simulation's consortium CA and Artifact the signed model
	// file (model.cohort.json), when one was sealed.
	CAPEM    []byte `json:"-"`
	Artifact []byte `json:"-"`
	// Unmitigated is the same federation without reweighing (--fairness
	// reweigh only), scored on the same test set, and its gate decision.
	Unmitigated            *Scores                  `json:"unmitigated,omitempty"`
	UnmitigatedPublication *coordinator.Publication `json:"unmitigated_publication,omitempty"`
}

// Options are the non-reproducibility-relevant knobs of Run.
type Options struct {
	// DBPath is the SQLite file for coordinator state; "" uses a temporary file.
	DBPath string
	Logger *slog.Logger
	// OnRound is called after every committed round.
	OnRound func(coordinator.RoundReport)
	// RoundTimeout bounds each round (default 5 minutes).
	RoundTimeout time.Duration
	// Signer signs the published model (registry); nil publishes the
	// decision without a signed artifact.
	Signer *registry.Signer
}

// Run executes the simulation described by c.
func Run(ctx context.Context, c Config, o Options) (Result, error) {
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RoundTimeout <= 0 {
		o.RoundTimeout = 5 * time.Minute
	}
	began := time.Now()
	p, err := prepare(c)
	if err != nil {
		return Result{}, err
	}
	fed, err := federate(ctx, c, p, o, o.DBPath)
	if err != nil {
		return Result{}, err
	}
	fedScores, err := score(fed.rc, fed.params, p)
	if err != nil {
		return Result{}, err
	}
	base, err := centralized(c, fed.rc, p)
	if err != nil {
		return Result{}, err
	}
	res := Result{Settings: c, RunID: fed.rc.RunID, Epsilon: map[string]float64{}, Protected: p.protectedName, Sites: len(p.sites),
		TrainRows: p.pooled.N, TestRows: p.test.N, Features: p.pooled.D, RoundsRun: fed.rounds, Federated: fedScores,
		Centralized: base, Database: o.DBPath, Params: fed.params, Publication: fed.pub, CAPEM: fed.caPEM, Artifact: fed.art}
	for _, k := range []string{"epsilon_client", "epsilon_record_max"} {
		if v, ok := fed.last.Metrics[k]; ok {
			res.Epsilon[strings.TrimPrefix(k, "epsilon_")] = v
		}
	}
	if c.Fairness == "reweigh" {
		// The same federation without mitigation, for the before/after figures.
		c0 := c
		c0.Fairness, c0.CountNoise = "audit", 0
		o0 := o
		o0.DBPath, o0.OnRound, o0.Signer = "", nil, nil
		before, err := federate(ctx, c0, p, o0, "")
		if err != nil {
			return Result{}, fmt.Errorf("simulate: unmitigated run for comparison: %w", err)
		}
		sc, err := score(before.rc, before.params, p)
		if err != nil {
			return Result{}, err
		}
		res.Unmitigated = &sc
		res.UnmitigatedPublication = before.pub
	}
	res.Seconds = time.Since(began).Seconds()
	return res, nil
}

// federation is the outcome of one federated run.
type federation struct {
	rc     coordinator.RunConfig
	params []float64
	pub    *coordinator.Publication
	last   coordinator.RoundReport
	rounds int
	caPEM  []byte // the consortium CA the sites' certificates chain to
	art    []byte // the signed model artifact, if one was sealed
}

// federate runs the federated part of a simulation on a fresh store at
// dbPath ("" for a temporary file).
func federate(ctx context.Context, c Config, p *prepared, o Options, dbPath string) (federation, error) {
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "cohort-sim-*")
		if err != nil {
			return federation{}, err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "cohort.db")
	}
	db, err := store.Open(dbPath)
	if err != nil {
		return federation{}, err
	}
	defer db.Close()

	f := federation{rc: runConfig(c, p, o.RoundTimeout)}
	user := o.OnRound
	o.OnRound = func(r coordinator.RoundReport) {
		f.last = r
		if user != nil {
			user(r)
		}
	}
	switch c.Transport {
	case "inproc":
		d, err := newInproc(ctx, p.sites, c.Seed)
		if err != nil {
			return f, err
		}
		eng, err := coordinator.NewEngine(coordinator.Options{Store: db, Dispatcher: d, Logger: o.Logger, OnRound: o.OnRound,
			Noise: privacy.SeededNormal(c.Seed), ReproducibleSampling: true, Signer: o.Signer, Roots: d.roots})
		if err != nil {
			return f, err
		}
		d.engine = eng
		res, err := eng.Run(ctx, f.rc)
		if err != nil {
			return f, err
		}
		f.params, f.pub, f.caPEM = res.Params, res.Publication, d.caPEM
	case "grpc":
		if f.params, f.caPEM, err = runGRPC(ctx, p, f.rc, db, o); err != nil {
			return f, err
		}
		pub, err := coordinator.LoadPublication(ctx, db, f.rc.RunID)
		if err != nil {
			return f, err
		}
		f.pub = &pub
	}
	if f.rounds, err = db.LastCommittedRound(ctx, f.rc.RunID); err != nil {
		return f, err
	}
	arts, err := coordinator.LoadArtifacts(ctx, db, f.rc.RunID)
	if err != nil {
		return f, err
	}
	if len(arts) > 0 {
		f.art = arts[len(arts)-1].Artifact
	}
	return f, nil
}

func runConfig(c Config, p *prepared, timeout time.Duration) coordinator.RunConfig {
	sites := len(p.sites)
	rc := coordinator.DefaultRunConfig()
	rc.RunID = fmt.Sprintf("sim-%s-%d", time.Now().UTC().Format("20060102T150405.000"), c.Seed)
	rc.Model, rc.Hidden, rc.Strategy = c.Model, c.Hidden, c.Strategy
	rc.StrategyOptions = aggregation.DefaultOptions()
	if c.ProximalMu > 0 {
		rc.StrategyOptions.ProximalMu = c.ProximalMu
	}
	rc.Rounds, rc.FractionFit, rc.Seed = c.Rounds, c.FractionFit, c.Seed
	rc.MinClients = min(c.MinClients, sites)
	rc.StartSites = sites // every simulated site takes part in the statistics phase (and key ceremony)
	rc.LocalEpochs, rc.BatchSize, rc.LearningRate, rc.Optimizer, rc.L2 = c.LocalEpochs, c.BatchSize, c.LearningRate, c.Optimizer, c.L2
	rc.RoundTimeout = coordinator.Duration(timeout)
	rc.WaitForClients = coordinator.Duration(30 * time.Second)
	rc.Standardize = true
	rc.Secure = c.Secure
	rc.DP = c.DP
	if p.spec != nil {
		rc.Fairness = &coordinator.FairnessConfig{Mode: c.Fairness, Spec: *p.spec, CountNoiseStd: c.CountNoise}
	}
	rc.ExplainRows = c.ExplainRows
	rc.FeatureNames = p.features
	rc.Policy = c.Policy
	if c.Secure == coordinator.SecureHE {
		rc.Threshold = c.Threshold
		if rc.Threshold == 0 {
			rc.Threshold = max(2, (sites+1)/2) // a majority of sites must cooperate to decrypt
		}
	}
	return rc
}

// standardizer returns the standardiser every site used: the one built from
// the pooled moments (which equal the federated sum of the sites' moments).
func standardizer(rc coordinator.RunConfig, p *prepared) (*dataset.Standardizer, error) {
	return dataset.NewStandardizer(dataset.LocalMoments(p.pooled), p.pooled.D)
}

func score(rc coordinator.RunConfig, params []float64, p *prepared) (Scores, error) {
	st, err := standardizer(rc, p)
	if err != nil {
		return Scores{}, err
	}
	test := p.test.Subset(seq(p.test.N))
	if err := st.Apply(&test); err != nil {
		return Scores{}, err
	}
	m, err := model.New(model.Spec{Name: rc.Model, Features: p.pooled.D, Classes: rc.Classes, Hidden: rc.Hidden})
	if err != nil {
		return Scores{}, err
	}
	met, err := model.Evaluate(m, params, test)
	if err != nil {
		return Scores{}, err
	}
	sc := Scores{Accuracy: met.Accuracy, AUC: met.AUC, Loss: met.Loss}
	if p.spec != nil {
		if sc.Fairness, err = testAudit(*p.spec, m, params, test, p.testKeys); err != nil {
			return Scores{}, err
		}
	}
	if p.testGroup != nil && p.spec == nil {
		di := disparateImpact(m, params, test, p.testGroup)
		if !math.IsNaN(di) {
			sc.DisparateImpact = &di
		}
	}
	return sc, nil
}

// centralized trains the same model on the pooled training rows for rounds ×
// local epochs epochs, with the same optimiser settings, and scores it.
func centralized(c Config, rc coordinator.RunConfig, p *prepared) (Scores, error) {
	st, err := standardizer(rc, p)
	if err != nil {
		return Scores{}, err
	}
	train := p.pooled.Subset(seq(p.pooled.N))
	if err := st.Apply(&train); err != nil {
		return Scores{}, err
	}
	m, err := model.New(model.Spec{Name: rc.Model, Features: train.D, Classes: rc.Classes, Hidden: rc.Hidden})
	if err != nil {
		return Scores{}, err
	}
	params := m.Init(rand.New(rand.NewPCG(rc.Seed, 0)))
	cfg := model.TrainConfig{Epochs: c.Rounds * c.LocalEpochs, BatchSize: c.BatchSize, LearningRate: c.LearningRate,
		Optimizer: c.Optimizer, L2: c.L2}
	if _, err := model.Train(m, params, train, cfg, rand.New(rand.NewPCG(c.Seed, 0xba5e))); err != nil {
		return Scores{}, fmt.Errorf("simulate: centralised baseline: %w", err)
	}
	return score(rc, params, p)
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// disparateImpact returns min/max of the positive-prediction rates of the two
// largest groups (NaN with fewer than two groups).
func disparateImpact(m model.Model, params []float64, test model.Examples, group []string) float64 {
	n, pos := map[string]float64{}, map[string]float64{}
	out := make([]float64, m.NumClasses())
	for i := 0; i < test.N; i++ {
		m.PredictProba(params, test.Row(i), out)
		n[group[i]]++
		if out[len(out)-1] >= 0.5 {
			pos[group[i]]++
		}
	}
	var a, b string
	for g := range n {
		switch {
		case a == "" || n[g] > n[a] || (n[g] == n[a] && g < a):
			a, b = g, a
		case b == "" || n[g] > n[b] || (n[g] == n[b] && g < b):
			b = g
		}
	}
	if b == "" {
		return math.NaN()
	}
	ra, rb := pos[a]/n[a], pos[b]/n[b]
	if ra == 0 && rb == 0 {
		return 1
	}
	return math.Min(ra, rb) / math.Max(ra, rb)
}
