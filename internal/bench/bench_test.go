package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/cohortfl/cohort/internal/bench"
	"github.com/cohortfl/cohort/internal/cli"
)

// childEnv marks a re-execution of this test binary as the coordinator child
// of the memory measurement: TestMain then runs `cohort coordinator serve`.
const childEnv = "COHORT_BENCH_TEST_COORDINATOR"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// testLauncher re-executes the test binary as `cohort coordinator serve`.
func testLauncher(ctx context.Context, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"coordinator", "serve"}, args...)...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd
}

func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every measurement at quick sizes (several seconds)")
	}
	cfg := bench.QuickConfig(testLauncher)
	cfg.Progress = t.Output()
	if raceEnabled {
		cfg.Sim.Clients, cfg.Sim.Rounds = 50, 1
		cfg.GRPC.Params = 10_000
		cfg.Memory.Clients, cfg.Memory.Params = 3, 100_000
		cfg.Secure.Sites, cfg.Secure.Threshold, cfg.Secure.Params = 3, 2, 10_000
		cfg.Shap.Features, cfg.Shap.Background = 10, 10
	}
	rep, err := bench.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, g, m, sec, sh, au, al := rep.Sim, rep.GRPC, rep.Memory, rep.Secure, rep.Shap, rep.Audit, rep.AuditLog
	if s == nil || g == nil || m == nil || sec == nil || sh == nil || au == nil || al == nil {
		t.Fatalf("Run(QuickConfig) = %+v; want all seven measurements", rep)
	}
	// Verify reads every entry both append modes wrote.
	if al.Events != cfg.AuditLogEvents || al.Verified != al.Events+al.SingleEvents {
		t.Errorf("auditlog: %d events, %d single, %d verified; want %d batched and verified = batched + single",
			al.Events, al.SingleEvents, al.Verified, cfg.AuditLogEvents)
	}
	// Every fit result of every measured round is accepted: the instant and
	// the model trainers never fail.
	if want := s.Clients * s.Rounds; s.Updates != want {
		t.Errorf("sim updates = %d; want %d clients × %d rounds = %d", s.Updates, s.Clients, s.Rounds, want)
	}
	if want := int64(2 * 8 * g.Params * g.Clients); g.BytesPerRound != want {
		t.Errorf("grpc bytes per round = %d; want 2 × 8 × %d params × %d clients = %d", g.BytesPerRound, g.Params, g.Clients, want)
	}
	for name, v := range map[string]float64{
		"sim updates/s": s.UpdatesPerSec, "sim naive updates/s": s.NaiveUpdatesPerSec, "sim ratio": s.Ratio,
		"grpc MB/s": g.MBPerSec, "grpc TLS MB/s": g.TLSCopyMBPerSec, "grpc ratio": g.Ratio,
	} {
		if !(v > 0) {
			t.Errorf("%s = %v; want > 0", name, v)
		}
	}
	// The coordinator holds at least the global model and the aggregate while
	// a round is open, so the peak must exceed the idle coordinator by more
	// than one model size.
	if m.PeakRSSBytes-m.IdleRSSBytes < m.ModelBytes {
		t.Errorf("memory peak %d − idle %d < model %d bytes; the run cannot have been measured", m.PeakRSSBytes, m.IdleRSSBytes, m.ModelBytes)
	}
	if m.GCCycles == 0 {
		t.Errorf("memory: no gctrace line parsed from the coordinator child")
	}
	// The scaling points are the ones asked for, each run holds at least
	// its model, and the fit describes the points it was fitted to.
	if sc := m.Scaling; sc == nil || len(sc.Points) != 4 {
		t.Errorf("memory: scaling = %+v, want 4 points", sc)
	} else {
		want := []bench.MemoryPoint{{Params: m.Params / 2, Clients: m.Clients}, {Params: m.Params, Clients: m.Clients},
			{Params: 2 * m.Params, Clients: m.Clients}, {Params: m.Params, Clients: max(1, m.Clients/10)}}
		for i, p := range sc.Points {
			if p.Params != want[i].Params || p.Clients != want[i].Clients {
				t.Errorf("memory point %d measured %d params and %d clients; want %d and %d", i, p.Params, p.Clients, want[i].Params, want[i].Clients)
			}
			if p.PeakRSS-p.IdleRSS < 8*int64(p.Params) {
				t.Errorf("memory at %d params: peak %d − idle %d < model %d bytes", p.Params, p.PeakRSS, p.IdleRSS, 8*p.Params)
			}
		}
		// The slope, recomputed here from the raw points by the normal
		// equations (not fitLine's centred sums), decides the verdict.
		var n, sx, sy, sxy, sxx float64
		for _, p := range sc.Points[:3] {
			x, y := 8*float64(p.Params), float64(p.PeakRSS-p.IdleRSS)
			n, sx, sy, sxy, sxx = n+1, sx+x, sy+y, sxy+x*y, sxx+x*x
		}
		k := (n*sxy - sx*sy) / (n*sxx - sx*sx)
		if math.Abs(k-sc.MarginalRatio) > 1e-6*math.Max(1, math.Abs(k)) {
			t.Errorf("memory slope reported %v, the points give %v", sc.MarginalRatio, k)
		}
		if m.TargetBasis != "growth per byte of model" || m.MeetsTarget != (k <= bench.MemoryTarget) {
			t.Errorf("memory verdict %v on %q; the points give slope %.2f against target %d", m.MeetsTarget, m.TargetBasis, k, bench.MemoryTarget)
		}
	}
	checkSecure(t, sec)
	checkShap(t, sh, cfg.Shap)
	checkAudit(t, au)
}

