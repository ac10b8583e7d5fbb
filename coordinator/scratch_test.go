package coordinator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/model"
)

// TestScratchSum runs FedAvg on a model just above the scratch threshold
// with the running sum in a scratch file: the result is exact, the
// directory is left empty, and a missing directory fails the round with
// an error that says why (so the file really is used). A small model never
// touches the directory.
func TestScratchSum(t *testing.T) {
	run := func(dir string, features int) (RunResult, error) {
		d := &scripted{sites: []string{"a", "b"}, acc: func(int) float64 { return 0.5 }}
		db, err := store.Open(filepath.Join(t.TempDir(), "e.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		e, err := NewEngine(Options{Store: db, Dispatcher: d, ScratchDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		d.e = e
		cfg := testConfig("scratch")
		cfg.Features, cfg.Rounds, cfg.MaxRetries = features, 2, 0
		return e.Run(context.Background(), cfg)
	}
	dir := t.TempDir()
	features := spoolMinBytes / 8 // a logreg has one more parameter: the bias
	res, err := run(dir, features)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(model.Spec{Name: "logreg", Features: features, Classes: 2})
	if err != nil {
		t.Fatal(err)
	}
	init := m.Init(seededRand(testConfig("scratch").Seed, 0))
	if len(res.Params) != len(init) {
		t.Fatalf("%d parameters, want %d", len(res.Params), len(init))
	}
	for i, p := range res.Params {
		// Two rounds in which both sites send Δ = 0.1 with 10 examples each.
		if want := init[i] + 0.1 + 0.1; p != want {
			t.Fatalf("param %d = %v, want %v", i, p, want)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("scratch directory holds %d files after the run", len(left))
	}

	missing := filepath.Join(dir, "missing")
	if _, err := run(missing, features); err == nil || !strings.Contains(err.Error(), "scratch file") {
		t.Errorf("run with a missing scratch directory = %v, want a scratch file error", err)
	}
	if _, err := run(missing, 3); err != nil {
		t.Errorf("a 4-parameter model used the scratch directory: %v", err)
	}
}
