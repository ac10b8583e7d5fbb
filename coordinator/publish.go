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
	"github.com/cohortfl/cohort/registry"
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
	// Artifact describes the signed model artifact (nil when the model was
	// not published or the coordinator has no signing key).
	Artifact *ArtifactInfo `json:"artifact,omitempty"`
	// AuditSeconds is the wall time of the publication audit phase.
	AuditSeconds float64   `json:"audit_seconds"`
	CreatedAt    time.Time `json:"created_at"`
}

// ArtifactInfo identifies a signed model version in the registry.
type ArtifactInfo struct {
	Name        string `json:"name"`
	Version     string `json:"version"` // semantic version
	VersionHash string `json:"version_hash"`
	Suite       string `json:"suite"` // ed25519 or ed25519+ml-dsa-65
	Sites       int    `json:"cosigned_by"`
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
	keepFinite := func(m map[string]float64) {
		for k, v := range m {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				pub.Metrics[k] = v
			}
		}
	}
	keepFinite(res.Metrics)
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
			keepFinite(out.metrics)
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
	// The gate's explanation checks match feature names against the
	// protected attributes: with synthetic names (x0, x1, ...) they cannot,
	// so the ranking is withheld from the gate and those checks fail as not
	// measured rather than pass vacuously.
	if pub.Importance != nil && len(cfg.FeatureNames) == cfg.Features {
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
	e.noteGate(pub)
	var art *registry.Artifact
	if pub.Published && e.o.Signer != nil {
		// The decision is in the log before the card records the log's head.
		if err := e.flushAudit(ctx); err != nil {
			return pub, err
		}
		a, err := e.sign(ctx, ar, res, &pub)
		switch {
		case err != nil && ctx.Err() != nil:
			return pub, err
		case err != nil:
			pub.Published, pub.Decision.Passed = false, false
			pub.Decision.Checks = append(pub.Decision.Checks, gate.Check{Name: "registry.sign", Value: math.NaN(),
				Threshold: math.NaN(), Detail: "the model could not be signed and co-signed: " + err.Error()})
			e.noteGate(pub)
		default:
			art = a
			vh := a.VersionHash()
			pub.Artifact = &ArtifactInfo{Name: a.Card().Name, Version: a.Card().Version.String(), VersionHash: hexDigest(vh),
				Suite: a.Suite(), Sites: len(a.CoSignatures())}
		}
	}
	if err := e.recordPublication(context.WithoutCancel(ctx), pub, art); err != nil {
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

// noteGate records a gate decision in the audit log.
func (e *Engine) noteGate(pub Publication) {
	failing := []string{}
	for _, c := range pub.Decision.Failures() {
		failing = append(failing, c.Name)
	}
	e.noteDetail(audit.KindGateDecision, pub.RunID, pub.Version, audit.ActorCoordinator, fmt.Sprintf("model version %d", pub.Version),
		map[string]any{"passed": pub.Decision.Passed, "summary": pub.Decision.Summary(), "failing": failing})
}

// recordPublication stores the decision, the signed artifact (if any) and
// the publication's audit events in one transaction.
func (e *Engine) recordPublication(ctx context.Context, pub Publication, art *registry.Artifact) error {
	b, err := json.Marshal(pub)
	if err != nil {
		return fmt.Errorf("coordinator: encoding the publication decision: %w", err)
	}
	if pub.Published {
		d := map[string]any{"version": pub.Version, "record_sha256": hexDigest(sha256.Sum256(b))}
		if a := pub.Artifact; a != nil {
			d["name"], d["semver"], d["version_hash"], d["cosigned_by"] = a.Name, a.Version, a.VersionHash, a.Sites
		}
		e.noteDetail(audit.KindModelPublished, pub.RunID, pub.Version, audit.ActorCoordinator, fmt.Sprintf("model version %d", pub.Version), d)
	}
	pending := e.takePending()
	err = e.o.Store.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO publications (run_id, version, published, record, created_at) VALUES (?, ?, ?, ?, ?)`,
			pub.RunID, pub.Version, pub.Published, string(b), pub.CreatedAt.Format(time.RFC3339Nano))
		if err != nil {
			return err
		}
		if art != nil {
			if err := storeArtifactTx(ctx, tx, pub.RunID, pub.Version, art); err != nil {
				return err
			}
		}
		return e.flushAuditTx(ctx, tx, pending)
	})
	if err != nil {
		e.amu.Lock()
		e.pending = append(pending, e.pending...) // not committed: keep them for the run's last flush
		e.amu.Unlock()
	}
	return err
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
