package coordinator

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/explain"
	"github.com/cohortfl/cohort/fairness"
	"github.com/cohortfl/cohort/gate"
	"github.com/cohortfl/cohort/internal/jsonx"
)

// auditAttempt numbers the publication audit's evaluate phase, apart from
// the per-round evaluations (attempt 0), so its secure sum has its own id.
const auditAttempt = 0x7000

// Publication is the gate's decision on a run's final candidate model, with
// the evidence it was taken on. A published model version carries it.
type Publication struct {
	RunID     string             `json:"run_id"`
	Version   int                `json:"version"`
	Published bool               `json:"published"`
	Decision  gate.Decision      `json:"decision"`
	Metrics   map[string]float64 `json:"metrics"`
	Epsilon   map[string]float64 `json:"epsilon,omitempty"` // "client", "record_max", "reweigh_counts"
	Fairness  []FamilyReport     `json:"fairness,omitempty"`
	// Importance is the federated global explanation (nil without one).
	Importance *Importance `json:"importance,omitempty"`
	// Proxies lists every feature–group correlation of the proxy check
	// (nil when it did not run).
	Proxies []ProxyReport `json:"proxies,omitempty"`
	// ReweighWeights are the weights w(g, y) training used (mode reweigh).
	ReweighWeights map[string][2]float64 `json:"reweigh_weights,omitempty"`
	// AuditSeconds is the wall time of the publication audit phase.
	AuditSeconds float64   `json:"audit_seconds"`
	CreatedAt    time.Time `json:"created_at"`
}

// ProxyReport is one feature's correlation with one protected group.
type ProxyReport struct {
	Feature string      `json:"feature"`
	Group   string      `json:"group"`
	R       jsonx.Float `json:"r"`
	Flagged bool        `json:"flagged"`
}

var publicationMigration = store.Migration{
	Name: "publication decisions",
	SQL: `CREATE TABLE publications (
		run_id     TEXT NOT NULL PRIMARY KEY,
		version    INTEGER NOT NULL,
		published  INTEGER NOT NULL,
		record     TEXT NOT NULL,
		created_at TEXT NOT NULL
	) STRICT`,
}

// publish audits the run's final candidate (fairness, explanations, proxy
// check), evaluates the policy gate and records the decision. A failed audit
// is recorded as a failed decision: a gate never passes for lack of evidence.
func (e *Engine) publish(ctx context.Context, ar *activeRun, res RunResult) (Publication, error) {
	cfg := ar.cfg
	pub := Publication{RunID: cfg.RunID, Version: res.Version, Metrics: map[string]float64{}, CreatedAt: e.o.Now().UTC()}
	maps := func(m map[string]float64) {
		for k, v := range m {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				pub.Metrics[k] = v
			}
		}
	}
	maps(res.Metrics)
	if cfg.reweighs() {
		pub.ReweighWeights = cfg.Fairness.Weights
	}
	ev := gate.Evidence{Metrics: pub.Metrics}
	var auditErr error
	if cfg.fairSpec() != nil || cfg.ExplainRows > 0 {
		began := e.o.Now()
		out, err := e.evaluatePhase(ctx, ar, res.RoundsCompleted, auditAttempt, cfg.ExplainRows)
		pub.AuditSeconds = e.o.Now().Sub(began).Seconds()
		if err != nil {
			if ctx.Err() != nil {
				return pub, err
			}
			auditErr = err
		} else {
			maps(out.metrics)
			pub.Fairness = out.audit
			if cfg.ExplainRows > 0 {
				if pub.Importance, pub.Proxies, err = decodeExplanation(cfg, out.explain); err != nil {
					auditErr = err
				}
			}
		}
	}
	pub.Epsilon = map[string]float64{}
	for k, v := range e.spent(ctx, ar) {
		pub.Epsilon[k[len("epsilon_"):]] = v
	}
	if eps, ok := reweighEpsilon(cfg.Fairness); ok {
		pub.Epsilon["reweigh_counts"] = eps
	}
	ev.Epsilon = trainingEpsilon(pub.Epsilon)
	if spec := cfg.fairSpec(); spec != nil {
		ev.Protected = spec.Names()
		ev.Fairness = map[string]gate.FairnessFamily{}
		for _, f := range pub.Fairness {
			fam := gate.FairnessFamily{DisparateImpact: float64(f.DisparateImpact),
				StatisticalParityDifference: float64(f.StatisticalParityDifference),
				EqualOpportunityDifference:  float64(f.EqualOpportunityDifference),
				EqualizedOddsDifference:     float64(f.EqualizedOddsDifference),
				AverageOddsDifference:       float64(f.AverageOddsDifference),
				CalibrationGap:              float64(f.CalibrationGap)}
			for _, g := range f.Groups {
				fam.Groups = append(fam.Groups, g.Key)
			}
			ev.Fairness[f.Name] = fam
		}
	}
	if pub.Importance != nil {
		for _, f := range pub.Importance.Features {
			ev.TopFeatures = append(ev.TopFeatures, f.Name)
		}
	}
	if pub.Proxies != nil {
		ev.Proxies = []string{}
		for _, p := range pub.Proxies {
			if p.Flagged && !slices.Contains(ev.Proxies, p.Feature) {
				ev.Proxies = append(ev.Proxies, p.Feature)
			}
		}
	}
	policy := gate.Policy{}
	if cfg.Policy != nil {
		policy = *cfg.Policy
	}
	pub.Decision = gate.Evaluate(policy, ev)
	if auditErr != nil {
		pub.Decision.Passed = false
		pub.Decision.Checks = append(pub.Decision.Checks, gate.Check{Name: "publication_audit", Value: math.NaN(),
			Threshold: math.NaN(), Detail: "the candidate could not be audited: " + auditErr.Error()})
	}
	pub.Published = pub.Decision.Passed
	if err := e.recordPublication(context.WithoutCancel(ctx), pub); err != nil {
		return pub, err
	}
	if pub.Published {
		e.log.Info("model published", "run", cfg.RunID, "version", pub.Version, "checks", len(pub.Decision.Checks))
	} else {
		e.log.Warn("model not published: the gate rejected it", "run", cfg.RunID, "version", pub.Version, "decision", pub.Decision.Summary())
	}
	return pub, nil
}

