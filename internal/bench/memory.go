package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MemoryTarget is the coordinator's memory budget for one run, in model sizes
// above an idle coordinator.
const MemoryTarget = 3

// A Launcher returns the command that runs `cohort coordinator serve` with
// args (its flags only). The cohort binary re-executes itself (see
// SelfLauncher); a test binary re-executes itself with a marker its TestMain
// recognises.
type Launcher func(ctx context.Context, args []string) *exec.Cmd

// SelfLauncher returns a Launcher that runs this executable with prefix
// followed by the flags, e.g. SelfLauncher("coordinator", "serve") in the
// cohort binary.
func SelfLauncher(prefix ...string) (Launcher, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: locating the cohort executable: %w", err)
	}
	return func(ctx context.Context, args []string) *exec.Cmd {
		return exec.CommandContext(ctx, exe, append(append([]string(nil), prefix...), args...)...)
	}, nil
}

// MemoryConfig describes the coordinator memory measurement: the coordinator
// runs as a child process (so the sites' memory does not count) and Clients
// sites in this process run client.Run with a Trainer that returns at once.
type MemoryConfig struct {
	Clients int
	Params  int // model size: a logreg with Params−1 features
	Rounds  int
	// Launch starts the coordinator child; required.
	Launch Launcher
	// Scaling also measures the same run with twice the parameters and with
	// a tenth of the clients, to separate what grows with the model from
	// what grows with the number of sites (MemoryResult.Scaling).
	Scaling bool
}

// MemoryScaling is how the coordinator's peak RSS moves with the model's
// size and with the number of clients, each measured against its own idle
// coordinator.
type MemoryScaling struct {
	DoubleParams        int   `json:"double_params"`
	DoubleParamsPeakRSS int64 `json:"double_params_peak_rss_bytes"`
	DoubleParamsIdleRSS int64 `json:"double_params_idle_rss_bytes"`
	FewClients          int   `json:"few_clients"`
	FewClientsPeakRSS   int64 `json:"few_clients_peak_rss_bytes"`
	FewClientsIdleRSS   int64 `json:"few_clients_idle_rss_bytes"`
	// MarginalRatio is the growth of the run's memory (peak − idle) per
	// byte of model between Params and DoubleParams: the slope that a
	// "k × model + constant" bound is about, without the constant.
	MarginalRatio float64 `json:"marginal_ratio"`
	// PerClientBytes is the growth of the run's memory per client between
	// FewClients and Clients. Streaming aggregation keeps it far below a
	// model's size.
	PerClientBytes float64 `json:"per_client_bytes"`
}

// MemoryResult is the outcome of MeasureMemory. Peak RSS is the child's VmHWM
// (sampled every hwmInterval until it exits; the high-water mark only grows,
// so only growth in the child's last moments could be missed); the heap
// figures come from its GODEBUG=gctrace=1 lines, which have a resolution of
// 1 MiB.
type MemoryResult struct {
	Clients    int   `json:"clients"`
	Params     int   `json:"params"`
	Rounds     int   `json:"rounds"`
	ModelBytes int64 `json:"model_bytes"` // 8 bytes per parameter
	// PeakRSSBytes is the high-water mark of the coordinator's resident set
	// during the run; IdleRSSBytes that of a coordinator started the same way
	// with no run (the constant: runtime, gRPC, SQLite, TLS).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	IdleRSSBytes int64 `json:"idle_rss_bytes"`
	// Ratio is (PeakRSSBytes − IdleRSSBytes) / ModelBytes.
	Ratio       float64 `json:"ratio"`
	Target      float64 `json:"target_ratio"`
	MeetsTarget bool    `json:"meets_target"`
	// PeakHeapBytes is the largest heap at the start of a GC cycle;
	// MaxLiveHeapBytes the largest heap marked live by a cycle.
	PeakHeapBytes    int64   `json:"peak_heap_bytes"`
	MaxLiveHeapBytes int64   `json:"max_live_heap_bytes"`
	GCCycles         int     `json:"gc_cycles"`
	Seconds          float64 `json:"seconds"` // wall time of the measured run
	// Scaling is set when MemoryConfig.Scaling was.
	Scaling *MemoryScaling `json:"scaling,omitempty"`
}