// checkAudit asserts what holds for every audit result: one row per
// transport, positive times, ratios that are the quotients, and the layout
// size of the quick config's one two-level attribute (2 cells × 34 values).
func checkAudit(t *testing.T, a *bench.AuditResult) {
	t.Helper()
	if len(a.Rows) != 2 || a.Rows[0].Secure != "none" || a.Rows[1].Secure != "he" {
		t.Fatalf("audit rows = %+v; want none and he", a.Rows)
	}
	if a.Groups != 2 || a.AuditValues != 2*(4+3*10) {
		t.Errorf("audit: %d cells, %d values; want 2 cells of 34 values", a.Groups, a.AuditValues)
	}
	for _, r := range a.Rows {
		if !(r.PlainEvalSeconds > 0 && r.AuditEvalSeconds > 0 && r.PublicationSeconds > 0) {
			t.Errorf("audit %s: non-positive times %+v", r.Secure, r)
		}
		if math.Abs(r.Ratio-r.AuditEvalSeconds/r.PlainEvalSeconds) > 1e-12*r.Ratio {
			t.Errorf("audit %s: ratio %v is not audit/plain", r.Secure, r.Ratio)
		}
	}
}

// checkShap asserts what holds for every shap result, whatever the sizes.
func checkShap(t *testing.T, r *bench.ShapResult, c bench.ShapConfig) {
	t.Helper()
	if len(r.Features) != c.Features || r.ExactCoalitions != 1<<c.Features {
		t.Errorf("shap: %d features %v, %d exact coalitions; want %d features and 2^%d coalitions",
			len(r.Features), r.Features, r.ExactCoalitions, c.Features, c.Features)
	}
	if r.Rows != c.Rows || r.Repeats != c.Repeats || r.Samples != c.Samples || r.Background != c.Background {
		t.Errorf("shap: result sizes %+v do not echo the config %+v", r, c)
	}
	for name, v := range map[string]float64{
		"exact expl/s": r.ExactPerSec, "sampled expl/s": r.SampledPerSec, "ratio": r.Ratio,
		"mean |φ|": r.MeanAbsPhi, "mean SE": r.MeanStdErr, "train AUC": r.TrainAUC,
	} {
		if !(v > 0) {
			t.Errorf("shap %s = %v; want > 0", name, v)
		}
	}
	if want := r.SampledPerSec / r.ExactPerSec; math.Abs(r.Ratio-want) > 1e-12*want {
		t.Errorf("shap ratio %v; want sampled/exact = %v", r.Ratio, want)
	}
	// Efficiency holds to rounding in both modes.
	if !(r.MaxEfficiencyGap < 1e-9) {
		t.Errorf("shap max efficiency gap %g", r.MaxEfficiencyGap)
	}
	if !(0 <= r.MeanAbsError && r.MeanAbsError <= r.MaxAbsError) || !(r.RelMeanError <= r.RelMaxError) {
		t.Errorf("shap errors: mean %g (%g) and max %g (%g); want 0 ≤ mean ≤ max", r.MeanAbsError, r.RelMeanError, r.MaxAbsError, r.RelMaxError)
	}
	if math.Abs(r.RelMeanError-r.MeanAbsError/r.MeanAbsPhi) > 1e-12 {
		t.Errorf("shap relative mean error %g; want %g / %g", r.RelMeanError, r.MeanAbsError, r.MeanAbsPhi)
	}
	if !(r.WithinTwoSE >= 0 && r.WithinTwoSE <= 1) {
		t.Errorf("shap within 2 SE = %v; want a fraction", r.WithinTwoSE)
	}
}

