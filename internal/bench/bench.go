package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/cohortfl/cohort/audit"
)

// Measurement names, for Config.Only.
const (
	Sim    = "sim"
	GRPC   = "grpc"
	Memory = "memory"
	Secure = "secure"
	Shap   = "shap"
	Audit  = "audit"
	// AuditLog is the hash-chained audit log (package audit), not the
	// fairness audit.
	AuditLog = "auditlog"
)

// Measurements lists every measurement in the order Run performs them.
var Measurements = []string{Sim, GRPC, Memory, Secure, Shap, Audit, AuditLog}

// Config selects and sizes the measurements. Start from DefaultConfig or
// QuickConfig.
type Config struct {
	Quick  bool // informational: the configuration is QuickConfig's
	Sim    SimConfig
	GRPC   GRPCConfig
	Memory MemoryConfig
	Secure SecureConfig
	Shap   ShapConfig
	Audit  AuditConfig
	// AuditLogEvents is the size of the audit-log measurement.
	AuditLogEvents int
	// Only restricts Run to these measurements (nil: all).
	Only []string
	// Progress receives one line per step (nil: discarded).
	Progress io.Writer
}

// DefaultConfig is what `cohort bench` runs: the sizes of the performance
// targets (1,000 simulated clients; 10 gRPC clients and 100 clients for
// memory, on a 1M-parameter model; 10 sites with t = 6 for secure
// aggregation of a 1M-parameter update; KernelSHAP on an MLP with 14
// features and 100 background rows, exact against 2,048 sampled coalitions).
// launch starts the coordinator child of the memory measurement.
func DefaultConfig(launch Launcher) Config {
	return Config{
		Sim:    SimConfig{Dataset: "fertility", Clients: 1000, Rounds: 10, Seed: 1},
		GRPC:   GRPCConfig{Clients: 10, Params: 1_000_000, Rounds: 5},
		Memory: MemoryConfig{Clients: 100, Params: 1_000_000, Rounds: 3, Launch: launch, Scaling: true},
		Secure: SecureConfig{Sites: 10, Threshold: 6, Params: 1_000_000, Rounds: 1},
		Shap: ShapConfig{Dataset: "hmda", Features: 14, Hidden: 16, Background: 100, Rows: 8, Repeats: 4,
			Samples: 2048, Batches: 16, Seed: 1},
		Audit:          AuditConfig{Dataset: "hmda", Protected: []string{"afam", "single"}, Clients: 10, Rounds: 6, Explain: 100, Seed: 1},
		AuditLogEvents: 100_000,
	}
}

// QuickConfig is a smaller, faster variant for tests and smoke checks
// (`cohort bench --quick`): the same measurements at a fraction of the size.
// Its figures are noisier and not comparable with the targets.
func QuickConfig(launch Launcher) Config {
	return Config{
		Quick:  true,
		Sim:    SimConfig{Dataset: "fertility", Clients: 200, Rounds: 3, Seed: 1},
		GRPC:   GRPCConfig{Clients: 4, Params: 100_000, Rounds: 3},
		Memory: MemoryConfig{Clients: 10, Params: 1_000_000, Rounds: 1, Launch: launch, Scaling: true},
		Secure: SecureConfig{Sites: 4, Threshold: 3, Params: 100_000, Rounds: 1},
		Shap: ShapConfig{Dataset: "hmda", Features: 14, Hidden: 16, Background: 20, Rows: 2, Repeats: 2,
			Samples: 2048, Batches: 16, Seed: 1},
		Audit:          AuditConfig{Dataset: "hmda", Protected: []string{"afam"}, Clients: 4, Rounds: 3, Explain: 20, Seed: 1},
		AuditLogEvents: 2_000,
	}
}

// Validate reports every problem with the measurements c selects.
func (c Config) Validate() error {
	var errs []error
	for _, m := range c.Only {
		if !slices.Contains(Measurements, m) {
			errs = append(errs, fmt.Errorf("bench: unknown measurement %q (want %s)", m, strings.Join(Measurements, ", ")))
		}
	}
	if c.runs(Sim) {
		errs = append(errs, c.Sim.validate())
	}
	if c.runs(GRPC) {
		errs = append(errs, c.GRPC.validate())
	}
	if c.runs(Memory) {
		errs = append(errs, c.Memory.validate())
	}
	if c.runs(Secure) {
		errs = append(errs, c.Secure.validate())
	}
	if c.runs(Shap) {
		errs = append(errs, c.Shap.validate())
	}
	if c.runs(Audit) {
		errs = append(errs, c.Audit.validate())
	}
	if c.runs(AuditLog) && c.AuditLogEvents < 1 {
		errs = append(errs, fmt.Errorf("bench: auditlog needs at least 1 event (got %d)", c.AuditLogEvents))
	}
	return errors.Join(errs...)
}

func (c Config) runs(m string) bool { return len(c.Only) == 0 || slices.Contains(c.Only, m) }