func (c MemoryConfig) validate() error {
	switch {
	case c.Clients < 1 || c.Params < 2 || c.Rounds < 1:
		return fmt.Errorf("bench: memory needs at least 1 client, 2 parameters and 1 round, got %d, %d and %d", c.Clients, c.Params, c.Rounds)
	case c.Launch == nil:
		return errors.New("bench: memory needs a Launcher for the coordinator process")
	}
	return nil
}

// MeasureMemory measures the peak resident memory of a coordinator child
// process driving a run, less that of an idle coordinator, in model sizes;
// with c.Scaling, also at twice the parameters and a tenth of the clients.
func MeasureMemory(ctx context.Context, c MemoryConfig) (MemoryResult, error) {
	if err := c.validate(); err != nil {
		return MemoryResult{}, err
	}
	out, err := measureMemory(ctx, c)
	if err != nil || !c.Scaling {
		return out, err
	}
	big, few := c, c
	big.Params, few.Clients = 2*c.Params, max(1, c.Clients/10)
	rb, err := measureMemory(ctx, big)
	if err != nil {
		return out, fmt.Errorf("bench: memory at %d parameters: %w", big.Params, err)
	}
	rf, err := measureMemory(ctx, few)
	if err != nil {
		return out, fmt.Errorf("bench: memory with %d clients: %w", few.Clients, err)
	}
	run := func(r MemoryResult) float64 { return float64(r.PeakRSSBytes - r.IdleRSSBytes) }
	s := &MemoryScaling{
		DoubleParams: big.Params, DoubleParamsPeakRSS: rb.PeakRSSBytes, DoubleParamsIdleRSS: rb.IdleRSSBytes,
		FewClients: few.Clients, FewClientsPeakRSS: rf.PeakRSSBytes, FewClientsIdleRSS: rf.IdleRSSBytes,
		MarginalRatio: (run(rb) - run(out)) / float64(rb.ModelBytes-out.ModelBytes),
	}
	if c.Clients > few.Clients {
		s.PerClientBytes = (run(out) - run(rf)) / float64(c.Clients-few.Clients)
	}
	out.Scaling = s
	return out, nil
}

// measureMemory is one measured run and its idle baseline.
func measureMemory(ctx context.Context, c MemoryConfig) (MemoryResult, error) {
	dir, err := os.MkdirTemp("", "cohort-bench-mem-*")
	if err != nil {
		return MemoryResult{}, err
	}
	defer os.RemoveAll(dir)
	fed, err := newFederation(filepath.Join(dir, "pki"), c.Clients)
	if err != nil {
		return MemoryResult{}, err
	}
	rc := runConfig("bench-memory", c.Clients, c.Params, c.Rounds)
	runFile := filepath.Join(dir, "run.json")
	b, err := json.Marshal(rc)
	if err != nil {
		return MemoryResult{}, err
	}
	if err := os.WriteFile(runFile, b, 0o600); err != nil {
		return MemoryResult{}, err
	}
	out := MemoryResult{Clients: c.Clients, Params: c.Params, Rounds: c.Rounds, ModelBytes: 8 * int64(c.Params), Target: MemoryTarget}

	// The constant: the same coordinator, up and listening, with no run.
	idle, err := startChild(ctx, c.Launch, fed, filepath.Join(dir, "idle.db"))
	if err != nil {
		return MemoryResult{}, err
	}
	if err := idle.waitListening(ctx); err != nil {
		idle.kill()
		return MemoryResult{}, err
	}
	time.Sleep(500 * time.Millisecond)
	idle.sampleHWM()
	if err := idle.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		idle.kill()
		return MemoryResult{}, err
	}
	idleStats, err := idle.wait()
	if err != nil {
		return MemoryResult{}, fmt.Errorf("bench: idle coordinator: %w", err)
	}
	out.IdleRSSBytes = idleStats.peakRSS

	began := time.Now()
	child, err := startChild(ctx, c.Launch, fed, filepath.Join(dir, "run.db"), "--run", runFile, "--exit-when-done")
	if err != nil {
		return MemoryResult{}, err
	}
	if err := child.waitListening(ctx); err != nil {
		child.kill()
		return MemoryResult{}, err
	}
	sctx, cancel := context.WithCancel(ctx)
	waitSites := runSites(sctx, fed, child.addr)
	stats, err := child.wait()
	cancel()
	waitSites()
	if err != nil {
		return MemoryResult{}, fmt.Errorf("bench: coordinator: %w", err)
	}
	out.Seconds = time.Since(began).Seconds()
	out.PeakRSSBytes, out.PeakHeapBytes, out.MaxLiveHeapBytes, out.GCCycles = stats.peakRSS, stats.peakHeap, stats.maxLive, stats.cycles
	out.Ratio = float64(out.PeakRSSBytes-out.IdleRSSBytes) / float64(out.ModelBytes)
	out.MeetsTarget = out.Ratio <= MemoryTarget
	return out, nil
}