// TestShap runs the KernelSHAP measurement on 4 hmda features and a small
// background, at a low and a high number of sampled coalitions.
func TestShap(t *testing.T) {
	c := bench.ShapConfig{Dataset: "hmda", Features: 4, Hidden: 4, Background: 5, Rows: 3, Repeats: 2,
		Samples: 128, Batches: 4, Seed: 1}
	few, err := bench.MeasureShap(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	checkShap(t, &few, c)
	if want := []string{"pirat", "hirat", "lvrat", "chist"}; !slices.Equal(few.Features, want) {
		t.Errorf("features %v; want the first four encoded columns of hmda %v", few.Features, want)
	}
	// Sampling is with replacement and coalitions are not deduplicated, so
	// even 128 draws for 14 proper coalitions do not reproduce the exact
	// weights: the error is small but not zero.
	if !(few.MeanAbsError > 0) {
		t.Errorf("sampled error %g with 128 coalitions; want > 0", few.MeanAbsError)
	}

	c.Samples, c.Batches = 16384, 16
	many, err := bench.MeasureShap(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	checkShap(t, &many, c)
	t.Logf("128 coalitions: error %.2e (%.2f%% of mean |φ|), SE %.2e; 16384: error %.2e (%.3f%%), SE %.2e, %.0f%% within 2 SE",
		few.MeanAbsError, 100*few.RelMeanError, few.MeanStdErr, many.MeanAbsError, 100*many.RelMeanError, many.MeanStdErr, 100*many.WithinTwoSE)
	// The same model, background and rows: the exact values agree.
	if many.MeanAbsPhi != few.MeanAbsPhi || many.TrainAUC != few.TrainAUC {
		t.Errorf("mean |φ| %v and %v, AUC %v and %v: the two runs explained different games",
			few.MeanAbsPhi, many.MeanAbsPhi, few.TrainAUC, many.TrainAUC)
	}
	// 128× the coalitions: the error and its estimate shrink about 11×.
	if !(many.MeanAbsError < few.MeanAbsError/4) || !(many.MeanStdErr < few.MeanStdErr/4) {
		t.Errorf("error %.3g → %.3g, SE %.3g → %.3g from 128 to 16384 coalitions; want both to shrink more than 4×",
			few.MeanAbsError, many.MeanAbsError, few.MeanStdErr, many.MeanStdErr)
	}
	// 24 values, each within 2 SE with probability P(|t_15| ≤ 2) ≈ 0.94 if
	// the standard errors are calibrated.
	if e := many.ExpectedWithinTwoSE; !(e > 0.93 && e < 0.94) {
		t.Errorf("expected share within 2 SE for 16 batches = %v; want P(|t_15| ≤ 2) ≈ 0.936", e)
	}
	if many.WithinTwoSE < 0.7 {
		t.Errorf("%.0f%% of sampled values within 2 reported SE; want most", 100*many.WithinTwoSE)
	}

	c.Background = 5000
	if _, err := bench.MeasureShap(context.Background(), c); err == nil {
		t.Errorf("MeasureShap with more background rows than hmda has: no error")
	}
	c.Background, c.Features = 5, 25
	if _, err := bench.MeasureShap(context.Background(), c); err == nil {
		t.Errorf("MeasureShap with 25 features: no error")
	}
}

func checkSecure(t *testing.T, r *bench.SecureResult) {
	t.Helper()
	if r.Dim != r.Params+2 || r.PlaintextBytes != 4*int64(r.Params) {
		t.Errorf("secure dim %d, plaintext %d bytes; want %d values and 4 bytes per parameter", r.Dim, r.PlaintextBytes, r.Params+2)
	}
	// A sealed upload is the ciphertexts (8.02× float32 each) plus a small
	// envelope; padding of the last ciphertext adds at most one more.
	if r.Expansion < 8 || r.UploadBytes < r.PlaintextBytes*8 {
		t.Errorf("secure expansion %.2f× (%d upload bytes); want at least 8× the float32 plaintext", r.Expansion, r.UploadBytes)
	}
	if r.DecryptRequestBytes < int64(r.Sites)*r.UploadBytes*9/10 {
		t.Errorf("secure decrypt request %d bytes; it carries %d contributions of %d bytes", r.DecryptRequestBytes, r.Sites, r.UploadBytes)
	}
	for name, v := range map[string]float64{
		"seal values/s/core": r.SealValuesPerSecPerCore, "add values/s": r.AddValuesPerSec, "parallel add values/s": r.AddParallelValuesPerSec,
		"share values/s/core": r.ShareValuesPerSecPerCore, "combine s": r.CombineSeconds, "decrypt s": r.DecryptSeconds,
		"plaintext round s": r.PlainRoundSeconds,
	} {
		if !(v > 0) {
			t.Errorf("secure %s = %v; want > 0", name, v)
		}
	}
	if !(r.MaxAbsError < 1e-6) {
		t.Errorf("secure max error %g", r.MaxAbsError)
	}
	// The HE run may fail on a known secagg bug (a decryption share with an
	// unreduced coefficient is rejected by Combine); the measurement then
	// reports the failure instead of a round time.
	switch {
	case r.HERunError != "":
		t.Logf("secure: the HE run failed: %s", r.HERunError)
	case !(r.HERoundSeconds > 0 && r.RoundRatio > 0):
		t.Errorf("secure HE round %vs, ratio %v; want > 0", r.HERoundSeconds, r.RoundRatio)
	}
}

// TestCLIJSON runs `cohort bench --quick --only grpc --output json` and checks
// the JSON contract: the selected measurement is present, the others absent.
// (The memory measurement is not selected: in a test binary, the CLI's
// launcher would re-run the tests instead of a coordinator.)
func TestCLIJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a gRPC measurement")
	}
	var out, errs bytes.Buffer
	if code := cli.Main([]string{"bench", "--quick", "--only", "grpc", "--output", "json"}, nil, &out, &errs); code != 0 {
		t.Fatalf("cohort bench exited with %d: %s", code, errs.String())
	}
	var rep map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"quick", "gomaxprocs", "grpc", "seconds"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON report lacks %q: %s", k, out.String())
		}
	}
	for _, k := range []string{"sim", "memory", "secure", "shap"} {
		if _, ok := rep[k]; ok {
			t.Errorf("JSON report has %q, which --only grpc did not select", k)
		}
	}
	var g bench.GRPCResult
	if err := json.Unmarshal(rep["grpc"], &g); err != nil || !(g.MBPerSec > 0 && g.Ratio > 0) {
		t.Errorf("grpc result = %+v (%v); want positive MB/s and ratio", g, err)
	}
	if !bytes.Contains(errs.Bytes(), []byte("bench: grpc:")) {
		t.Errorf("no progress line on stderr: %q", errs.String())
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*bench.Config)
		ok   bool
	}{
		{"default", func(*bench.Config) {}, true},
		{"unknown measurement", func(c *bench.Config) { c.Only = []string{"disk"} }, false},
		{"no launcher", func(c *bench.Config) { c.Memory.Launch = nil }, false},
		{"no launcher but memory skipped", func(c *bench.Config) { c.Memory.Launch, c.Only = nil, []string{bench.Sim} }, true},
		{"no clients", func(c *bench.Config) { c.Sim.Clients = 0 }, false},
		{"one-parameter model", func(c *bench.Config) { c.GRPC.Params = 1 }, false},
		{"threshold above sites", func(c *bench.Config) { c.Secure.Threshold = c.Secure.Sites + 1 }, false},
		{"threshold 1", func(c *bench.Config) { c.Secure.Threshold = 1 }, false},
		{"shap with one feature", func(c *bench.Config) { c.Shap.Features = 1 }, false},
		{"shap samples not a multiple of 2·batches", func(c *bench.Config) { c.Shap.Samples = 100 }, false},
		{"shap with no rows", func(c *bench.Config) { c.Shap.Rows = 0 }, false},
		{"shap config bad but shap skipped", func(c *bench.Config) { c.Shap.Rows, c.Only = 0, []string{bench.Sim} }, true},
	} {
		c := bench.DefaultConfig(testLauncher)
		tc.mod(&c)
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v; want ok %v", tc.name, err, tc.ok)
		}
	}
}