// Report is the outcome of Run. Its JSON form is the contract of
// `cohort bench --output json`; a measurement that was not run is absent.
type Report struct {
	Quick      bool               `json:"quick"`
	GoVersion  string             `json:"go_version"`
	GOOS       string             `json:"goos"`
	GOARCH     string             `json:"goarch"`
	GOMAXPROCS int                `json:"gomaxprocs"`
	Sim        *SimResult         `json:"sim,omitempty"`
	GRPC       *GRPCResult        `json:"grpc,omitempty"`
	Memory     *MemoryResult      `json:"memory,omitempty"`
	Secure     *SecureResult      `json:"secure,omitempty"`
	Shap       *ShapResult        `json:"shap,omitempty"`
	Audit      *AuditResult       `json:"audit,omitempty"`
	AuditLog   *audit.BenchResult `json:"auditlog,omitempty"`
	Seconds    float64            `json:"seconds"`
}

// Run performs the selected measurements one after the other (they would
// disturb each other if run together) and reports each against its baseline.
func Run(ctx context.Context, c Config) (Report, error) {
	if err := c.Validate(); err != nil {
		return Report{}, err
	}
	logf := func(format string, a ...any) {
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "bench: "+format+"\n", a...)
		}
	}
	began := time.Now()
	rep := Report{Quick: c.Quick, GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if c.runs(Sim) {
		s := c.Sim
		logf("sim: %s, %d clients, %d+%d rounds of FedAvg logreg, in-process", s.simConfig().Dataset, s.Clients, warmupRounds, s.Rounds)
		r, err := MeasureSim(ctx, s)
		if err != nil {
			return rep, err
		}
		logf("sim: %.0f updates/s (naive loop %.0f updates/s)", r.UpdatesPerSec, r.NaiveUpdatesPerSec)
		rep.Sim = &r
	}
	if c.runs(GRPC) {
		g := c.GRPC
		logf("grpc: %d clients, %d parameters, %d+%d rounds over mTLS on loopback", g.Clients, g.Params, warmupRounds, g.Rounds)
		r, err := MeasureGRPC(ctx, g)
		if err != nil {
			return rep, err
		}
		logf("grpc: %.0f MB/s (TLS io.Copy %.0f MB/s)", r.MBPerSec, r.TLSCopyMBPerSec)
		rep.GRPC = &r
	}
	if c.runs(Memory) {
		m := c.Memory
		logf("memory: coordinator child process, %d clients, %d parameters, %d rounds", m.Clients, m.Params, m.Rounds)
		r, err := MeasureMemory(ctx, m)
		if err != nil {
			return rep, err
		}
		logf("memory: peak RSS %.0f MB, idle %.0f MB", float64(r.PeakRSSBytes)/1e6, float64(r.IdleRSSBytes)/1e6)
		rep.Memory = &r
	}
	if c.runs(Secure) {
		s := c.Secure
		logf("secure: %d sites, t=%d, %d parameters: each step in process, then %d+%d rounds over mTLS on loopback, HE and plaintext",
			s.Sites, s.Threshold, s.Params, warmupRounds, s.Rounds)
		r, err := measureSecure(ctx, s, logf)
		if err != nil {
			return rep, err
		}
		rep.Secure = &r
	}
	if c.runs(Shap) {
		s := c.Shap
		_, sampled := s.kernelConfigs()
		logf("shap: mlp with %d features on %s, %d background rows: %d rows exact (2^%d coalitions), then %d× sampled (%d coalitions in pairs, %d batches), one goroutine",
			s.Features, s.dataset(), s.Background, s.Rows, s.Features, s.Repeats, sampled.Samples, sampled.Batches)
		r, err := MeasureShap(ctx, s)
		if err != nil {
			return rep, err
		}
		logf("shap: exact %.2f expl/s, sampled %.1f expl/s; sampled error %.1f%% of mean |φ| (max %.1f%%)",
			r.ExactPerSec, r.SampledPerSec, 100*r.RelMeanError, 100*r.RelMaxError)
		rep.Shap = &r
	}
	if c.runs(Audit) {
		a := c.Audit
		logf("audit: %s, %d sites, %d rounds, protected %v: evaluate phases without and with the federated fairness audit, plaintext and threshold HE",
			a.Dataset, a.Clients, a.Rounds, a.Protected)
		r, err := MeasureAudit(ctx, a)
		if err != nil {
			return rep, err
		}
		for _, row := range r.Rows {
			logf("audit: secure=%s: audit evaluate %.1f ms vs plain %.1f ms (%.2f×); publication audit with explanations %.1f ms (%.2f×)",
				row.Secure, 1e3*row.AuditEvalSeconds, 1e3*row.PlainEvalSeconds, row.Ratio, 1e3*row.PublicationSeconds, row.PublicationRatio)
		}
		rep.Audit = &r
	}
	if c.runs(AuditLog) {
		logf("auditlog: %d events appended in batches (and up to %d one transaction each) to a fresh SQLite file, then verified; against plain inserts into the same table without the chain",
			c.AuditLogEvents, audit.BenchSingleMax)
		dir, err := os.MkdirTemp("", "cohort-bench-auditlog-")
		if err != nil {
			return rep, err
		}
		r, err := audit.Bench(ctx, dir, c.AuditLogEvents)
		os.RemoveAll(dir)
		if err != nil {
			return rep, err
		}
		logf("%s", r)
		rep.AuditLog = &r
	}
	rep.Seconds = time.Since(began).Seconds()
	return rep, nil
}
