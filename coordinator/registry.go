package coordinator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/internal/secwire"
	"github.com/cohortfl/cohort/privacy/ledger"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/registry"
)

// cosignAttempt numbers the publication's co-sign phase.
const cosignAttempt = auditAttempt + 1

var artifactMigration = store.Migration{
	Name: "signed model artifacts",
	SQL: `CREATE TABLE model_artifacts (
		run_id        TEXT NOT NULL,
		name          TEXT NOT NULL,
		semver        TEXT NOT NULL,
		model_version INTEGER NOT NULL,
		version_hash  TEXT NOT NULL,
		artifact      BLOB NOT NULL,
		created_at    TEXT NOT NULL,
		PRIMARY KEY (name, semver)
	) STRICT`,
}

// StoredArtifact is a signed model version held in the registry table.
type StoredArtifact struct {
	RunID        string
	Name         string
	Version      registry.Version
	ModelVersion int
	VersionHash  string
	// Artifact is the model.cohort.json file (LoadArtifacts); the row holds
	// it detached from the parameters, which are model version ModelVersion.
	Artifact  []byte
	CreatedAt time.Time
}

// SiteLister is an optional capability of a Dispatcher: the example counts
// sites announced when they connected (for the model card).
type SiteLister interface {
	Sites() []SiteStatus
}

// sign builds the model card of the published candidate, has every
// participating connected site co-sign its version hash, seals the artifact
// with the coordinator's key and returns it. The caller stores it with the
// publication record.
func (e *Engine) sign(ctx context.Context, ar *activeRun, res RunResult, pub *Publication) (*registry.Artifact, error) {
	if e.o.Roots == nil {
		return nil, errors.New("coordinator: a signing key is set but no CA certificate pool to check site co-signatures")
	}
	cfg := ar.cfg
	participants, err := e.participants(ctx, cfg.RunID)
	if err != nil {
		return nil, err
	}
	connected := e.o.Dispatcher.Connected()
	var cosigners []string
	for _, s := range participants {
		if slices.Contains(connected, s) {
			cosigners = append(cosigners, s)
		}
	}
	if need := max(1, min(cfg.MinClients, len(participants))); len(cosigners) < need {
		return nil, fmt.Errorf("coordinator: only %d of %d participating sites are connected to co-sign (need %d)",
			len(cosigners), len(participants), need)
	}
	card, err := e.card(ctx, ar, res, pub, cosigners)
	if err != nil {
		return nil, err
	}
	vh, err := card.VersionHash()
	if err != nil {
		return nil, err
	}
	cardJSON, err := card.Canonical()
	if err != nil {
		return nil, err
	}
	blob, err := secwire.Marshal(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_CosignRequest{
		CosignRequest: &cohortv1.CoSignRequest{CardJson: cardJSON, VersionHash: vh[:]}}})
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	ar.blobs = map[string][]byte{"cosign": blob}
	ar.cosign = &cosignState{hash: vh, sigs: map[string]registry.CoSignature{}}
	e.mu.Unlock()
	_, perr := e.playPhase(ctx, ar, phaseOpts{phase: PhaseCosign, round: res.RoundsCompleted, attempt: cosignAttempt,
		sites: cosigners, minResults: len(cosigners), blob: func(string) string { return "cosign" }})
	e.mu.Lock()
	st := ar.cosign
	ar.cosign, ar.blobs = nil, nil
	e.mu.Unlock()
	if perr != nil {
		return nil, fmt.Errorf("coordinator: collecting co-signatures: %w", perr)
	}
	sigs := make([]registry.CoSignature, 0, len(st.sigs))
	for _, s := range cosigners {
		sigs = append(sigs, st.sigs[s])
	}
	// Detached: the card is bound to the parameters by their hash, and the
	// store already holds them as the model version, so no second copy of
	// the model is made or stored.
	art, err := registry.SealDetached(card, e.o.Signer, sigs)
	if err != nil {
		return nil, fmt.Errorf("coordinator: sealing the model artifact: %w", err)
	}
	return art, nil
}

