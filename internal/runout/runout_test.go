package runout_test

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cohortfl/cohort/internal/runout"
)

func sampleRounds() []runout.RoundMetrics {
	nan := math.NaN()
	return []runout.RoundMetrics{
		{Round: 1, Clients: 10, TrainLoss: 0.693, EvalLoss: 0.7, EvalAccuracy: 0.5, EvalAUC: 0.51,
			Epsilon: nan, DurationSeconds: 1.25, Extra: map[string]float64{"fairness_gap": 0.1}},
		{Round: 2, Clients: 9, TrainLoss: 0.5, EvalLoss: 0.55, EvalAccuracy: 0.7, EvalAUC: 0.75,
			Epsilon: 0.31, DurationSeconds: 1.0 / 3, Extra: map[string]float64{"bytes_up": 1e6, "fairness_gap": nan}},
		{Round: 3, Clients: 10, TrainLoss: 0.3, EvalLoss: nan, EvalAccuracy: 0.8, EvalAUC: nan,
			Epsilon: 0.62, DurationSeconds: 2},
	}
}

// sameFloat treats two NaNs as equal.
func sameFloat(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b))
}

func sameRound(a, b runout.RoundMetrics) bool {
	if a.Round != b.Round || a.Clients != b.Clients ||
		!sameFloat(a.TrainLoss, b.TrainLoss) || !sameFloat(a.EvalLoss, b.EvalLoss) ||
		!sameFloat(a.EvalAccuracy, b.EvalAccuracy) || !sameFloat(a.EvalAUC, b.EvalAUC) ||
		!sameFloat(a.Epsilon, b.Epsilon) || !sameFloat(a.DurationSeconds, b.DurationSeconds) ||
		len(a.Extra) != len(b.Extra) {
		return false
	}
	for k, v := range a.Extra {
		w, ok := b.Extra[k]
		if !ok || !sameFloat(v, w) {
			return false
		}
	}
	return true
}

func TestWriteAllCSVRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "out")
	rounds := sampleRounds()
	if err := runout.WriteAll(dir, rounds, "test run"); err != nil {
		t.Fatalf("WriteAll: %v", err)
	}
	f, err := os.Open(filepath.Join(dir, runout.CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v", err)
	}
	wantHeader := append(slices.Clone(runout.Columns), "bytes_up", "fairness_gap")
	if !slices.Equal(records[0], wantHeader) {
		t.Fatalf("header = %q; want %q", records[0], wantHeader)
	}
	if got, want := len(records)-1, len(rounds); got != want {
		t.Fatalf("rows = %d; want %d", got, want)
	}
	for i, rec := range records[1:] {
		var got runout.RoundMetrics
		ints := []*int{&got.Round, &got.Clients}
		floats := []*float64{&got.TrainLoss, &got.EvalLoss, &got.EvalAccuracy,
			&got.EvalAUC, &got.Epsilon, &got.DurationSeconds}
		for j, p := range ints {
			if *p, err = strconv.Atoi(rec[j]); err != nil {
				t.Fatalf("row %d col %s: %v", i, wantHeader[j], err)
			}
		}
		for j, p := range floats {
			if *p, err = strconv.ParseFloat(rec[len(ints)+j], 64); err != nil {
				t.Fatalf("row %d col %s: %v", i, wantHeader[len(ints)+j], err)
			}
		}
		for j := len(runout.Columns); j < len(rec); j++ {
			if rec[j] == "" {
				continue // key absent in this round
			}
			v, err := strconv.ParseFloat(rec[j], 64)
			if err != nil {
				t.Fatalf("row %d col %s: %v", i, wantHeader[j], err)
			}
			if got.Extra == nil {
				got.Extra = map[string]float64{}
			}
			got.Extra[wantHeader[j]] = v
		}
		if !sameRound(got, rounds[i]) {
			t.Errorf("CSV row %d = %+v; want %+v", i, got, rounds[i])
		}
	}
}

func TestWriteAllJSONRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rounds := sampleRounds()
	if err := runout.WriteAll(dir, rounds, "json"); err != nil {
		t.Fatalf("WriteAll: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, runout.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	// NaN must be encoded as null, both at top level and in Extra.
	var raw []map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("metrics.json is not valid JSON: %v\n%s", err, data)
	}
	if v, ok := raw[0]["epsilon"]; !ok || v != nil {
		t.Errorf("round 1 epsilon = %v (present %v); want null", v, ok)
	}
	if v := raw[1]["extra"].(map[string]any)["fairness_gap"]; v != nil {
		t.Errorf("round 2 extra.fairness_gap = %v; want null", v)
	}
	if v := raw[1]["epsilon"]; v != 0.31 {
		t.Errorf("round 2 epsilon = %v; want 0.31", v)
	}
	if _, ok := raw[0]["eval_accuracy"]; !ok {
		t.Errorf("round 1 has no snake_case key eval_accuracy: %v", raw[0])
	}

	var got []runout.RoundMetrics
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("decode metrics.json: %v", err)
	}
	if len(got) != len(rounds) {
		t.Fatalf("decoded %d rounds; want %d", len(got), len(rounds))
	}
	for i := range rounds {
		if !sameRound(got[i], rounds[i]) {
			t.Errorf("JSON round %d = %+v; want %+v", i, got[i], rounds[i])
		}
	}
}

func TestMarshalInfIsNull(t *testing.T) {
	b, err := json.Marshal(runout.RoundMetrics{Round: 1, TrainLoss: math.Inf(1)})
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if !strings.Contains(string(b), `"train_loss":null`) {
		t.Errorf("Marshal(+Inf) = %s; want train_loss null", b)
	}
}

func TestWriteAllPNG(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rounds []runout.RoundMetrics
	}{
		{"sample", sampleRounds()},
		{"empty", nil},
		{"all NaN", []runout.RoundMetrics{{Round: 1, TrainLoss: math.NaN(), EvalLoss: math.NaN(),
			EvalAccuracy: math.NaN(), EvalAUC: math.NaN(), Epsilon: math.NaN()}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := runout.WriteAll(dir, tc.rounds, tc.name); err != nil {
				t.Fatalf("WriteAll: %v", err)
			}
			f, err := os.Open(filepath.Join(dir, runout.PNGFile))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("decode PNG: %v", err)
			}
			b := img.Bounds()
			if b.Dx() != runout.PlotWidthPx || b.Dy() != runout.PlotHeightPx {
				t.Errorf("PNG size = %dx%d; want %dx%d", b.Dx(), b.Dy(), runout.PlotWidthPx, runout.PlotHeightPx)
			}
		})
	}
}

func TestWriteAllUnwritableDir(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := runout.WriteAll(filepath.Join(file, "out"), sampleRounds(), "t")
	if err == nil {
		t.Fatal("WriteAll under a regular file succeeded; want error")
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Errorf("error %v does not wrap *fs.PathError", err)
	}
	if !strings.Contains(err.Error(), "runout: create output directory") ||
		!strings.Contains(err.Error(), file) {
		t.Errorf("error %q lacks context (operation and path)", err)
	}
}

func TestWriteAllReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	err := runout.WriteAll(dir, sampleRounds(), "t")
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("WriteAll in read-only dir = %v; want a permission error", err)
	}
	if !strings.Contains(err.Error(), "runout: write metrics.csv") {
		t.Errorf("error %q lacks the file being written", err)
	}
}

// A failed rename must leave neither a temporary file nor a changed target.
func TestWriteAllFailureLeavesNoTempFiles(t *testing.T) {
	dir := t.TempDir()
	// A non-empty directory where metrics.json should go makes the rename fail.
	if err := os.MkdirAll(filepath.Join(dir, runout.JSONFile, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := runout.WriteAll(dir, sampleRounds(), "t"); err == nil {
		t.Fatal("WriteAll with a directory in place of metrics.json succeeded; want error")
	} else if !strings.Contains(err.Error(), runout.JSONFile) {
		t.Errorf("error %q does not name %s", err, runout.JSONFile)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestWriteAllExtraClash(t *testing.T) {
	rounds := []runout.RoundMetrics{{Round: 1, Extra: map[string]float64{"epsilon": 1}}}
	dir := filepath.Join(t.TempDir(), "out")
	err := runout.WriteAll(dir, rounds, "t")
	if err == nil || !strings.Contains(err.Error(), `"epsilon"`) {
		t.Fatalf("WriteAll with extra key epsilon = %v; want clash error", err)
	}
	if _, statErr := os.Stat(dir); !errors.Is(statErr, fs.ErrNotExist) {
		t.Errorf("render error still created %s (stat: %v)", dir, statErr)
	}
}