// trainingEpsilon is the privacy spent by the model's training (the largest
// of the client- and record-level ε), nil when training had no DP.
func trainingEpsilon(eps map[string]float64) *float64 {
	var out *float64
	for _, k := range []string{"client", "record_max"} {
		if v, ok := eps[k]; ok && (out == nil || v > *out) {
			out = &v
		}
	}
	return out
}

// decodeExplanation turns the summed explanation vector into global
// importance and the proxy check.
func decodeExplanation(cfg RunConfig, v []float64) (*Importance, []ProxyReport, error) {
	spec := cfg.fairSpec()
	d, names := cfg.Features, cfg.featureNames()
	groups := []string(nil)
	if spec != nil {
		groups = spec.Groups()
	}
	n := explain.AggregateLen(d, len(groups))
	if len(v) < n {
		return nil, nil, fmt.Errorf("coordinator: explanation sums have %d values, want at least %d", len(v), n)
	}
	agg, err := explain.DecodeAggregate(v[:n], d, len(groups))
	if err != nil {
		return nil, nil, err
	}
	g := agg.Global()
	imp := &Importance{Rows: jsonx.Float(g.N), Method: "kernel_shap_proba"}
	if cfg.Model == "logreg" {
		imp.Method = "linear_shap_logit"
	}
	for i, name := range names {
		imp.Features = append(imp.Features, FeatureImportance{Name: name, MeanAbs: jsonx.Float(g.MeanAbs[i]), Mean: jsonx.Float(g.Mean[i])})
	}
	sortImportance(imp.Features)
	if spec == nil {
		return imp, nil, nil
	}
	// Single-attribute groups: row-weighted sums over the partition cells.
	order := make([]int, len(imp.Features))
	for i, f := range imp.Features {
		order[i] = slices.Index(names, f.Name)
	}
	for _, key := range spec.Indicators() {
		want, _ := fairness.ParseGroupKey(key)
		var rows float64
		sums := make([]float64, d)
		for gi, cell := range groups {
			gs, _ := fairness.ParseGroupKey(cell)
			if !slices.Contains(gs, want[0]) || g.GroupN[gi] <= 0 {
				continue
			}
			rows += g.GroupN[gi]
			for i := range sums {
				sums[i] += g.GroupN[gi] * g.GroupMeanAbs[gi][i]
			}
		}
		gi := GroupImportance{Key: key, Rows: jsonx.Float(rows), MeanAbs: make([]jsonx.Float, d)}
		for i, fi := range order {
			gi.MeanAbs[i] = jsonx.Float(math.NaN())
			if rows > 0 {
				gi.MeanAbs[i] = jsonx.Float(sums[fi] / rows)
			}
		}
		imp.Groups = append(imp.Groups, gi)
	}
	ml, err := fairness.NewMomentLayout(names, spec.Indicators())
	if err != nil {
		return nil, nil, err
	}
	if len(v)-n != ml.Dim() {
		return nil, nil, fmt.Errorf("coordinator: proxy moments have %d values, want %d", len(v)-n, ml.Dim())
	}
	mom, err := ml.Decode(v[n:])
	if err != nil {
		return nil, nil, err
	}
	thr := cfg.Fairness.ProxyThreshold
	if thr == 0 {
		thr = fairness.DefaultProxyThreshold
	}
	ps, err := fairness.ProxyCorrelations(mom, thr)
	if err != nil {
		return nil, nil, err
	}
	proxies := make([]ProxyReport, 0, len(ps))
	for _, p := range ps {
		if isColumnOf(p.Feature, spec.Names()) {
			continue // the attribute's own one-hot columns: the gate's forbid_protected covers them
		}
		proxies = append(proxies, ProxyReport{Feature: p.Feature, Group: p.Attr, R: jsonx.Float(p.R), Flagged: p.Flagged})
	}
	return imp, proxies, nil
}