// child is a coordinator process.
type child struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}

	mu     sync.Mutex
	gc     gcStats
	tail   []string // last log lines other than gctrace
	hwm    int64    // largest VmHWM read
	hwmErr error    // last failure to read it
	errRun error
}

type childStats struct {
	peakRSS int64
	gcStats
}

// hwmInterval is how often a child's VmHWM is sampled.
const hwmInterval = 10 * time.Millisecond

// startChild launches `coordinator serve` on a free loopback port with the
// federation's server bundle and a fresh database, with gctrace on.
func startChild(ctx context.Context, launch Launcher, fed *federation, db string, extra ...string) (*child, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	caF, certF, keyF := fed.serverFiles()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := append([]string{"--listen", addr, "--db", db, "--cert", certF, "--key", keyF, "--ca", caF,
		"--log-level", "warn"}, extra...)
	cmd := launch(ctx, args)
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, "GODEBUG="+withGCTrace(os.Getenv("GODEBUG")))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting the coordinator: %w", err)
	}
	ch := &child{cmd: cmd, addr: addr, exited: make(chan struct{})}
	go ch.scan(stderr)
	go ch.watchHWM()
	return ch, nil
}

func withGCTrace(godebug string) string {
	if godebug == "" {
		return "gctrace=1"
	}
	return godebug + ",gctrace=1"
}

// scan reads the child's stderr until it closes, then reaps the child.
func (c *child) scan(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		c.mu.Lock()
		if !c.gc.add(line) {
			c.tail = append(c.tail, line)
			if len(c.tail) > 20 {
				c.tail = c.tail[1:]
			}
		}
		c.mu.Unlock()
	}
	err := c.cmd.Wait()
	c.mu.Lock()
	c.errRun = err
	c.mu.Unlock()
	close(c.exited)
}

// wait waits for the child to exit and returns its statistics.
func (c *child) wait() (childStats, error) {
	<-c.exited
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errRun != nil {
		return childStats{}, fmt.Errorf("%w; last output:\n%s", c.errRun, strings.Join(c.tail, "\n"))
	}
	if c.hwm == 0 {
		return childStats{}, fmt.Errorf("bench: no peak memory read for the coordinator: %v", c.hwmErr)
	}
	return childStats{peakRSS: c.hwm, gcStats: c.gc}, nil
}

// watchHWM samples the child's VmHWM until it exits.
func (c *child) watchHWM() {
	t := time.NewTicker(hwmInterval)
	defer t.Stop()
	for {
		c.sampleHWM()
		select {
		case <-c.exited:
			return
		case <-t.C:
		}
	}
}

func (c *child) sampleHWM() {
	v, err := readHWM(c.cmd.Process.Pid)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.hwmErr = err // the process may be exiting; earlier samples stand
		return
	}
	c.hwm = max(c.hwm, v)
}

func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// waitListening waits until the child accepts TCP connections.
func (c *child) waitListening(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", c.addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-c.exited:
			c.mu.Lock()
			defer c.mu.Unlock()
			return fmt.Errorf("bench: the coordinator exited before listening (%v); last output:\n%s", c.errRun, strings.Join(c.tail, "\n"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the coordinator is not listening on %s after 30s", c.addr)
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// gcStats accumulates GODEBUG=gctrace=1 lines.
type gcStats struct {
	peakHeap, maxLive int64
	cycles            int
}

// gcLine matches the heap sizes of a gctrace line: "gc 7 @0.5s 1%: …, 12->14->6 MB, …".
var gcLine = regexp.MustCompile(`^gc \d+ @.* (\d+)->(\d+)->(\d+) MB`)

// add folds line into s and reports whether it was a gctrace line.
func (s *gcStats) add(line string) bool {
	m := gcLine.FindStringSubmatch(line)
	if m == nil {
		return false
	}
	start, _ := strconv.ParseInt(m[1], 10, 64)
	live, _ := strconv.ParseInt(m[3], 10, 64)
	s.peakHeap = max(s.peakHeap, start<<20)
	s.maxLive = max(s.maxLive, live<<20)
	s.cycles++
	return true
}
