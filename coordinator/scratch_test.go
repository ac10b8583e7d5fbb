package coordinator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cohortfl/cohort/model"
)

// TestScratchSum runs FedAvg, and client-level DP with central noise, on a
// model just above the scratch threshold with the running sum in a scratch
// file: the result is exact, the directory is left empty, and a missing
// directory fails the round with an error that says why (so the file
// really is used). A small model never touches the directory.
func TestScratchSum(t *testing.T) {
	dir := t.TempDir()
	features := spoolMinBytes / 8 // a logreg has one more parameter: the bias
	for _, dp := range []bool{false, true} {
		res, err := runScratch(t, dir, features, dp)
		if err != nil {
			t.Fatalf("dp=%v: %v", dp, err)
		}
		m, err := model.New(model.Spec{Name: "logreg", Features: features, Classes: 2})
		if err != nil {
			t.Fatal(err)
		}
		init := m.Init(seededRand(testConfig("scratch").Seed, 0))
		if len(res.Params) != len(init) {
			t.Fatalf("dp=%v: %d parameters, want %d", dp, len(res.Params), len(init))
		}
		// Two rounds in which both sites send Δ = 0.1. FedAvg weighs them
		// by 10 examples each: the mean is 0.1. Client DP weighs them 1
		// each, adds σ·C·z = 1·1000·0.5 (the noise source returns 0.5) to
		// every coordinate of the sum, and divides by q·N = 2.
		mean := 0.1
		if dp {
			mean = (0.1 + 0.1 + 1000*0.5) / 2
		}
		for i, p := range res.Params {
			if want := init[i] + mean + mean; p != want {
				t.Fatalf("dp=%v: param %d = %v, want %v", dp, i, p, want)
			}
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("dp=%v: scratch directory holds %d files after the run", dp, len(left))
		}
	}

	missing := filepath.Join(dir, "missing")
	for _, dp := range []bool{false, true} {
		if _, err := runScratch(t, missing, features, dp); err == nil || !strings.Contains(err.Error(), "scratch file") {
			t.Errorf("dp=%v: run with a missing scratch directory = %v, want a scratch file error", dp, err)
		}
	}
	if _, err := runScratch(t, missing, 3, false); err != nil {
		t.Errorf("a 4-parameter model used the scratch directory: %v", err)
	}
}

// runScratch runs two FedAvg rounds of a logreg with the given features and
// two scripted sites, its running sums in dir; with dp, as client-level DP
// with q = 1, σ = 1, a clip of 1000 (above the sites' norm) and every
// standard normal draw replaced by 0.5.
func runScratch(t *testing.T, dir string, features int, dp bool) (RunResult, error) {
	t.Helper()
	d := &scripted{sites: []string{"a", "b"}, acc: func(int) float64 { return 0.5 }}
	e, _ := newTestEngineWith(t, d, Options{ScratchDir: dir, Noise: func() float64 { return 0.5 }, ReproducibleSampling: true})
	cfg := testConfig("scratch")
	cfg.Features, cfg.Rounds, cfg.MaxRetries = features, 2, 0
	if dp {
		cfg.DP = &DPConfig{Client: &ClientDP{Epsilon: 50, Delta: 1e-5, Clip: 1000, NoiseMultiplier: 1, Mode: DPCentral, SampleRate: 1}}
	}
	return e.Run(context.Background(), cfg)
}
