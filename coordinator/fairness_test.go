package coordinator

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/fairness"
	"github.com/cohortfl/cohort/gate"
	"github.com/cohortfl/cohort/model"
)

// auditSites answer evaluate tasks with fixed counts and a fairness audit
// vector; the site named in bad sends the vector bad returns instead, and
// every SubmitEvaluation error is recorded.
type auditSites struct {
	scripted
	good func() []float64
	bad  map[string]func(good []float64) []float64

	emu  sync.Mutex
	errs map[string]error
	wg   sync.WaitGroup // evaluate goroutines
}

func (s *auditSites) Dispatch(site string, t Task) error {
	if t.Done || t.Phase != PhaseEvaluate {
		return s.scripted.Dispatch(site, t)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		up := Upload{RunID: t.RunID, Round: t.Round, Phase: t.Phase, Nonce: t.Nonce}
		if _, err := s.e.BeginResult(site, up); err != nil {
			return
		}
		c := model.Counts{N: 40, Correct: 30, LossSum: 10, PosHist: make([]float64, EvalBins), NegHist: make([]float64, EvalBins)}
		c.PosHist[EvalBins-1], c.NegHist[0] = 20, 20
		v := s.good()
		if f, ok := s.bad[site]; ok {
			v = f(v)
		}
		err := s.e.SubmitEvaluation(site, c, v)
		s.emu.Lock()
		s.errs[site] = err
		s.emu.Unlock()
	}()
	return nil
}

func TestAuditFromSitesAndBadVectors(t *testing.T) {
	spec := fairness.Spec{Attributes: []fairness.Attribute{{Name: "g", Levels: []string{"a", "b"}}}, Favorable: 1}
	layout, err := fairness.NewLayout(spec.Groups(), spec.Bins())
	if err != nil {
		t.Fatal(err)
	}
	good := func() []float64 {
		gs := func(tp, fp, tn, fn float64) fairness.GroupStats {
			return fairness.GroupStats{Counts: fairness.Counts{TP: tp, FP: fp, TN: tn, FN: fn}, Calib: make([]fairness.Bin, spec.Bins())}
		}
		// g=a: SR 10/20; g=b: SR 5/20. DI = 0.25/0.5 = 0.5, SPD 0.25.
		v, err := layout.Encode(map[string]fairness.GroupStats{"g=a": gs(10, 0, 10, 0), "g=b": gs(5, 0, 10, 5)})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	d := &auditSites{scripted: scripted{sites: []string{"s1", "s2", "short", "nan", "negative"}, acc: func(int) float64 { return 0.75 }},
		good: good, errs: map[string]error{}, bad: map[string]func([]float64) []float64{
			"short":    func(v []float64) []float64 { return v[:3] },
			"nan":      func(v []float64) []float64 { v[5] = math.NaN(); return v },
			"negative": func(v []float64) []float64 { v[0] = -1; return v },
		}}
	d.scripted.e, _ = newTestEngine(t, &d.scripted)
	d.e.o.Dispatcher = d
	cfg := testConfig("audit")
	cfg.Rounds = 1
	cfg.Fairness = &FairnessConfig{Mode: FairnessAudit, Spec: spec}
	di := 0.8
	cfg.Policy = &gate.Policy{Fairness: gate.Fairness{MinDisparateImpact: &di}}
	res, err := d.e.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.wg.Wait()
	d.emu.Lock()
	defer d.emu.Unlock()
	for site, want := range map[string]string{"short": "carries 3", "nan": "NaN", "negative": "negative"} {
		if err := d.errs[site]; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("site %s: SubmitEvaluation error %v, want one mentioning %q", site, err, want)
		}
	}
	for _, site := range []string{"s1", "s2"} {
		if err := d.errs[site]; err != nil {
			t.Errorf("good site %s rejected: %v", site, err)
		}
	}
	pub := res.Publication
	if pub == nil || len(pub.Fairness) != 1 {
		t.Fatalf("publication %+v", pub)
	}
	f := pub.Fairness[0]
	// Only the two good sites count: g=a n = 40, g=b n = 40.
	if f.Groups[0].N != 40 || f.Groups[1].N != 40 {
		t.Errorf("group sizes %v, %v; want 40 each (two good sites)", f.Groups[0].N, f.Groups[1].N)
	}
	if math.Abs(float64(f.DisparateImpact)-0.5) > 1e-12 || math.Abs(float64(f.StatisticalParityDifference)-0.25) > 1e-12 {
		t.Errorf("DI %v SPD %v; want 0.5 and 0.25", f.DisparateImpact, f.StatisticalParityDifference)
	}
	if pub.Published || len(pub.Decision.Checks) != 1 || pub.Decision.Checks[0].Value != 0.5 {
		t.Errorf("decision %+v: want a rejection at DI 0.5", pub.Decision)
	}
	// The decision is durable.
	got, err := LoadPublication(context.Background(), d.e.o.Store, "audit")
	if err != nil || got.Published || got.Decision.Checks[0].Value != 0.5 {
		t.Errorf("stored publication %+v, %v", got, err)
	}
}

func TestFairnessConfigValidation(t *testing.T) {
	spec := fairness.Spec{Attributes: []fairness.Attribute{{Name: "g", Levels: []string{"a", "b"}}}}
	for name, c := range map[string]FairnessConfig{
		"mode":          {Mode: "fix", Spec: spec},
		"spec":          {Mode: FairnessAudit},
		"noise audit":   {Mode: FairnessAudit, Spec: spec, CountNoiseStd: 1},
		"noise neg":     {Mode: FairnessReweigh, Spec: spec, CountNoiseStd: -1},
		"proxy":         {Mode: FairnessAudit, Spec: spec, ProxyThreshold: 2},
		"record dp mix": {Mode: FairnessReweigh, Spec: spec},
	} {
		cfg := testConfig("v")
		cfg.Fairness = &c
		if name == "record dp mix" {
			cfg.DP = &DPConfig{Record: &RecordDP{Epsilon: 1, Delta: 1e-5, Clip: 1}}
		}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "fairness") {
			t.Errorf("%s: Validate() = %v, want a fairness error", name, err)
		}
	}
}

// TestAuditEventsNeverFailACommit: details too large for the audit log
// (a long site-supplied reason, a huge cohort) are truncated or summarised
// when noted, so the events stay valid.
func TestAuditEventsNeverFailACommit(t *testing.T) {
	d := &scripted{sites: []string{"a"}, acc: func(int) float64 { return 0.5 }}
	e, _ := newTestEngine(t, d)
	sites := make([]string, 5000)
	for i := range sites {
		sites[i] = fmt.Sprintf("site-with-a-long-name-%05d", i)
	}
	e.noteDetail(audit.KindRoundStarted, "r", 1, audit.ActorCoordinator, "r", map[string]any{"selected": sites})
	e.noteDetail(audit.KindUpdateRejected, "r", 1, "a", "a", map[string]any{"reason": strings.Repeat("é", 20000)})
	for _, ev := range e.takePending() {
		if err := ev.Validate(); err != nil {
			t.Errorf("%s: %v", ev.Kind, err)
		}
		if len(ev.Detail) > maxDetailBytes {
			t.Errorf("%s: detail of %d bytes", ev.Kind, len(ev.Detail))
		}
	}
	if got := truncate("ééé", 3); got != "é…" {
		t.Errorf("truncate on a rune boundary = %q", got)
	}
}