// BenchmarkSimThroughput simulates 200 in-process clients and reports client
// updates per second of fit-phase wall time, and that rate as a share of the
// naive loop's. One op is one measured round (at least 5 are played, after a
// warm-up round, since loading the dataset dominates a single round);
// ns/op is fit-phase time per round.
func BenchmarkSimThroughput(b *testing.B) {
	rounds := max(b.N, 5)
	r, err := bench.MeasureSim(context.Background(), bench.SimConfig{Dataset: "fertility", Clients: 200, Rounds: rounds, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.FitSeconds*1e9/float64(rounds), "ns/op")
	b.ReportMetric(r.UpdatesPerSec, "updates/s")
	b.ReportMetric(r.NaiveUpdatesPerSec, "naive-updates/s")
	b.ReportMetric(r.Ratio, "x-naive")
}

// BenchmarkGRPCRound plays rounds of 4 clients on a 100k-parameter model over
// gRPC with mTLS on loopback and reports the fit phase's MB/s, and that rate
// as a share of a TLS io.Copy's. One op is one measured round (at least 3,
// after a warm-up round); ns/op is fit-phase time per round.
func BenchmarkGRPCRound(b *testing.B) {
	rounds := max(b.N, 3)
	r, err := bench.MeasureGRPC(context.Background(), bench.GRPCConfig{Clients: 4, Params: 100_000, Rounds: rounds})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.FitSeconds*1e9/float64(rounds), "ns/op")
	b.ReportMetric(r.MBPerSec, "MB/s")
	b.ReportMetric(r.TLSCopyMBPerSec, "tls-MB/s")
	b.ReportMetric(r.Ratio, "x-tls")
}