// cosignState collects the co-signatures of one publication.
type cosignState struct {
	hash [32]byte
	sigs map[string]registry.CoSignature
}

// submitCosign checks one site's co-signature of the version hash.
func (e *Engine) submitCosign(ar *activeRun, site string, payload, peerCert []byte) error {
	st := ar.cosign
	if st == nil {
		return errors.New("coordinator: no co-signature expected now")
	}
	m, err := secwire.Unmarshal(payload)
	if err != nil {
		return err
	}
	c := m.GetCosignature()
	if c == nil {
		return errors.New("coordinator: expected a co-signature")
	}
	if !slices.Equal(c.VersionHash, st.hash[:]) {
		if len(c.VersionHash) != len(st.hash) {
			return fmt.Errorf("coordinator: site %q co-signed a version hash of %d bytes, want %d", site, len(c.VersionHash), len(st.hash))
		}
		return fmt.Errorf("coordinator: site %q co-signed version hash %x, not %x", site, c.VersionHash, st.hash)
	}
	if peerCert != nil && !bytes.Equal(c.Certificate, peerCert) {
		return fmt.Errorf("coordinator: site %q co-signed with a certificate other than the one its connection presented", site)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate})
	name, err := registry.VerifyCoSignature(certPEM, c.Signature, st.hash[:], e.o.Roots, e.o.Now())
	if err != nil {
		return fmt.Errorf("coordinator: co-signature of site %q: %w", site, err)
	}
	if name != site {
		return fmt.Errorf("coordinator: site %q sent a co-signature by %q", site, name)
	}
	st.sigs[site] = registry.CoSignature{Site: site, Certificate: certPEM, Signature: c.Signature}
	e.noteDetail(audit.KindAdminAction, ar.cfg.RunID, ar.round.Number, site, "cosignature",
		map[string]any{"version_hash": hex.EncodeToString(st.hash[:]), "action": "co-signed the model version"})
	return nil
}

