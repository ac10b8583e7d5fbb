package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// crashEnv names the database file the helper process writes to. The helper
// runs only when it is set.
const crashEnv = "COHORT_STORE_CRASH_DB"

const (
	crashRun    = "crash"
	crashParams = 32 << 10 // 256 KiB per model version, so kills often land mid-commit
)

func crashModel(v int) []float64 { return params(v, crashParams) }

// TestHelperProcess is not a real test: TestCrashRecovery re-executes the
// test binary to run it as a child that commits rounds until it is killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestCrashRecovery")
	}
	if err := crashWriter(path); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// crashWriter resumes the run from its last committed round and commits
// rounds in a loop, printing "committed N" once CommitRound has returned.
// Every third round first records a failed attempt, so that a kill can also
// land between a failure and its retry.
func crashWriter(path string) error {
	ctx := context.Background()
	d, err := Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	last, err := d.LastCommittedRound(ctx, crashRun)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute) // never outlive a dead parent for long
	for r := last + 1; time.Now().Before(deadline); r++ {
		attempt, err := d.NextAttempt(ctx, crashRun, r)
		if err != nil {
			return err
		}
		if r%3 == 0 && attempt == 0 {
			if err := d.RecordFailedRound(ctx, RoundRecord{RunID: crashRun, Round: r, Reason: "simulated timeout"}); err != nil {
				return err
			}
			attempt = 1
		}
		rec := roundRec(crashRun, r, attempt)
		rec.Participants = rec.Participants[:2]
		if err := d.CommitRound(ctx, rec, ModelVersion{Version: r, Round: r, Params: crashModel(r)}); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(os.Stdout, "committed %d\n", r); err != nil {
			return err
		}
	}
	return nil
}

// ackWriter collects the child's stdout and tracks the highest round it
// acknowledged as committed.
type ackWriter struct {
	mu    sync.Mutex
	buf   []byte
	max   int
	first chan struct{}
	once  sync.Once
}

func (w *ackWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if s, ok := strings.CutPrefix(line, "committed "); ok {
			if r, err := strconv.Atoi(s); err == nil && r > w.max {
				w.max = r
				w.once.Do(func() { close(w.first) })
			}
		}
	}
	return len(p), nil
}

func (w *ackWriter) acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max
}

// TestCrashRecovery SIGKILLs a process that is committing rounds, at a
// random moment, several times over the same file, and checks after each
// kill that the file reopens in a consistent state that keeps every
// acknowledged commit.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CreateRun(context.Background(), Run{ID: crashRun}, ModelVersion{Params: crashModel(0)}); err != nil {
		t.Fatal(err)
	}
	d.Close()

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill-delay seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	acked, prevLast := 0, 0
	const kills = 8
	for i := range kills {
		out := &ackWriter{first: make(chan struct{})}
		var stderr bytes.Buffer
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.timeout=5m")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		cmd.Stdout = out
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("start helper: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()

		// Wait until the child is in its commit loop, then kill it after a
		// random delay.
		select {
		case <-out.first:
		case err := <-exited:
			t.Fatalf("kill %d: helper exited before committing: %v\n%s", i, err, stderr.String())
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			<-exited
			t.Fatalf("kill %d: helper committed nothing in 2 minutes\n%s", i, stderr.String())
		}
		delay := time.Duration(rng.Int64N(int64(300 * time.Millisecond)))
		time.Sleep(delay)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
			t.Fatalf("kill %d: %v", i, err)
		}
		err := <-exited
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.Exited() {
			t.Fatalf("kill %d: helper was not killed by a signal: %v\n%s", i, err, stderr.String())
		}
		acked = max(acked, out.acked())

		last := checkCrashInvariants(t, path, acked)
		t.Logf("kill %d after %v: %d rounds acknowledged, %d committed", i, delay, acked, last)
		if last < prevLast {
			t.Fatalf("kill %d: LastCommittedRound went from %d back to %d", i, prevLast, last)
		}
		prevLast = last
	}
}

