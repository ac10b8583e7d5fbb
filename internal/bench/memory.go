package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
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

// MemoryTarget is the coordinator's memory budget for one run: at most this
// many bytes of resident memory per byte of model, plus a constant that does
// not depend on the model (the runtime, gRPC, SQLite, and each connected
// site's TLS and HTTP/2 state). With MemoryConfig.Scaling it is checked
// against the growth per byte of model across three model sizes; without,
// against the stricter peak above an idle coordinator with no site
// connected, in model sizes.
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
	// Scaling also measures the same run at half and twice the parameters
	// and with a tenth of the clients, to separate what grows with the model
	// from what grows with the number of sites (MemoryResult.Scaling).
	Scaling bool
}

// MemoryPoint is one measured run: its size and its peak RSS against that
// of its own idle coordinator.
type MemoryPoint struct {
	Params  int   `json:"params"`
	Clients int   `json:"clients"`
	PeakRSS int64 `json:"peak_rss_bytes"`
	IdleRSS int64 `json:"idle_rss_bytes"`
}

// above is the run's memory above its idle coordinator.
func (p MemoryPoint) above() float64 { return float64(p.PeakRSS - p.IdleRSS) }

// MemoryScaling is how the coordinator's peak RSS moves with the model's
// size and with the number of clients.
type MemoryScaling struct {
	// Points are the runs at half, once and twice the parameters with the
	// configured clients, then the run with FewClients.
	Points []MemoryPoint `json:"points"`
	// MarginalRatio is the least-squares slope of (peak − idle) against
	// the model's bytes over the three model sizes: the k of a
	// "k × model + constant" bound. ConstantBytes is the fit's intercept
	// (what does not grow with the model: connections, buffers), and
	// MaxResidualBytes the largest distance of a point from the line, a
	// measure of how well that form describes the runs.
	MarginalRatio    float64 `json:"marginal_ratio"`
	ConstantBytes    float64 `json:"constant_bytes"`
	MaxResidualBytes float64 `json:"max_residual_bytes"`
	// PerClientBytes is the growth of the run's memory per client between
	// FewClients and Clients. Streaming aggregation keeps it far below a
	// model's size.
	FewClients     int     `json:"few_clients"`
	PerClientBytes float64 `json:"per_client_bytes"`
}

// fitLine returns the least-squares line through (xs[i], ys[i]) and the
// largest absolute residual. It needs two distinct xs.
func fitLine(xs, ys []float64) (slope, intercept, maxResid float64) {
	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx += xs[i] / n
		my += ys[i] / n
	}
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	slope = sxy / sxx
	intercept = my - slope*mx
	for i := range xs {
		maxResid = max(maxResid, math.Abs(ys[i]-(intercept+slope*xs[i])))
	}
	return slope, intercept, maxResid
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
	// with no run and no site connected (the baseline: runtime, gRPC,
	// SQLite, TLS).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	IdleRSSBytes int64 `json:"idle_rss_bytes"`
	// Ratio is (PeakRSSBytes − IdleRSSBytes) / ModelBytes. It counts the
	// sites' connections against the model, since the idle coordinator has
	// none.
	Ratio  float64 `json:"ratio"`
	Target float64 `json:"target_ratio"`
	// MeetsTarget compares Scaling.MarginalRatio with Target when Scaling
	// was measured, and Ratio otherwise; TargetBasis says which.
	MeetsTarget bool   `json:"meets_target"`
	TargetBasis string `json:"target_basis"`
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
	point := func(r MemoryResult) MemoryPoint {
		return MemoryPoint{Params: r.Params, Clients: r.Clients, PeakRSS: r.PeakRSSBytes, IdleRSS: r.IdleRSSBytes}
	}
	sizes := []MemoryConfig{c, c, c, c}
	sizes[0].Params, sizes[2].Params, sizes[3].Clients = max(2, c.Params/2), 2*c.Params, max(1, c.Clients/10)
	s := &MemoryScaling{FewClients: sizes[3].Clients}
	for i, sc := range sizes {
		r := out
		if i != 1 {
			if r, err = measureMemory(ctx, sc); err != nil {
				return out, fmt.Errorf("bench: memory at %d parameters and %d clients: %w", sc.Params, sc.Clients, err)
			}
		}
		s.Points = append(s.Points, point(r))
	}
	var xs, ys []float64
	for _, p := range s.Points[:3] {
		xs, ys = append(xs, 8*float64(p.Params)), append(ys, p.above())
	}
	s.MarginalRatio, s.ConstantBytes, s.MaxResidualBytes = fitLine(xs, ys)
	if c.Clients > s.FewClients {
		s.PerClientBytes = (s.Points[1].above() - s.Points[3].above()) / float64(c.Clients-s.FewClients)
	}
	out.Scaling = s
	out.MeetsTarget, out.TargetBasis = s.MarginalRatio <= MemoryTarget, "growth per byte of model"
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
	out.MeetsTarget, out.TargetBasis = out.Ratio <= MemoryTarget, "peak above idle"
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