// participants returns the sites accepted in any committed round of the run.
func (e *Engine) participants(ctx context.Context, runID string) ([]string, error) {
	rounds, err := e.o.Store.Rounds(ctx, runID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range rounds {
		if r.Status != "committed" {
			continue
		}
		for _, site := range acceptedSites(r) {
			seen[site] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// modelName is the registry name of the run's model.
func (c RunConfig) modelName() string {
	if c.ModelName != "" {
		return c.ModelName
	}
	return "cohort-" + c.Model
}

// card builds the model card of the published candidate.
func (e *Engine) card(ctx context.Context, ar *activeRun, res RunResult, pub *Publication, sites []string) (*registry.Card, error) {
	cfg := ar.cfg
	training := cfg
	training.SecAgg, training.FeatureMoments = nil, nil // key material and per-feature sums are not training settings
	tj, err := json.Marshal(training)
	if err != nil {
		return nil, err
	}
	// Only configured names go into the card: a million synthetic "x…"
	// names would make the card (sent to every site) as large as the model.
	names := cfg.FeatureNames
	schema, _ := json.Marshal(map[string]any{"features": cfg.Features, "feature_names": names, "classes": cfg.Classes})
	sh := sha256.Sum256(schema)
	card := &registry.Card{SchemaVersion: registry.CardSchema, Name: cfg.modelName(), RunID: cfg.RunID, Round: res.Version,
		CreatedAt: e.o.Now().UTC(), Training: tj,
		Model: registry.ModelInfo{Architecture: cfg.Model, Features: cfg.Features, Classes: cfg.Classes, Hidden: cfg.Hidden,
			NumParams: len(res.Params), FeatureNames: names},
		Data:    registry.DataInfo{SchemaHash: hex.EncodeToString(sh[:])},
		Metrics: registry.Metrics{Overall: registry.Floats(pub.Metrics), PerGroup: map[string]map[string]registry.Float{}}}
	if spec := cfg.fairSpec(); spec != nil {
		card.Data.ProtectedAttributes = spec.Names()
	}
	counts := e.announcedExamples()
	for _, s := range sites {
		card.Sites = append(card.Sites, registry.Site{Name: s, Examples: counts[s]})
	}
	for _, f := range pub.Fairness {
		for _, g := range f.Groups {
			card.Metrics.PerGroup[g.Key] = map[string]registry.Float{"n": registry.Float(g.N),
				"selection_rate": registry.Float(g.SelectionRate), "tpr": registry.Float(g.TPR), "fpr": registry.Float(g.FPR),
				"fnr": registry.Float(g.FNR), "accuracy": registry.Float(g.Accuracy), "ece": registry.Float(g.ECE)}
		}
	}
	if card.Privacy, err = e.cardPrivacy(ctx, ar, pub); err != nil {
		return nil, err
	}
	checks, err := json.Marshal(pub.Decision.Checks)
	if err != nil {
		return nil, err
	}
	card.FairnessGate = &registry.FairnessGate{Passed: pub.Decision.Passed, Checks: checks}
	if imp := pub.Importance; imp != nil {
		x := &registry.Explanations{Method: imp.Method, PerGroup: map[string][]registry.FeatureImportance{}}
		for _, f := range imp.Features {
			x.Top = append(x.Top, registry.FeatureImportance{Feature: f.Name, MeanAbsSHAP: registry.Float(f.MeanAbs), MeanSHAP: registry.Float(f.Mean)})
		}
		for _, g := range imp.Groups {
			for i, v := range g.MeanAbs {
				x.PerGroup[g.Key] = append(x.PerGroup[g.Key], registry.FeatureImportance{Feature: imp.Features[i].Name,
					MeanAbsSHAP: registry.Float(v), MeanSHAP: registry.Float(math.NaN())})
			}
		}
		card.Explanations = x
	}
	head, err := e.audit.Head(ctx)
	if err != nil {
		return nil, err
	}
	card.AuditHead = &registry.AuditHead{Seq: head.Seq, Hash: hex.EncodeToString(head.Hash[:])}
	card.SetParams(res.Params)
	parent, err := latestArtifact(ctx, e.o.Store, card.Name)
	if err != nil {
		return nil, err
	}
	var pa *registry.Artifact
	if parent != nil {
		if pa, err = registry.ParseArtifact(parent.Artifact); err != nil {
			return nil, fmt.Errorf("coordinator: the registry's latest %s (%s) is unreadable: %w", card.Name, parent.Version, err)
		}
	}
	card.Follow(pa)
	return card, nil
}

// cardPrivacy summarises the run's privacy for the card (nil without DP).
func (e *Engine) cardPrivacy(ctx context.Context, ar *activeRun, pub *Publication) (*registry.Privacy, error) {
	dp := ar.cfg.DP
	countEps, noisyCounts := pub.Epsilon["reweigh_counts"]
	if dp == nil && !noisyCounts {
		return nil, nil
	}
	if dp == nil {
		dp = &DPConfig{}
	}
	// Without training DP the model's ε is unbounded, whatever else was
	// noised.
	p := &registry.Privacy{Epsilon: registry.Float(math.Inf(1))}
	var mech []string
	if cd := dp.Client; cd != nil {
		mech = append(mech, "client-level DP-FedAvg ("+cd.Mode+")")
		p.Delta, p.Accountant = registry.Float(cd.Delta), orDefault(cd.Accountant, "rdp")
	}
	if rd := dp.Record; rd != nil {
		mech = append(mech, "record-level DP-SGD")
		if dp.Client == nil {
			p.Delta, p.Accountant = registry.Float(rd.Delta), "rdp"
		}
	}
	if len(mech) == 0 {
		mech = append(mech, "no DP in training (ε = ∞)")
	}
	if noisyCounts {
		fc := ar.cfg.Fairness
		delta := fc.CountDelta
		if delta == 0 {
			delta = DefaultCountDelta
		}
		mech = append(mech, fmt.Sprintf("reweighing counts: Gaussian σ=%g, ε=%.4g at δ=%g (records)", fc.CountNoiseStd, countEps, delta))
	}
	p.Mechanism = strings.Join(mech, " + ")
	if eps := trainingEpsilon(pub.Epsilon); eps != nil {
		p.Epsilon = registry.Float(*eps)
	}
	lg, err := ledger.Open(ctx, e.o.Store)
	if err != nil {
		return nil, err
	}
	entries, err := lg.Entries(ctx, ar.cfg.RunID, "")
	if err != nil {
		return nil, err
	}
	p.LedgerEntries = len(entries)
	return p, nil
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// storeArtifactTx writes a sealed artifact, detached from its parameters
// (they are model version modelVersion), in the caller's transaction.
func storeArtifactTx(ctx context.Context, tx *sql.Tx, runID string, modelVersion int, a *registry.Artifact) error {
	b, err := a.MarshalDetached()
	if err != nil {
		return err
	}
	c := a.Card()
	vh := a.VersionHash()
	_, err = tx.ExecContext(ctx, `INSERT INTO model_artifacts (run_id, name, semver, model_version, version_hash, artifact, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, runID, c.Name, c.Version.String(), modelVersion, hex.EncodeToString(vh[:]), b,
		c.CreatedAt.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("coordinator: storing %s %s: %w", c.Name, c.Version, err)
	}
	return nil
}

func scanArtifacts(rows *sql.Rows) ([]StoredArtifact, error) {
	defer rows.Close()
	var out []StoredArtifact
	for rows.Next() {
		var a StoredArtifact
		var sv, ts string
		if err := rows.Scan(&a.RunID, &a.Name, &sv, &a.ModelVersion, &a.VersionHash, &a.Artifact, &ts); err != nil {
			return nil, err
		}
		var err error
		if a.Version, err = registry.ParseVersion(sv); err != nil {
			return nil, fmt.Errorf("coordinator: stored artifact version %q: %w", sv, err)
		}
		if a.CreatedAt, err = time.Parse(time.RFC3339Nano, ts); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

const artifactCols = `run_id, name, semver, model_version, version_hash, artifact, created_at`

// LoadArtifacts returns the signed artifacts of a run ("" for every run),
// oldest first, each re-formed with its model version's parameters.
func LoadArtifacts(ctx context.Context, db *store.DB, runID string) ([]StoredArtifact, error) {
	if err := db.Migrate(ctx, "coordinator", coordinatorMigrations); err != nil {
		return nil, err
	}
	rows, err := db.SQL().QueryContext(ctx, `SELECT `+artifactCols+` FROM model_artifacts
		WHERE ? = '' OR run_id = ? ORDER BY created_at, semver`, runID, runID)
	if err != nil {
		return nil, err
	}
	arts, err := scanArtifacts(rows)
	if err != nil {
		return nil, err
	}
	for i := range arts {
		if err := attachParams(ctx, db, &arts[i]); err != nil {
			return nil, err
		}
	}
	return arts, nil
}

// attachParams turns a stored detached artifact into the artifact file. A
// row written before artifacts were stored detached is the file already.
func attachParams(ctx context.Context, db *store.DB, a *StoredArtifact) error {
	var head struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(a.Artifact, &head); err != nil {
		return fmt.Errorf("coordinator: stored artifact %s %s: %w", a.Name, a.Version, err)
	}
	if head.Format != registry.DetachedFormat {
		return nil
	}
	mv, err := db.GetModel(ctx, a.RunID, a.ModelVersion)
	if err != nil {
		return fmt.Errorf("coordinator: parameters of artifact %s %s: %w", a.Name, a.Version, err)
	}
	b, err := registry.AttachParams(a.Artifact, mv.Params)
	if err != nil {
		return fmt.Errorf("coordinator: artifact %s %s and model version %d of run %q: %w", a.Name, a.Version, a.ModelVersion, a.RunID, err)
	}
	a.Artifact = b
	return nil
}

// latestArtifact is the highest version of name in the registry, or nil.
func latestArtifact(ctx context.Context, db *store.DB, name string) (*StoredArtifact, error) {
	rows, err := db.SQL().QueryContext(ctx, `SELECT `+artifactCols+` FROM model_artifacts WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	all, err := scanArtifacts(rows)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Version.Compare(all[j].Version) < 0 })
	return &all[len(all)-1], nil
}
