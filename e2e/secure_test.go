package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/cohortfl/cohort/internal/tlsconf"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// tooFewDecryptors is the text of coordinator.ErrTooFewDecryptors.
const tooFewDecryptors = "fewer than t key holders online to decrypt"

// secureRun is a run configuration for secure aggregation with short
// deadlines, so that a failure shows within seconds.
func secureRun(id string, rounds, minClients, threshold int, onFailure string, maxRetries int) map[string]any {
	return map[string]any{"run_id": id, "rounds": rounds, "min_clients": minClients,
		"secure": "he", "threshold": threshold,
		"round_timeout": "5s", "wait_for_clients": "10s", "on_failure": onFailure, "max_retries": maxRetries,
		"model": "logreg", "classes": 2, "strategy": "fedavg"}
}

// adminClient dials the coordinator's AdminService with name's certificate
// (the coordinator lets admins and auditors call it; see coordinator/authz.go).
func adminClient(t *testing.T, p pki, name, addr string) cohortv1.AdminServiceClient {
	t.Helper()
	return cohortv1.NewAdminServiceClient(dialAs(t, p, name, addr))
}

// dialAs opens a gRPC connection to addr with name's certificate, closed
// when the test ends.
func dialAs(t *testing.T, p pki, name, addr string) *grpc.ClientConn {
	t.Helper()
	cfg, err := tlsconf.ClientConfig(p.cert(name), p.key(name), p.ca(), "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitConnected polls the admin API until every site in want is connected.
func waitConnected(t *testing.T, admin cohortv1.AdminServiceClient, want []string, d time.Duration, watch ...*proc) {
	t.Helper()
	deadline := time.Now().Add(d)
	var got []string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res, err := admin.ListSites(ctx, &cohortv1.ListSitesRequest{})
		cancel()
		if err == nil {
			got = got[:0]
			for _, s := range res.Sites {
				if s.Connected {
					got = append(got, s.Name)
				}
			}
			slices.Sort(got)
			if !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(got, w) }) {
				return
			}
		}
		for _, p := range watch {
			if p.exited() {
				t.Fatalf("%s exited (code %d) before every site connected", p.name, exitCode(p.err))
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sites connected after %s: %v, want %v (last error: %v)", d, got, want, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRunEnded polls db until run leaves the running state and returns its
// state and error. It fails the test after d.
func waitRunEnded(t *testing.T, db *sql.DB, run string, d time.Duration) (state, msg string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := db.QueryRow(`SELECT state, error FROM runs WHERE id = ?`, run).Scan(&state, &msg)
		if err == nil && state != "running" {
			return state, msg
		}
		if err != nil && err != sql.ErrNoRows && !strings.Contains(err.Error(), "no such table") {
			t.Fatalf("polling run %s: %v", run, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %q after %s (hung?)", run, state, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// attemptRec is one recorded attempt at a round.
type attemptRec struct {
	Round, Attempt int
	Status, Reason string
	Took           time.Duration
	Accepted       []string
}

// attempts returns every recorded attempt of run, committed and failed, in
// order, with the sites accepted in its fit phase.
func attempts(t *testing.T, db *sql.DB, run string) []attemptRec {
	t.Helper()
	rows, err := db.Query(`SELECT round, attempt, status, reason, started_at, ended_at FROM rounds
		WHERE run_id = ? ORDER BY round, attempt`, run)
	if err != nil {
		t.Fatal(err)
	}
	var out []attemptRec
	for rows.Next() {
		var a attemptRec
		var s, e string
		if err := rows.Scan(&a.Round, &a.Attempt, &a.Status, &a.Reason, &s, &e); err != nil {
			t.Fatal(err)
		}
		st, err1 := time.Parse(time.RFC3339Nano, s)
		en, err2 := time.Parse(time.RFC3339Nano, e)
		if err1 == nil && err2 == nil {
			a.Took = en.Sub(st)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for i := range out {
		a := &out[i]
		rs, err := db.Query(`SELECT client FROM round_participants WHERE run_id = ? AND round = ? AND attempt = ?
			AND status = 'accepted' ORDER BY client`, run, a.Round, a.Attempt)
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var c string
			if err := rs.Scan(&c); err != nil {
				t.Fatal(err)
			}
			a.Accepted = append(a.Accepted, c)
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		rs.Close()
	}
	return out
}

// TestSecureDropoutStillDecrypts: five key holders, t = 3. After their
// round-2 uploads, n−t = 2 sites go offline; round 2 still decrypts the sum
// of all five contributions with the three that remain, and round 3 runs
// with those three.
func TestSecureDropoutStillDecrypts(t *testing.T) {
	skipShort(t)
	const runID, rounds = "secure-dropout", 3
	sites := []string{"site-a", "site-b", "site-c", "site-d", "site-e"}
	// The first two in roster order (sorted names) leave: the coordinator's
	// first choice of decryptors is the first t online key holders, so if it
	// has not yet seen them go, its first active set includes them.
	leavers := []string{"site-a", "site-b"}
	stayers := []string{"site-c", "site-d", "site-e"}
	began := time.Now()
	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "pki"), sites...)
	p.addUser(t, "operator", "admin")
	db := filepath.Join(dir, "coordinator.db")

	// The key ceremony takes every site connected once max(t, min_clients) = 3
	// are, so a run started by --run could begin with 3 or 4 key holders.
	// Start it through the admin API once all five are connected.
	c := startCoordinator(t, p, db, "")
	procs := map[string]*proc{}
	for i, s := range sites {
		extra := []string{"--exit-when-done"}
		if slices.Contains(leavers, s) {
			extra = append(extra, "--exit-after-fit", "2")
		}
		procs[s] = startSite(t, p, s, c.addr, fmt.Sprintf("%d/%d", i+1, len(sites)), extra...)
	}
	admin := adminClient(t, p, "operator", c.addr)
	waitConnected(t, admin, sites, 20*time.Second, c.proc)
	cfg, err := json.Marshal(secureRun(runID, rounds, 3, 3, "stop", 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err = admin.StartRun(ctx, &cohortv1.StartRunRequest{ConfigJson: string(cfg)})
	cancel()
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	started := time.Now()

	ro := openRO(t, db)
	state, msg := waitRunEnded(t, ro, runID, 30*time.Second)
	t.Logf("run %s ended %s after StartRun (%s since the test began): state %s %s",
		runID, time.Since(started).Round(time.Millisecond), time.Since(began).Round(time.Millisecond), state, msg)
	if state != "completed" {
		t.Fatalf("run %s is %q (%s), want completed", runID, state, msg)
	}
	out := c.out.String()
	if !strings.Contains(out, "members=5") {
		t.Errorf("coordinator did not log a key ceremony with 5 members")
	}

	// The leavers left after their round-2 upload (exit code 0: fault
	// injection is a clean exit); the others leave when the run is done.
	for _, s := range leavers {
		if code := procs[s].wait(t, 10*time.Second); code != 0 {
			t.Errorf("%s exited with code %d, want 0", s, code)
		}
		if !strings.Contains(procs[s].out.String(), "exiting after the fit upload") {
			t.Errorf("%s did not log its fault-injected exit", s)
		}
	}
	for _, s := range stayers {
		if code := procs[s].wait(t, 20*time.Second); code != 0 {
			t.Errorf("%s exited with code %d after the run ended, want 0", s, code)
		}
	}

	all := attempts(t, ro, runID)
	for _, a := range all {
		t.Logf("round %d attempt %d: %s in %s, accepted %v %s", a.Round, a.Attempt, a.Status,
			a.Took.Round(time.Millisecond), a.Accepted, a.Reason)
		if a.Status != "committed" {
			t.Errorf("round %d attempt %d %s: %s; no attempt should fail", a.Round, a.Attempt, a.Status, a.Reason)
		}
	}
	got := committed(t, ro, runID)
	if len(got) != rounds {
		t.Errorf("%d committed rounds, want %d", len(got), rounds)
	}
	for r, want := range map[int][]string{1: sites, 2: sites, 3: stayers} {
		if acc := accepted(got[r]); !slices.Equal(acc, want) {
			t.Errorf("round %d accepted %v, want %v (participants %+v)", r, acc, want, got[r])
		}
	}
	checkModels(t, listModels(t, db, runID), runID, rounds)
	hashes := modelHashes(t, ro, runID)
	for v := 1; v <= rounds; v++ {
		if hashes[v] == hashes[v-1] {
			t.Errorf("model version %d equals version %d: the round changed nothing", v, v-1)
		}
	}

	// Every evaluation is a secure sum too, decrypted with the same dropout
	// handling; a failed one is only logged, so check its metrics exist.
	for r := 1; r <= rounds; r++ {
		var acc sql.NullFloat64
		err := ro.QueryRow(`SELECT m.value FROM round_metrics m JOIN rounds r USING (run_id, round, attempt)
			WHERE m.run_id = ? AND m.round = ? AND r.status = 'committed' AND m.name = 'eval_accuracy'`, runID, r).Scan(&acc)
		if err != nil || !acc.Valid || acc.Float64 <= 0 || acc.Float64 > 1 {
			t.Errorf("round %d: eval_accuracy %v (%v), want a value in (0, 1]", r, acc, err)
		}
	}
	if strings.Contains(out, "evaluation failed") {
		t.Errorf("coordinator log reports a failed evaluation")
	}
	if strings.Contains(out, tooFewDecryptors) {
		t.Errorf("coordinator log mentions %q; t=3 of 5 key holders stayed online", tooFewDecryptors)
	}
	// The race the test allows: the first active set of a sum may include a
	// leaver not yet seen gone; the coordinator then retries with another set.
	retried := strings.Count(out, "decryptor did not answer")
	t.Logf("decryptors that did not answer (first active set included a leaver): %d", retried)
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "decryptor did not answer") {
			t.Logf("  %s", l)
		}
	}
}

// TestSecureTooFewDecryptorsFailsCleanly: three key holders, t = 3. One site
// leaves right after its round-1 upload. No round can be decrypted any more:
// round 1 fails with ErrTooFewDecryptors instead of waiting, and the run ends
// as on_failure says.
func TestSecureTooFewDecryptorsFailsCleanly(t *testing.T) {
	skipShort(t)
	for _, tc := range []struct {
		onFailure  string
		maxRetries int
		// the failed attempts of round 1 and what the run's error starts with
		attempts int
		runErr   string
	}{
		{"stop", 0, 1, "coordinator: " + tooFewDecryptors},
		{"retry", 1, 2, "coordinator: round 1 failed after 2 attempts: coordinator: " + tooFewDecryptors},
	} {
		t.Run(tc.onFailure, func(t *testing.T) {
			const leaver = "site-c"
			runID := "secure-too-few-" + tc.onFailure
			began := time.Now()
			dir := t.TempDir()
			p := newPKI(t, filepath.Join(dir, "pki"), threeSites...)
			db := filepath.Join(dir, "coordinator.db")
			// min_clients 2 < t = 3: the fit phase can succeed with the two
			// sites left, only decryption cannot. max(t, min_clients) = 3, so
			// the key ceremony waits for all three sites and --run is safe.
			run := writeRunConfig(t, dir, secureRun(runID, 3, 2, 3, tc.onFailure, tc.maxRetries))
			c := startCoordinator(t, p, db, run, "--exit-when-done")
			procs := map[string]*proc{}
			for i, s := range threeSites {
				extra := []string{"--exit-when-done"}
				if s == leaver {
					extra = append(extra, "--exit-after-fit", "1")
				}
				procs[s] = startSite(t, p, s, c.addr, fmt.Sprintf("%d/%d", i+1, len(threeSites)), extra...)
			}

			// The leaver's exit is the fault; the run must end soon after.
			if code := procs[leaver].wait(t, 30*time.Second); code != 0 {
				t.Fatalf("%s exited with code %d, want 0 (fault injection)", leaver, code)
			}
			left := time.Now()
			code := c.wait(t, 20*time.Second)
			ended := time.Now()
			t.Logf("coordinator exited with code %d %s after %s left (%s since the test began)",
				code, ended.Sub(left).Round(time.Millisecond), leaver, ended.Sub(began).Round(time.Millisecond))
			if code == 0 {
				t.Errorf("coordinator exited 0 after a failed run, want an error code")
			}
			out := c.out.String()
			if !strings.Contains(out, "members=3") {
				t.Errorf("coordinator did not log a key ceremony with 3 members")
			}
			if !strings.Contains(lastLine(out), tooFewDecryptors) {
				t.Errorf("coordinator's last line does not report %q: %s", tooFewDecryptors, lastLine(out))
			}
			for _, s := range threeSites {
				if s == leaver {
					continue
				}
				if code := procs[s].wait(t, 20*time.Second); code != 0 {
					t.Errorf("%s exited with code %d after the run ended, want 0", s, code)
				}
			}

			ro := openRO(t, db)
			var state, msg string
			if err := ro.QueryRow(`SELECT state, error FROM runs WHERE id = ?`, runID).Scan(&state, &msg); err != nil {
				t.Fatal(err)
			}
			t.Logf("run %s: state %s, error %q", runID, state, msg)
			if state != "failed" {
				t.Errorf("run %s is %q, want failed", runID, state)
			}
			if !strings.HasPrefix(msg, tc.runErr) || !strings.Contains(msg, "2 of 3 key holders online, t=3") {
				t.Errorf("run error %q, want %q… with \"2 of 3 key holders online, t=3\"", msg, tc.runErr)
			}

			// Round 1 is the one that fails, every attempt of it: the leaver
			// never answers a decrypt request (it exits right after its
			// upload), and t = n needs it. Its first attempt summed all three
			// uploads; a retry (fresh secure round) sums the two left.
			all := attempts(t, ro, runID)
			if len(all) != tc.attempts {
				t.Errorf("%d recorded attempts, want %d failed attempts at round 1: %+v", len(all), tc.attempts, all)
			}
			for i, a := range all {
				t.Logf("round %d attempt %d: %s in %s, accepted %v: %s", a.Round, a.Attempt, a.Status,
					a.Took.Round(time.Millisecond), a.Accepted, a.Reason)
				want := threeSites
				if i > 0 {
					want = []string{"site-a", "site-b"}
				}
				if a.Round != 1 || a.Attempt != i || a.Status != "failed" || !strings.Contains(a.Reason, tooFewDecryptors) ||
					!slices.Equal(a.Accepted, want) {
					t.Errorf("attempt %d: round %d attempt %d %s (%s), accepted %v; want round 1 attempt %d failed with %q, accepted %v",
						i, a.Round, a.Attempt, a.Status, a.Reason, a.Accepted, i, tooFewDecryptors, want)
				}
			}
			// Either the coordinator saw the leaver go before choosing
			// decryptors (ErrTooFewDecryptors at once), or its first active
			// set included the leaver, which was dropped (disconnected or
			// dispatch failed) and the next choice found too few.
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "decryptor did not answer") {
					t.Logf("  %s", l)
				}
			}
			// Only the initial model exists.
			checkModels(t, listModels(t, db, runID), runID, 0)

			// It fails at once rather than waiting out a deadline for a site
			// that is not there: at most one round timeout (5 s), which
			// covers a decrypt request sent before the coordinator saw the
			// leaver's stream close.
			if d := ended.Sub(left); d > 5*time.Second+2*time.Second {
				t.Errorf("the run took %s to fail after %s left, want it to fail within the round timeout", d, leaver)
			}
		})
	}
}