func (e *Engine) recordPublication(ctx context.Context, pub Publication) error {
	b, err := json.Marshal(pub)
	if err != nil {
		return fmt.Errorf("coordinator: encoding the publication decision: %w", err)
	}
	failing := []string{}
	for _, c := range pub.Decision.Failures() {
		failing = append(failing, c.Name)
	}
	e.noteDetail(audit.KindGateDecision, pub.RunID, pub.Version, audit.ActorCoordinator, fmt.Sprintf("model version %d", pub.Version),
		map[string]any{"passed": pub.Decision.Passed, "summary": pub.Decision.Summary(), "failing": failing,
			"record_sha256": hexDigest(sha256.Sum256(b))})
	if pub.Published {
		e.noteDetail(audit.KindModelPublished, pub.RunID, pub.Version, audit.ActorCoordinator, fmt.Sprintf("model version %d", pub.Version),
			map[string]any{"version": pub.Version})
	}
	pending := e.takePending()
	return e.o.Store.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO publications (run_id, version, published, record, created_at) VALUES (?, ?, ?, ?, ?)`,
			pub.RunID, pub.Version, pub.Published, string(b), pub.CreatedAt.Format(time.RFC3339Nano))
		if err != nil {
			return err
		}
		return e.flushAuditTx(ctx, tx, pending)
	})
}

// ErrNoPublication reports a run without a recorded gate decision (still
// running, failed, or from before publication decisions existed).
var ErrNoPublication = errors.New("coordinator: the run has no publication decision")

// LoadPublication reads the recorded decision on a run's candidate.
func LoadPublication(ctx context.Context, db *store.DB, runID string) (Publication, error) {
	if err := db.Migrate(ctx, "coordinator", coordinatorMigrations); err != nil {
		return Publication{}, err
	}
	var rec string
	err := db.SQL().QueryRowContext(ctx, `SELECT record FROM publications WHERE run_id = ?`, runID).Scan(&rec)
	if errors.Is(err, sql.ErrNoRows) {
		return Publication{}, fmt.Errorf("%w %q", ErrNoPublication, runID)
	}
	if err != nil {
		return Publication{}, fmt.Errorf("coordinator: reading the publication of run %q: %w", runID, err)
	}
	var pub Publication
	if err := json.Unmarshal([]byte(rec), &pub); err != nil {
		return Publication{}, fmt.Errorf("coordinator: publication of run %q is unreadable: %w", runID, err)
	}
	return pub, nil
}

// isColumnOf reports whether feature is a protected attribute or one of its
// one-hot columns ("attr=value").
func isColumnOf(feature string, attrs []string) bool {
	for _, a := range attrs {
		if feature == a || strings.HasPrefix(feature, a+"=") {
			return true
		}
	}
	return false
}
