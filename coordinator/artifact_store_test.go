package coordinator

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/registry"
)

// TestLoadArtifactsAttachesParams: an artifact stored detached comes back
// from LoadArtifacts as the full file Seal writes (same bytes), one stored
// whole (as before detached storage) comes back unchanged, and a detached
// row whose model version holds other parameters is an error, not a file
// with the wrong model.
func TestLoadArtifactsAttachesParams(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx, "coordinator", coordinatorMigrations); err != nil {
		t.Fatal(err)
	}
	signer, err := registry.GenerateSigner(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueRequest(pki.Request{CommonName: "site-a", Role: pki.Client,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	seal := func(run string, params []float64) (*registry.Artifact, []byte) {
		t.Helper()
		if err := db.CreateRun(ctx, store.Run{ID: run, ConfigJSON: "{}", State: "running", CreatedAt: now, UpdatedAt: now, RoundsTotal: 1},
			store.ModelVersion{RunID: run, Version: 0, Params: params, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		card := registry.Card{SchemaVersion: registry.CardSchema, Name: "m-" + run, RunID: run, CreatedAt: now,
			Model: registry.ModelInfo{Architecture: "logreg", Features: len(params) - 1, Classes: 2},
			Data:  registry.DataInfo{SchemaHash: "00", Label: "y"}, Sites: []registry.Site{{Name: "site-a", Examples: 10}}}
		card.SetParams(params)
		card.Follow(nil)
		vh, err := card.VersionHash()
		if err != nil {
			t.Fatal(err)
		}
		sig, err := registry.CoSign(key.(crypto.Signer), vh[:])
		if err != nil {
			t.Fatal(err)
		}
		cosigs := []registry.CoSignature{{Site: "site-a", Certificate: certPEM, Signature: sig}}
		full, err := registry.Seal(&card, params, signer, cosigs)
		if err != nil {
			t.Fatal(err)
		}
		fullData, err := full.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		det, err := registry.SealDetached(&card, signer, cosigs)
		if err != nil {
			t.Fatal(err)
		}
		return det, fullData
	}
	insert := func(run string, a *registry.Artifact, raw []byte) {
		t.Helper()
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			if raw == nil {
				return storeArtifactTx(ctx, tx, run, 0, a)
			}
			c := a.Card()
			_, err := tx.ExecContext(ctx, `INSERT INTO model_artifacts (run_id, name, semver, model_version, version_hash, artifact, created_at)
				VALUES (?, ?, ?, 0, 'x', ?, ?)`, run, c.Name, c.Version.String(), raw, now.Format(time.RFC3339Nano))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	det, want := seal("detached", []float64{0.5, -1.25, 2})
	insert("detached", det, nil)
	old, oldData := seal("whole", []float64{1, 2})
	insert("whole", old, oldData)
	for run, want := range map[string][]byte{"detached": want, "whole": oldData} {
		arts, err := LoadArtifacts(ctx, db, run)
		if err != nil || len(arts) != 1 {
			t.Fatalf("%s: %d artifacts, %v", run, len(arts), err)
		}
		if !bytes.Equal(arts[0].Artifact, want) {
			t.Errorf("%s: loaded artifact differs from the sealed file", run)
		}
	}

	// The model version's row replaced by other parameters (with a
	// matching row hash, so only the card's binding can catch it).
	mismatch, _ := seal("mismatch", []float64{3, 4, 5})
	other := store.EncodeParams([]float64{3, 4, 6})
	sum := sha256.Sum256(other)
	if _, err := db.SQL().ExecContext(ctx, `UPDATE model_versions SET sha256 = ? WHERE run_id = 'mismatch'`, sum[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, `UPDATE model_chunks SET data = ? WHERE run_id = 'mismatch'`, other); err != nil {
		t.Fatal(err)
	}
	insert("mismatch", mismatch, nil)
	if _, err := LoadArtifacts(ctx, db, "mismatch"); !errors.Is(err, registry.ErrInvalidCard) {
		t.Errorf("artifact over other parameters: %v, want ErrInvalidCard", err)
	}
}
