package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, to read the coordinator's file
)

// cohortBin is the cohort binary built once by TestMain.
var cohortBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// Every test skips itself; don't pay for the build.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "cohort-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	cohortBin = filepath.Join(dir, "cohort")
	if err := build(cohortBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building cohort:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go" // the toolchain's location on this project's machines
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, "github.com/cohortfl/cohort/cmd/cohort")
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w\n%s", err, b)
	}
	return nil
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: starts real processes (skipped with -short)")
	}
}

// logBuf collects a process's output; safe for concurrent use.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is one running cohort process. Its stdout and stderr are collected
// together; they are printed if the test fails.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *logBuf
	done chan struct{}
	err  error // of cmd.Wait, valid once done is closed
}

// start runs the cohort binary with args. The process is killed (SIGKILL) when
// the test ends if it is still running.
func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(cohortBin, args...), out: &logBuf{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- output of %s (%s):\n%s", p.name, strings.Join(args, " "), tail(p.out.String(), 6000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to exit and returns its exit code
// (-1 if a signal ended it). It fails the test on timeout.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%s did not exit within %s", p.name, d)
	}
	return exitCode(p.err)
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil && !p.exited() {
		t.Fatalf("kill %s: %v", p.name, err)
	}
	p.wait(t, 10*time.Second)
}

