package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coord "github.com/cohortfl/cohort/coordinator"
)

// publication reads the recorded gate decision of run from the SQLite file.
func publication(t *testing.T, dbPath, run string) coord.Publication {
	t.Helper()
	ro := openRO(t, dbPath)
	var rec string
	if err := ro.QueryRow(`SELECT record FROM publications WHERE run_id = ?`, run).Scan(&rec); err != nil {
		t.Fatalf("reading the publication of %s: %v", run, err)
	}
	var pub coord.Publication
	if err := json.Unmarshal([]byte(rec), &pub); err != nil {
		t.Fatal(err)
	}
	return pub
}

// gateRun runs three real site processes on pima_diabetes against a real
// coordinator over gRPC with mTLS, with the policy "disparate impact ≥ 0.8"
// on age ≤ 30 vs > 30, and returns the recorded decision.
func gateRun(t *testing.T, p pki, dir, id, mode string) coord.Publication {
	t.Helper()
	db := filepath.Join(dir, id+".db")
	run := writeRunConfig(t, filepath.Join(dir), map[string]any{"run_id": id, "rounds": 20, "min_clients": 3, "start_sites": 3,
		"round_timeout": "20s", "wait_for_clients": "30s", "model": "logreg", "classes": 2, "strategy": "fedavg",
		"explain_rows": 50,
		"fairness":     map[string]any{"mode": mode, "favorable": 0, "attributes": []map[string]any{{"name": "age", "cut": 30}}},
		"policy":       map[string]any{"fairness": map[string]any{"min_disparate_impact": 0.8}}})
	c := startCoordinator(t, p, db, run, "--exit-when-done")
	sites := map[string]*proc{}
	for i, s := range threeSites {
		sites[s] = start(t, "site "+s, append([]string{"client", "run", "--coordinator", c.addr, "--dataset", "pima_diabetes",
			"--shard", fmt.Sprintf("%d/3", i+1), "--exit-when-done"}, p.tlsFlags(s)...)...)
	}
	if code := c.wait(t, 120*time.Second); code != 0 {
		t.Fatalf("coordinator exited with code %d:\n%s", code, tail(c.out.String(), 30))
	}
	waitSites(t, sites)
	return publication(t, db, id)
}

// TestGateRejectsUnfairAndPublishesReweighed: with disparate impact ≥ 0.8 in
// the policy, the model trained without mitigation is not published and the
// decision names the failing check and its value; the reweighed model passes
// and is published. Both through real processes over gRPC with mTLS.
func TestGateRejectsUnfairAndPublishesReweighed(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "pki"), threeSites...)

	before := gateRun(t, p, dir, "unmitigated", "audit")
	after := gateRun(t, p, dir, "reweighed", "reweigh")
	for _, c := range []struct {
		name string
		pub  coord.Publication
	}{{"unmitigated", before}, {"reweighed", after}} {
		if len(c.pub.Fairness) != 1 || c.pub.Fairness[0].Name != "age" {
			t.Fatalf("%s: audit families = %+v", c.name, c.pub.Fairness)
		}
		if len(c.pub.Decision.Checks) != 1 {
			t.Fatalf("%s: checks = %+v", c.name, c.pub.Decision.Checks)
		}
		di := float64(c.pub.Fairness[0].DisparateImpact)
		ch := c.pub.Decision.Checks[0]
		if ch.Name != "fairness.min_disparate_impact[age]" || ch.Value != di || ch.Threshold != 0.8 {
			t.Errorf("%s: check %+v does not record the audited DI %v against 0.8", c.name, ch, di)
		}
		if want := di >= 0.8; ch.Passed != want || c.pub.Published != want {
			t.Errorf("%s: DI %.4f, check passed %v, published %v; want both %v", c.name, di, ch.Passed, c.pub.Published, want)
		}
		t.Logf("%s: DI %.4f, equalized odds %.4f, published %v: %s", c.name, di,
			float64(c.pub.Fairness[0].EqualizedOddsDifference), c.pub.Published, c.pub.Decision.Summary())
	}
	if before.Published {
		t.Errorf("the unmitigated model was published (DI %.4f): this scenario must show a rejection", float64(before.Fairness[0].DisparateImpact))
	}
	if !after.Published {
		t.Errorf("the reweighed model was not published: %s", after.Decision.Summary())
	}
	if !strings.Contains(before.Decision.Summary(), "min_disparate_impact") {
		t.Errorf("rejection summary %q does not name the failing check", before.Decision.Summary())
	}
	if after.ReweighWeights == nil || before.ReweighWeights != nil {
		t.Errorf("reweighing weights: unmitigated %v, reweighed %v", before.ReweighWeights, after.ReweighWeights)
	}

	// The published model is a signed artifact co-signed by the three sites;
	// the rejected one has none.
	if after.Artifact == nil || after.Artifact.Sites != 3 {
		t.Fatalf("reweighed publication artifact = %+v, want one co-signed by 3 sites", after.Artifact)
	}
	art := filepath.Join(dir, "model.cohort.json")
	mustCLI(t, "models", "artifact", "reweighed", "--db", filepath.Join(dir, "reweighed.db"), "--out", art)
	got := mustCLI(t, "models", "verify", art, "--ca", p.ca(), "--coordinator-key", filepath.Join(dir, "coordinator-signing.pub"),
		"--require-sites", strings.Join(threeSites, ","))
	if !strings.Contains(got, "verified") {
		t.Errorf("models verify:\n%s", got)
	}
	// Every update of the run is in the audit log with its hash and the
	// site's signature, and the chain verifies.
	db := filepath.Join(dir, "reweighed.db")
	var events []struct {
		Actor  string `json:"actor"`
		Detail struct {
			Phase     string `json:"phase"`
			SHA256    string `json:"update_sha256"`
			Signature string `json:"signature"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, "audit", "log", "--db", db, "--kind", "update_received", "--output", "json")), &events); err != nil {
		t.Fatal(err)
	}
	fits := 0
	for _, ev := range events {
		if ev.Detail.Phase != "fit" {
			continue
		}
		fits++
		if len(ev.Detail.SHA256) != 64 || ev.Detail.Signature == "" {
			t.Errorf("update from %s logged without hash or signature: %+v", ev.Actor, ev.Detail)
		}
	}
	if fits != 20*3 {
		t.Errorf("%d fit updates in the audit log, want 20 rounds × 3 sites", fits)
	}
	mustCLI(t, "audit", "verify", "--db", db)
	_, stderr, code := runCLI(t, 30*time.Second, "models", "artifact", "unmitigated", "--db", filepath.Join(dir, "unmitigated.db"),
		"--out", filepath.Join(dir, "none.json"))
	if code == 0 || !strings.Contains(stderr, "did not publish") {
		t.Errorf("models artifact of the rejected run: exit %d, %s", code, stderr)
	}
}
