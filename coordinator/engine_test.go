package coordinator

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/model"
)

// scripted is a fake Dispatcher for unit tests of the engine: each site
// answers fit tasks with a fixed delta and evaluate tasks with the accuracy
// the script gives for the round. Sites listed in silent never answer the
// given round's fit attempt.
type scripted struct {
	sites  []string
	acc    func(round int) float64
	silent func(site string, round, attempt int) bool

	mu sync.Mutex
	e  *Engine
}

func (s *scripted) Connected() []string { return s.sites }

func (s *scripted) Dispatch(site string, t Task) error {
	if t.Done {
		return nil
	}
	go func() {
		s.mu.Lock()
		e := s.e
		s.mu.Unlock()
		up := Upload{RunID: t.RunID, Round: t.Round, Phase: t.Phase, Nonce: t.Nonce}
		switch t.Phase {
		case PhaseFit:
			if s.silent != nil && s.silent(site, t.Round, 0) {
				return
			}
			if _, err := e.BeginResult(site, up); err != nil {
				return
			}
			d := make([]float64, t.NumParams)
			for i := range d {
				d[i] = 0.1
			}
			_ = e.SubmitFit(site, FitResult{NumExamples: 10, Delta: aggregation.Values(d), Metrics: map[string]float64{"loss": 0.5}})
		case PhaseEvaluate:
			if _, err := e.BeginResult(site, up); err != nil {
				return
			}
			n := int64(100)
			c := model.Counts{N: n, Correct: int64(s.acc(t.Round) * float64(n)), LossSum: 50,
				PosHist: make([]float64, EvalBins), NegHist: make([]float64, EvalBins)}
			c.PosHist[EvalBins-1], c.NegHist[0] = 50, 50
			_ = e.SubmitEvaluation(site, c, nil)
		}
	}()
	return nil
}

func newTestEngine(t *testing.T, d *scripted) (*Engine, *store.DB) {
	t.Helper()
	return newTestEngineWith(t, d, Options{})
}

// newTestEngineWith is newTestEngine with o's other options.
func newTestEngineWith(t *testing.T, d *scripted, o Options) (*Engine, *store.DB) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	o.Store, o.Dispatcher = db, d
	e, err := NewEngine(o)
	if err != nil {
		t.Fatal(err)
	}
	d.e = e
	return e, db
}

func testConfig(id string) RunConfig {
	c := DefaultRunConfig()
	c.RunID, c.Features, c.Standardize, c.Rounds, c.MinClients = id, 3, false, 10, 2
	c.RoundTimeout = Duration(300 * time.Millisecond)
	return c
}

func TestStopCriteria(t *testing.T) {
	accs := []float64{0, 0.50, 0.60, 0.60, 0.61, 0.60, 0.90, 0.95}
	d := &scripted{sites: []string{"a", "b"}, acc: func(r int) float64 { return accs[min(r, len(accs)-1)] }}
	e, _ := newTestEngine(t, d)
	cfg := testConfig("patience")
	cfg.Patience, cfg.MinDelta = 2, 0.02 // 0.61 does not beat 0.60 by 0.02
	res, err := e.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Best 0.60 at round 2; rounds 3 and 4 do not improve by 0.02 → stop after 4.
	if res.RoundsCompleted != 4 || !strings.Contains(res.StoppedEarly, "did not improve") {
		t.Fatalf("stopped after %d rounds (%q), want 4 by patience", res.RoundsCompleted, res.StoppedEarly)
	}

	d2 := &scripted{sites: []string{"a", "b"}, acc: func(r int) float64 { return accs[min(r, len(accs)-1)] }}
	e2, _ := newTestEngine(t, d2)
	cfg = testConfig("target")
	cfg.TargetAccuracy = 0.9
	res, err = e2.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.RoundsCompleted != 6 || !strings.Contains(res.StoppedEarly, "reached target") {
		t.Fatalf("stopped after %d rounds (%q), want 6 by target accuracy", res.RoundsCompleted, res.StoppedEarly)
	}
	// FedAvg with every site sending Δ = 0.1 moves every parameter by 0.1 per round.
	m, err := model.New(model.Spec{Name: cfg.Model, Features: cfg.Features, Classes: cfg.Classes})
	if err != nil {
		t.Fatal(err)
	}
	init := m.Init(seededRand(cfg.Seed, 0))
	for i, p := range res.Params {
		if d := p - (init[i] + 0.6); d > 1e-12 || d < -1e-12 {
			t.Fatalf("param %d = %v, want initial %v + 6×0.1", i, p, init[i])
		}
	}
}

// A round with fewer than min_clients results fails at its deadline and is
// retried; with on_failure=stop the run ends with ErrTooFewClient. It never hangs.
func TestTooFewClientsRetryThenStop(t *testing.T) {
	var mu sync.Mutex
	attempts := map[int]int{}
	d := &scripted{sites: []string{"a", "b"}, acc: func(int) float64 { return 0.5 },
		silent: func(site string, round, _ int) bool {
			mu.Lock()
			defer mu.Unlock()
			if site == "b" && round == 2 {
				attempts[round]++
				return attempts[round] == 1 // silent only in the first attempt of round 2
			}
			return false
		}}
	e, db := newTestEngine(t, d)
	cfg := testConfig("retry")
	cfg.Rounds = 3
	if _, err := e.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	rounds, err := db.Rounds(context.Background(), "retry")
	if err != nil {
		t.Fatal(err)
	}
	var r2 []string
	for _, r := range rounds {
		if r.Round == 2 {
			r2 = append(r2, r.Status)
		}
	}
	if strings.Join(r2, ",") != "failed,committed" {
		t.Fatalf("round 2 attempts = %v, want failed then committed", r2)
	}

	d3 := &scripted{sites: []string{"a", "b"}, acc: func(int) float64 { return 0.5 },
		silent: func(site string, round, _ int) bool { return site == "b" }}
	e3, db3 := newTestEngine(t, d3)
	cfg = testConfig("stop")
	cfg.OnFailure = OnFailureStop
	began := time.Now()
	_, err = e3.Run(context.Background(), cfg)
	if !errors.Is(err, ErrTooFewClient) {
		t.Fatalf("Run = %v, want ErrTooFewClient", err)
	}
	if el := time.Since(began); el > 5*time.Second {
		t.Fatalf("failing round took %v; the deadline is 300ms", el)
	}
	run, _ := db3.GetRun(context.Background(), "stop")
	if run.State != "failed" || !strings.Contains(run.Error, "need 2") {
		t.Fatalf("run state %q error %q, want failed with the reason", run.State, run.Error)
	}
}