// checkCrashInvariants reopens the file and asserts the recovery
// guarantees. It returns LastCommittedRound.
func checkCrashInvariants(t *testing.T, path string, acked int) int {
	t.Helper()
	ctx := context.Background()
	d, err := Open(path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer d.Close()
	db := d.SQL()

	var integrity string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check = %q, %v", integrity, err)
	}
	rows, err := db.Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Errorf("foreign_key_check reports violations")
	}
	rows.Close()

	last, err := d.LastCommittedRound(ctx, crashRun)
	if err != nil {
		t.Fatalf("LastCommittedRound: %v", err)
	}
	if last < acked {
		t.Fatalf("LastCommittedRound = %d, but round %d was acknowledged before the kill", last, acked)
	}

	// Model versions 0..last exist, verify, hold the right parameters, and
	// no version exists beyond last (no model without its round).
	for v := 0; v <= last; v++ {
		mv, err := d.GetModel(ctx, crashRun, v)
		if err != nil {
			t.Fatalf("GetModel(%d) with last=%d: %v", v, last, err)
		}
		if mv.NumParams != crashParams || mv.Params[0] != crashModel(v)[0] || mv.Params[crashParams-1] != crashModel(v)[crashParams-1] {
			t.Fatalf("model version %d has the wrong parameters", v)
		}
	}
	if got := ints(t, db, `SELECT version FROM model_versions WHERE run_id = ? ORDER BY version`, crashRun); !isRange(got, 0, last) {
		t.Fatalf("model versions %v, want 0..%d", got, last)
	}
	// Rounds 1..last are committed, exactly once each.
	if got := ints(t, db, `SELECT round FROM rounds WHERE run_id = ? AND status = 'committed' ORDER BY round`, crashRun); !isRange(got, 1, last) {
		t.Fatalf("committed rounds %v, want 1..%d", got, last)
	}
	// Failed attempts only for rounds up to the next one.
	var badFailed int
	if err := db.QueryRow(`SELECT COUNT(*) FROM rounds WHERE status = 'failed' AND round > ?`, last+1).Scan(&badFailed); err != nil || badFailed != 0 {
		t.Fatalf("%d failed attempts beyond round %d (err %v)", badFailed, last+1, err)
	}
	// Participants and metrics only for committed rounds, and all of them.
	for _, c := range []struct {
		table string
		per   int
	}{{"round_participants", 2}, {"round_metrics", 2}} {
		var orphans, total int
		q := `SELECT COUNT(*) FROM ` + c.table + ` x WHERE NOT EXISTS (SELECT 1 FROM rounds r WHERE r.run_id = x.run_id
			AND r.round = x.round AND r.attempt = x.attempt AND r.status = 'committed')`
		if err := db.QueryRow(q).Scan(&orphans); err != nil || orphans != 0 {
			t.Fatalf("%s: %d rows outside committed rounds (err %v)", c.table, orphans, err)
		}
		if err := db.QueryRow(`SELECT COUNT(*) FROM ` + c.table).Scan(&total); err != nil || total != c.per*last {
			t.Fatalf("%s: %d rows, want %d for %d committed rounds (err %v)", c.table, total, c.per*last, last, err)
		}
	}
	recs, err := d.Rounds(ctx, crashRun)
	if err != nil {
		t.Fatalf("Rounds: %v", err)
	}
	committed := 0
	for _, r := range recs {
		if r.Status == RoundCommitted {
			committed++
		}
	}
	if committed != last {
		t.Fatalf("Rounds has %d committed records, want %d", committed, last)
	}
	return last
}

func ints(t *testing.T, db *sql.DB, query string, args ...any) []int {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func isRange(got []int, from, to int) bool {
	if len(got) != to-from+1 {
		return false
	}
	for i, v := range got {
		if v != from+i {
			return false
		}
	}
	return true
}