// waitOutput waits up to d for substr to appear in the output. It returns
// false if the process exits or d passes first.
func (p *proc) waitOutput(substr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(p.out.String(), substr) {
			return true
		}
		if p.exited() {
			return strings.Contains(p.out.String(), substr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// runCLI runs a short-lived cohort command and returns its stdout, stderr and
// exit code.
func runCLI(t *testing.T, timeout time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cohortBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("cohort %s: no exit within %s\nstderr:\n%s", strings.Join(args, " "), timeout, e.String())
	}
	return o.String(), e.String(), exitCode(err)
}

// mustCLI is runCLI that fails the test unless the command exits 0.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, 30*time.Second, args...)
	if code != 0 {
		t.Fatalf("cohort %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// pki is a consortium created with `cohort provision`: a CA, the
// coordinator's bundle for 127.0.0.1 and one bundle per site.
type pki struct{ dir string }

func newPKI(t *testing.T, dir string, sites ...string) pki {
	t.Helper()
	p := pki{dir: dir}
	ca := filepath.Join(dir, "ca")
	mustCLI(t, "provision", "init", "--ca-dir", ca, "--out", dir)
	mustCLI(t, "provision", "coordinator", "--ca-dir", ca, "--out", dir, "--host", "127.0.0.1")
	for _, s := range sites {
		mustCLI(t, "provision", "site", s, "--ca-dir", ca, "--out", dir)
	}
	return p
}

func (p pki) ca() string              { return filepath.Join(p.dir, "ca.pem") }
func (p pki) cert(name string) string { return filepath.Join(p.dir, name+".pem") }
func (p pki) key(name string) string  { return filepath.Join(p.dir, name+"-key.pem") }

// tlsFlags are the --cert, --key and --ca flags of name's bundle.
func (p pki) tlsFlags(name string) []string {
	return []string{"--cert", p.cert(name), "--key", p.key(name), "--ca", p.ca()}
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// writeRunConfig writes a coordinator run configuration to dir/run.json and
// returns its path.
func writeRunConfig(t *testing.T, dir string, cfg map[string]any) string {
	t.Helper()
	return writeRunConfigFile(t, dir, "run.json", cfg)
}

// writeRunConfigFile writes a coordinator run configuration to dir/name and
// returns its path.
func writeRunConfigFile(t *testing.T, dir, name string, cfg map[string]any) string {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// coordinator is a `cohort coordinator serve` process.
type coordinator struct {
	*proc
	addr string
	args []string
}

// startCoordinator starts a coordinator on a free port (trying another port if
// the one picked was taken meanwhile) and waits until it listens.
func startCoordinator(t *testing.T, p pki, db, runFile string, extra ...string) *coordinator {
	t.Helper()
	for try := 0; ; try++ {
		c, err := startCoordinatorAt(t, freeAddr(t), p, db, runFile, extra...)
		if err == nil {
			return c
		}
		if try == 2 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
}

// startCoordinatorAt starts a coordinator listening on addr and waits until
// it listens.
func startCoordinatorAt(t *testing.T, addr string, p pki, db, runFile string, extra ...string) (*coordinator, error) {
	t.Helper()
	args := append([]string{"coordinator", "serve", "--listen", addr, "--db", db,
		"--cert", p.cert("coordinator"), "--key", p.key("coordinator"), "--ca", p.ca()}, extra...)
	if runFile != "" {
		args = append(args, "--run", runFile)
	}
	c := &coordinator{proc: start(t, "coordinator "+addr, args...), addr: addr, args: args}
	if !c.waitOutput("coordinator listening", 20*time.Second) {
		if c.exited() {
			return nil, fmt.Errorf("coordinator on %s exited before listening:\n%s", addr, c.out.String())
		}
		c.kill(t)
		return nil, fmt.Errorf("coordinator on %s not listening after 20s:\n%s", addr, c.out.String())
	}
	return c, nil
}

// startSite starts `cohort client run` for site name with shard I/N of hmda.
func startSite(t *testing.T, p pki, name, addr, shard string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"client", "run", "--coordinator", addr, "--dataset", "hmda", "--shard", shard}, p.tlsFlags(name)...)
	args = append(args, extra...)
	return start(t, "site "+name, args...)
}

// openRO opens the coordinator's SQLite file read-only.
func openRO(t *testing.T, path string) *sql.DB {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+abs+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("opening %s read-only: %v", path, err)
	}
	return db
}

// lastCommitted returns the highest committed round of run (0 if none).
func lastCommitted(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, run string) (int, error) {
	var n sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT MAX(round) FROM rounds WHERE run_id = ? AND status = 'committed'`, run).Scan(&n)
	return int(n.Int64), err
}

// waitCommitted polls db until round r of run is committed, or fails the test
// after d. It also fails if stop reports that a process ended early.
func waitCommitted(t *testing.T, db *sql.DB, run string, r int, d time.Duration, watch ...*proc) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		last, err := lastCommitted(context.Background(), db, run)
		if err == nil && last >= r {
			return
		}
		if err != nil && !strings.Contains(err.Error(), "no such table") {
			t.Fatalf("polling %s: %v", run, err)
		}
		for _, p := range watch {
			if p.exited() {
				t.Fatalf("%s exited (code %d) before round %d of %s was committed", p.name, exitCode(p.err), r, run)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("round %d of %s not committed after %s (last committed: %d)", r, run, d, last)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// participant is one site's part in the committed attempt of a round.
type participant struct {
	Client, Status, Reason string
}

// committed returns, for every committed round of run, its participants, and
// fails the test if a round was committed more than once.
func committed(t *testing.T, db *sql.DB, run string) map[int][]participant {
	t.Helper()
	rows, err := db.Query(`SELECT round, COUNT(*) FROM rounds WHERE run_id = ? AND status = 'committed' GROUP BY round`, run)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]participant{}
	for rows.Next() {
		var r, n int
		if err := rows.Scan(&r, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("round %d of %s committed %d times, want once", r, run, n)
		}
		out[r] = nil
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	rows, err = db.Query(`SELECT p.round, p.client, p.status, p.reason FROM round_participants p
		JOIN rounds r ON r.run_id = p.run_id AND r.round = p.round AND r.attempt = p.attempt
		WHERE p.run_id = ? AND r.status = 'committed' ORDER BY p.round, p.client`, run)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r int
		var p participant
		if err := rows.Scan(&r, &p.Client, &p.Status, &p.Reason); err != nil {
			t.Fatal(err)
		}
		out[r] = append(out[r], p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func accepted(ps []participant) []string {
	var out []string
	for _, p := range ps {
		if p.Status == "accepted" {
			out = append(out, p.Client)
		}
	}
	return out
}

func runState(t *testing.T, db *sql.DB, run string) string {
	t.Helper()
	var st, msg string
	if err := db.QueryRow(`SELECT state, error FROM runs WHERE id = ?`, run).Scan(&st, &msg); err != nil {
		t.Fatalf("state of run %s: %v", run, err)
	}
	if msg != "" {
		t.Logf("run %s: state %s, error %q", run, st, msg)
	}
	return st
}

// model is one entry of `cohort models list RUN --output json`.
type model struct {
	RunID     string `json:"run_id"`
	Version   int    `json:"version"`
	Round     int    `json:"round"`
	NumParams int    `json:"num_params"`
	SHA256    string `json:"sha256"`
}

// listModels runs `cohort models list` and decodes its JSON.
func listModels(t *testing.T, db, run string) []model {
	t.Helper()
	out := mustCLI(t, "models", "list", run, "--db", db, "--output", "json")
	var ms []model
	if err := json.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("models list --output json: %v\n%s", err, out)
	}
	return ms
}

// checkModels checks that run has exactly model versions 0..n, version v made
// in round v, all of the same size.
func checkModels(t *testing.T, ms []model, run string, n int) {
	t.Helper()
	if len(ms) != n+1 {
		t.Errorf("models list %s: %d versions, want %d (0..%d)", run, len(ms), n+1, n)
	}
	for i, m := range ms {
		if m.RunID != run || m.Version != i || m.Round != i || m.NumParams <= 0 || len(m.SHA256) != 64 {
			t.Errorf("models list %s: entry %d = %+v, want run %s, version %d, round %d, a size and a SHA-256", run, i, m, run, i, i)
		}
		if i > 0 && m.NumParams != ms[0].NumParams {
			t.Errorf("version %d has %d parameters, version 0 has %d", i, m.NumParams, ms[0].NumParams)
		}
	}
}