// BenchmarkSecureRound measures secure aggregation for 3 sites (t = 2) and
// a 50k-parameter update: each step in process, then rounds over gRPC with
// mTLS on loopback with secure = "he" and in the clear. One op is one
// measured round (at least 2, after a warm-up round); ns/op is the HE round
// time (fit phase and decryption), or 0 if the HE run failed.
func BenchmarkSecureRound(b *testing.B) {
	rounds := max(b.N, 2)
	r, err := bench.MeasureSecure(context.Background(), bench.SecureConfig{Sites: 3, Threshold: 2, Params: 50_000, Rounds: rounds})
	if err != nil {
		b.Fatal(err)
	}
	if r.HERunError != "" {
		b.Logf("the HE run failed: %s", r.HERunError)
	}
	b.ReportMetric(r.HERoundSeconds*1e9, "ns/op")
	b.ReportMetric(r.RoundRatio, "x-plaintext")
	b.ReportMetric(r.SealValuesPerSecPerCore, "seal-values/s/core")
	b.ReportMetric(r.AddValuesPerSec, "add-values/s")
	b.ReportMetric(r.ShareValuesPerSecPerCore, "share-values/s/core")
	b.ReportMetric(r.Expansion, "x-float32")
}

func ExampleQuickConfig() {
	cfg := bench.QuickConfig(nil)
	fmt.Println(cfg.Sim.Clients, cfg.GRPC.Clients, cfg.Memory.Clients)
	// Output: 200 4 10
}
