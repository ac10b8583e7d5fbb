package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var threeSites = []string{"site-a", "site-b", "site-c"}

// startSites starts one `client run --exit-when-done` per site, site i on
// shard i/len(sites) of hmda.
func startSites(t *testing.T, p pki, addr string, sites []string) map[string]*proc {
	t.Helper()
	out := map[string]*proc{}
	for i, s := range sites {
		out[s] = startSite(t, p, s, addr, fmt.Sprintf("%d/%d", i+1, len(sites)), "--exit-when-done")
	}
	return out
}

// waitSites checks that every site in procs exits 0 (they were started with
// --exit-when-done, so they must leave once the coordinator says the run is over).
func waitSites(t *testing.T, procs map[string]*proc) {
	t.Helper()
	for _, s := range sortedNames(procs) {
		if code := procs[s].wait(t, 20*time.Second); code != 0 {
			t.Errorf("%s exited with code %d after the run ended, want 0", s, code)
		}
	}
}

func sortedNames(m map[string]*proc) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestThreeSitesThreeRounds(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "pki"), threeSites...)
	db := filepath.Join(dir, "coordinator.db")
	// min_clients 3: every round waits for, and needs results from, all three sites.
	run := writeRunConfig(t, dir, map[string]any{"run_id": "e2e", "rounds": 3, "min_clients": 3,
		"round_timeout": "20s", "wait_for_clients": "30s", "model": "logreg", "classes": 2, "strategy": "fedavg"})

	c := startCoordinator(t, p, db, run, "--exit-when-done")
	sites := startSites(t, p, c.addr, threeSites)
	if code := c.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("coordinator exited with code %d, want 0", code)
	}
	waitSites(t, sites)

	ms := listModels(t, db, "e2e")
	checkModels(t, ms, "e2e", 3)
	for i := 1; i < len(ms); i++ {
		if ms[i].SHA256 == ms[i-1].SHA256 {
			t.Errorf("model version %d has the same SHA-256 as version %d: the round changed nothing", i, i-1)
		}
	}

	ro := openRO(t, db)
	if st := runState(t, ro, "e2e"); st != "completed" {
		t.Errorf("run e2e is %q, want completed", st)
	}
	rounds := committed(t, ro, "e2e")
	if len(rounds) != 3 {
		t.Errorf("%d committed rounds, want 3", len(rounds))
	}
	for r := 1; r <= 3; r++ {
		if got := accepted(rounds[r]); !slices.Equal(got, threeSites) {
			t.Errorf("round %d accepted %v, want %v (participants %+v)", r, got, threeSites, rounds[r])
		}
	}
}

// lockDB takes SQLite's write lock on the coordinator's file (BEGIN
// IMMEDIATE) and returns the open transaction. While it is held the
// coordinator can read but cannot commit a round, which freezes the run at a
// known round however fast rounds are. Roll it back to release the lock.
func lockDB(t *testing.T, path string) *sql.Tx {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+abs+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	// Not a cancellable context: database/sql rolls a transaction back when
	// its context ends. busy_timeout bounds the wait for the lock.
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatalf("taking the write lock on %s: %v", path, err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	return tx
}

func modelHashes(t *testing.T, q interface {
	Query(string, ...any) (*sql.Rows, error)
}, run string) map[int]string {
	t.Helper()
	rows, err := q.Query(`SELECT version, hex(sha256) FROM model_versions WHERE run_id = ?`, run)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var v int
		var h string
		if err := rows.Scan(&v, &h); err != nil {
			t.Fatal(err)
		}
		out[v] = strings.ToLower(h)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCoordinatorKill9Resume(t *testing.T) {
	skipShort(t)
	const runID, rounds = "resume", 6
	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "pki"), threeSites...)
	db := filepath.Join(dir, "coordinator.db")
	run := writeRunConfig(t, dir, map[string]any{"run_id": runID, "rounds": rounds, "min_clients": 2, "start_sites": 3,
		"round_timeout": "20s", "wait_for_clients": "30s", "model": "logreg", "classes": 2, "strategy": "fedavg"})

	c := startCoordinator(t, p, db, run, "--exit-when-done")
	sites := startSites(t, p, c.addr, threeSites)
	ro := openRO(t, db)
	waitCommitted(t, ro, runID, 2, 60*time.Second, c.proc)

	// Freeze the run, note where it is, and kill the coordinator while it
	// waits to commit the next round.
	lock := lockDB(t, db)
	k, err := lastCommitted(context.Background(), lock, runID)
	if err != nil {
		t.Fatal(err)
	}
	var state string
	if err := lock.QueryRow(`SELECT state FROM runs WHERE id = ?`, runID).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if k >= rounds || state != "running" {
		t.Fatalf("run %s had already ended (state %s, %d rounds committed) before the coordinator could be killed", runID, state, k)
	}
	before := modelHashes(t, lock, runID)
	c.kill(t)
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the coordinator with SIGKILL after round %d of %d", k, rounds)
	for _, s := range sortedNames(sites) {
		if sites[s].exited() {
			t.Fatalf("%s exited (code %d) when the coordinator died; sites must reconnect", s, exitCode(sites[s].err))
		}
	}

	// Restart on the same file and address, with the same flags.
	c2, err := startCoordinatorAt(t, c.addr, p, db, run, "--exit-when-done")
	if err != nil {
		t.Fatal(err)
	}
	if code := c2.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("restarted coordinator exited with code %d, want 0", code)
	}
	if want := fmt.Sprintf("after_round=%d", k); !strings.Contains(c2.out.String(), "resuming run") ||
		!strings.Contains(c2.out.String(), want) {
		t.Errorf("restarted coordinator did not log resuming run %s with %s", runID, want)
	}
	waitSites(t, sites)

	checkModels(t, listModels(t, db, runID), runID, rounds)
	if st := runState(t, ro, runID); st != "completed" {
		t.Errorf("run %s is %q, want completed", runID, st)
	}
	after := modelHashes(t, ro, runID)
	for v := 0; v <= k; v++ {
		if after[v] != before[v] {
			t.Errorf("model version %d changed across the restart: %s before, %s after", v, before[v], after[v])
		}
	}
	got := committed(t, ro, runID)
	if len(got) != rounds {
		t.Errorf("%d committed rounds, want %d", len(got), rounds)
	}
	for r := 1; r <= rounds; r++ {
		ps, ok := got[r]
		if !ok {
			t.Errorf("round %d was never committed", r)
			continue
		}
		if n := len(accepted(ps)); n < 2 {
			t.Errorf("round %d committed with %d accepted results, min_clients is 2 (participants %+v)", r, n, ps)
		}
	}
}

