package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientParty is the ledger party of client-level releases (ledger.ClientParty).
const clientParty = "*clients"

// ledgerRow is one row of the coordinator's privacy_ledger table.
type ledgerRow struct {
	ID, Round, Attempt, Steps int
	Purpose, Status           string
	Q, Sigma                  float64
}

type queryer interface {
	Query(string, ...any) (*sql.Rows, error)
}

// ledgerRows returns run's client-level ledger rows in id order.
func ledgerRows(t *testing.T, q queryer, run string) []ledgerRow {
	t.Helper()
	rows, err := q.Query(`SELECT id, round, attempt, steps, purpose, status, q, sigma FROM privacy_ledger
		WHERE run_id = ? AND party = ? ORDER BY id`, run, clientParty)
	if err != nil {
		t.Fatalf("reading the privacy ledger: %v", err)
	}
	defer rows.Close()
	var out []ledgerRow
	for rows.Next() {
		var r ledgerRow
		if err := rows.Scan(&r.ID, &r.Round, &r.Attempt, &r.Steps, &r.Purpose, &r.Status, &r.Q, &r.Sigma); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// committedAttempts maps every committed round of run to its attempt number.
func committedAttempts(t *testing.T, q queryer, run string) map[int]int {
	t.Helper()
	rows, err := q.Query(`SELECT round, attempt FROM rounds WHERE run_id = ? AND status = 'committed'`, run)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var r, a int
		if err := rows.Scan(&r, &a); err != nil {
			t.Fatal(err)
		}
		out[r] = a
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitPendingRound polls db until run's ledger holds a pending client-level
// row for a round >= minRound and returns the highest such round.
func waitPendingRound(t *testing.T, db *sql.DB, run string, minRound int, d time.Duration, watch *proc) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var k sql.NullInt64
		err := db.QueryRow(`SELECT MAX(round) FROM privacy_ledger WHERE run_id = ? AND party = ? AND status = 'pending' AND round >= ?`,
			run, clientParty, minRound).Scan(&k)
		if err == nil && k.Valid {
			return int(k.Int64)
		}
		if err != nil && !strings.Contains(err.Error(), "no such table") {
			t.Fatalf("polling the privacy ledger: %v", err)
		}
		if watch.exited() {
			t.Fatalf("%s exited (code %d) before the ledger had a pending row for a round >= %d", watch.name, exitCode(watch.err), minRound)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pending ledger row for a round >= %d of %s after %s", minRound, run, d)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fitAccepted scrapes the coordinator's /metrics endpoint for
// cohort_results_total{phase="fit",outcome="accepted"}.
func fitAccepted(addr string) (int, error) {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "cohort_results_total{") || !strings.Contains(line, `phase="fit"`) ||
			!strings.Contains(line, `outcome="accepted"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics line %q: %w", line, err)
		}
		return int(v), nil
	}
	return 0, nil // no fit result accepted yet
}

// privacyEpsilon runs `cohort privacy epsilon` for steps releases at (q, sigma).
func privacyEpsilon(t *testing.T, q, sigma float64, steps int, delta float64) float64 {
	t.Helper()
	out := mustCLI(t, "privacy", "epsilon", "--q", strconv.FormatFloat(q, 'g', -1, 64),
		"--sigma", strconv.FormatFloat(sigma, 'g', -1, 64), "--steps", strconv.Itoa(steps),
		"--delta", strconv.FormatFloat(delta, 'g', -1, 64), "--output", "json")
	var rep struct {
		Epsilon float64 `json:"epsilon"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("privacy epsilon --output json: %v\n%s", err, out)
	}
	return rep.Epsilon
}

// TestLedgerSurvivesCrashBetweenNoiseAndCommit checks that the privacy ledger
// cannot be bypassed: the coordinator is killed after it has drawn a round's
// noise but before the round commits, and that release must stay in the
// ledger (pending) and be counted in ε after the run resumes and completes.
func TestLedgerSurvivesCrashBetweenNoiseAndCommit(t *testing.T) {
	skipShort(t)
	const runID, rounds = "ledger", 6
	const epsilon, delta, sigma = 50.0, 1e-5, 0.6
	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "pki"), threeSites...)
	db := filepath.Join(dir, "coordinator.db")
	// An explicit σ leaves room in the budget for re-run attempts: ε(12
	// releases at σ=0.6, q=1) ≈ 42.8 < 50. (With σ derived from the budget
	// for exactly 6 rounds, the crashed attempt's release would leave no
	// room for the last round.) sample_rate 1 selects every site.
	run := writeRunConfig(t, dir, map[string]any{"run_id": runID, "rounds": rounds, "min_clients": 2, "start_sites": 3,
		"round_timeout": "20s", "wait_for_clients": "30s", "model": "logreg", "classes": 2, "strategy": "fedavg",
		"dp": map[string]any{"client": map[string]any{"epsilon": epsilon, "delta": delta, "clip": 1,
			"noise_multiplier": sigma, "mode": "central", "sample_rate": 1}}})

	metricsAddr := freeAddr(t)
	c := startCoordinator(t, p, db, run, "--exit-when-done", "--metrics", metricsAddr)
	sites := startSites(t, p, c.addr, threeSites)
	ro := openRO(t, db)

	// Freeze the coordinator between round k's ledger reservation and its
	// commit: hold SQLite's write lock from here once round k's row is
	// pending and the round is not committed.
	var (
		lock      *sql.Tx
		k         int
		crashedID int
	)
	for minRound := 2; ; {
		k = waitPendingRound(t, ro, runID, minRound, 60*time.Second, c.proc)
		lock = lockDB(t, db)
		last, err := lastCommitted(context.Background(), lock, runID)
		if err != nil {
			t.Fatal(err)
		}
		var kRows []ledgerRow
		for _, r := range ledgerRows(t, lock, runID) {
			if r.Round == k {
				kRows = append(kRows, r)
			}
		}
		if last < k && len(kRows) > 0 && kRows[len(kRows)-1].Status == "pending" {
			if last != k-1 {
				t.Fatalf("round %d is reserved in the ledger but the last committed round is %d", k, last)
			}
			crashedID = kRows[len(kRows)-1].ID
			break
		}
		// Round k committed before the lock was taken: try the next round.
		if err := lock.Rollback(); err != nil {
			t.Fatal(err)
		}
		if minRound = k + 1; minRound > rounds {
			t.Fatalf("run %s got to round %d before the coordinator could be frozen between reservation and commit", runID, k)
		}
	}

	// The round's fit phase can still finish while we hold the lock (it writes
	// nothing); wait until every site's result for round k is in, so that the
	// coordinator has closed the round, drawn the noise and is blocked in the
	// commit. The metric counts accepted fit results since the process
	// started: those of the attempts recorded so far plus round k's.
	var before int
	if err := lock.QueryRow(`SELECT COUNT(*) FROM round_participants WHERE run_id = ? AND status = 'accepted'`, runID).Scan(&before); err != nil {
		t.Fatal(err)
	}
	want := before + len(threeSites)
	deadline := time.Now().Add(8 * time.Second) // below the coordinator's 10 s busy_timeout
	for {
		n, err := fitAccepted(metricsAddr)
		if err == nil && n >= want {
			break
		}
		if c.exited() {
			t.Fatalf("coordinator exited (code %d) during round %d", exitCode(c.err), k)
		}
		if time.Now().After(deadline) {
			t.Fatalf("round %d: %d fit results accepted after 8s, want %d (err %v)", k, n, want, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the noise is drawn in microseconds once the round closes
	if c.exited() {
		t.Fatalf("coordinator exited (code %d) while frozen at round %d", exitCode(c.err), k)
	}
	c.kill(t)
	t.Logf("killed the coordinator with SIGKILL between the noise and the commit of round %d of %d", k, rounds)

	// The file as the dead coordinator left it, read on the locking
	// connection (nothing else can have written since).
	rows := ledgerRows(t, lock, runID)
	done := committedAttempts(t, lock, runID)
	if len(done) != k-1 {
		t.Errorf("after the crash: %d committed rounds, want %d (rounds 1..%d)", len(done), k-1, k-1)
	}
	checkReleased := func(when string, rows []ledgerRow, done map[int]int) {
		t.Helper()
		for r, attempt := range done {
			var rel []ledgerRow
			for _, row := range rows {
				if row.Round == r && row.Status == "released" {
					rel = append(rel, row)
				}
			}
			if len(rel) != 1 {
				t.Errorf("%s: committed round %d has %d released ledger rows, want exactly 1 (rows %+v)", when, r, len(rel), rows)
			} else if rel[0].Attempt != attempt {
				t.Errorf("%s: round %d committed attempt %d but its released ledger row is for attempt %d", when, r, attempt, rel[0].Attempt)
			}
		}
		for _, row := range rows {
			if _, ok := done[row.Round]; row.Status == "released" && !ok {
				t.Errorf("%s: ledger row %+v is released but round %d is not committed", when, row, row.Round)
			}
		}
	}
	checkReleased("after the crash", rows, done)
	var crashed []ledgerRow
	for _, row := range rows {
		switch {
		case row.Round == k:
			crashed = append(crashed, row)
		case row.Round > k:
			t.Errorf("after the crash: ledger row %+v for round %d, beyond the frozen round %d", row, row.Round, k)
		case row.Status == "pending":
			t.Logf("after the crash: pending row %+v of an earlier failed attempt", row)
		}
	}
	if len(crashed) != 1 || crashed[0].Status != "pending" || crashed[0].ID != crashedID {
		t.Errorf("after the crash: round %d has ledger rows %+v, want exactly row %d, pending", k, crashed, crashedID)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	for _, s := range sortedNames(sites) {
		if sites[s].exited() {
			t.Fatalf("%s exited (code %d) when the coordinator died; sites must reconnect", s, exitCode(sites[s].err))
		}
	}

	// Resume on the same file and address.
	c2, err := startCoordinatorAt(t, c.addr, p, db, run, "--exit-when-done")
	if err != nil {
		t.Fatal(err)
	}
	if code := c2.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("restarted coordinator exited with code %d, want 0", code)
	}
	if want := fmt.Sprintf("after_round=%d", k-1); !strings.Contains(c2.out.String(), "resuming run") ||
		!strings.Contains(c2.out.String(), want) {
		t.Errorf("restarted coordinator did not log resuming run %s with %s", runID, want)
	}
	waitSites(t, sites)

	if st := runState(t, ro, runID); st != "completed" {
		t.Fatalf("run %s is %q, want completed", runID, st)
	}
	checkModels(t, listModels(t, db, runID), runID, rounds)
	rows = ledgerRows(t, ro, runID)
	done = committedAttempts(t, ro, runID)
	if len(done) != rounds {
		t.Errorf("%d committed rounds, want %d", len(done), rounds)
	}
	checkReleased("after the run", rows, done)
	found, pending := false, 0
	for _, row := range rows {
		if row.ID == crashedID {
			found = true
			if row.Status != "pending" || row.Round != k {
				t.Errorf("the crashed attempt's ledger row is now %+v, want round %d, pending", row, k)
			}
		}
		if row.Status == "pending" {
			pending++
		}
		if row.Q != 1 || row.Steps != 1 || row.Sigma != rows[0].Sigma {
			t.Errorf("ledger row %+v: want q 1, 1 step and the σ of row %d (%v)", row, rows[0].ID, rows[0].Sigma)
		}
	}
	if !found {
		t.Errorf("the crashed attempt's ledger row %d was deleted: rows %+v", crashedID, rows)
	}
	if len(rows) != rounds+pending || pending < 1 {
		t.Errorf("%d ledger rows (%d pending) for %d committed rounds, want one released row per round plus the pending ones", len(rows), pending, rounds)
	}
	var kAttempts []string
	for _, row := range rows {
		if row.Round == k {
			kAttempts = append(kAttempts, fmt.Sprintf("id %d attempt %d %s", row.ID, row.Attempt, row.Status))
		}
	}
	t.Logf("round %d ledger rows: %s (committed attempt %d)", k, strings.Join(kAttempts, "; "), done[k])

	// ε as the operator sees it counts every row, the crashed attempt included.
	out := mustCLI(t, "privacy", "ledger", runID, "--db", db, "--output", "json")
	var rep struct {
		Entries []struct {
			ID     int    `json:"id"`
			Status string `json:"status"`
		} `json:"entries"`
		Spent map[string]float64 `json:"epsilon_by_party"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("privacy ledger --output json: %v\n%s", err, out)
	}
	if len(rep.Entries) != len(rows) {
		t.Errorf("privacy ledger lists %d entries, the table holds %d", len(rep.Entries), len(rows))
	}
	listed := false
	for _, e := range rep.Entries {
		listed = listed || (e.ID == crashedID && e.Status == "pending")
	}
	if !listed {
		t.Errorf("privacy ledger does not list the crashed attempt's entry %d as pending", crashedID)
	}
	got, ok := rep.Spent[clientParty]
	if !ok {
		t.Fatalf("privacy ledger reports no ε for %s: %s", clientParty, out)
	}
	s := rows[0].Sigma
	committedOnly := privacyEpsilon(t, 1, s, rounds, delta)
	all := privacyEpsilon(t, 1, s, len(rows), delta)
	t.Logf("ε(%s) = %.6g; %d committed releases alone: %.6g; all %d ledger rows: %.6g (σ=%g, budget %g)",
		clientParty, got, rounds, committedOnly, len(rows), all, s, epsilon)
	if !(got > committedOnly) {
		t.Errorf("ε(%s) = %v is not above ε = %v of the %d committed releases: the crashed attempt is not counted", clientParty, got, committedOnly, rounds)
	}
	if math.Abs(got-all) > 1e-6*all {
		t.Errorf("ε(%s) = %v, want %v, the ε of all %d ledger rows", clientParty, got, all, len(rows))
	}
	if got > epsilon {
		t.Errorf("ε(%s) = %v exceeds the budget %v", clientParty, got, epsilon)
	}
}