func TestClientKilledMidRound(t *testing.T) {
	skipShort(t)
	const runID, rounds, victim = "dropout", 10, "site-c"
	const roundTimeout = 5 * time.Second
	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "pki"), threeSites...)
	db := filepath.Join(dir, "coordinator.db")
	run := writeRunConfig(t, dir, map[string]any{"run_id": runID, "rounds": rounds, "min_clients": 2, "start_sites": 3,
		"round_timeout": roundTimeout.String(), "wait_for_clients": "30s", "max_retries": 3,
		"model": "logreg", "classes": 2, "strategy": "fedavg"})

	c := startCoordinator(t, p, db, run, "--exit-when-done")
	sites := startSites(t, p, c.addr, threeSites)
	ro := openRO(t, db)

	// Wait until the victim has contributed to a committed round, so that it
	// is really part of the run when it dies.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n sql.NullInt64
		err := ro.QueryRow(`SELECT MAX(p.round) FROM round_participants p
			JOIN rounds r ON r.run_id = p.run_id AND r.round = p.round AND r.attempt = p.attempt
			WHERE p.run_id = ? AND p.client = ? AND p.status = 'accepted' AND r.status = 'committed'`, runID, victim).Scan(&n)
		if err != nil && !strings.Contains(err.Error(), "no such table") {
			t.Fatal(err)
		}
		if n.Valid {
			break
		}
		if c.exited() || time.Now().After(deadline) {
			t.Fatalf("%s was not accepted in any committed round (coordinator exited: %v)", victim, c.exited())
		}
		time.Sleep(2 * time.Millisecond)
	}
	lock := lockDB(t, db)
	k, err := lastCommitted(context.Background(), lock, runID)
	if err != nil {
		t.Fatal(err)
	}
	if k > rounds-2 {
		t.Fatalf("run %s was at round %d of %d before %s could be killed; no round would start without it", runID, k, rounds, victim)
	}
	sites[victim].kill(t)
	killedAt := time.Now()
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s with SIGKILL after round %d of %d", victim, k, rounds)

	if code := c.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("coordinator exited with code %d, want 0", code)
	}
	t.Logf("the run finished %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	delete(sites, victim)
	waitSites(t, sites)

	if st := runState(t, ro, runID); st != "completed" {
		t.Fatalf("run %s is %q, want completed", runID, st)
	}
	checkModels(t, listModels(t, db, runID), runID, rounds)
	got := committed(t, ro, runID)
	if len(got) != rounds {
		t.Errorf("%d committed rounds, want %d", len(got), rounds)
	}
	// Round k+1 was in flight at the kill and may hold the victim's result;
	// every later round started after the victim was dead.
	dropped := 0
	for r := 1; r <= rounds; r++ {
		ps := got[r]
		if n := len(accepted(ps)); n < 2 {
			t.Errorf("round %d committed with %d accepted results, min_clients is 2 (participants %+v)", r, n, ps)
		}
		if r <= k+1 {
			continue
		}
		for _, p := range ps {
			if p.Client != victim {
				continue
			}
			if p.Status != "dropped" {
				t.Errorf("round %d: dead %s has status %q (%s), want dropped or not selected", r, victim, p.Status, p.Reason)
			}
			dropped++
			t.Logf("round %d: %s %s (%s)", r, victim, p.Status, p.Reason)
		}
	}
	t.Logf("%s was dropped in %d of the %d rounds after round %d and not selected in the others", victim, dropped, rounds-k-1, k+1)

	// The coordinator notices a dead site's stream closing: no round after the
	// kill waits out the round timeout for it.
	rows, err := ro.Query(`SELECT round, started_at, ended_at FROM rounds WHERE run_id = ? AND round > ? AND status = 'committed'`, runID, k+1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r int
		var s, e string
		if err := rows.Scan(&r, &s, &e); err != nil {
			t.Fatal(err)
		}
		st, err1 := time.Parse(time.RFC3339Nano, s)
		en, err2 := time.Parse(time.RFC3339Nano, e)
		if err1 != nil || err2 != nil {
			t.Fatalf("round %d: bad timestamps %q, %q", r, s, e)
		}
		if d := en.Sub(st); d >= roundTimeout {
			t.Errorf("round %d took %s, waiting out the %s round timeout for the dead site", r, d, roundTimeout)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
