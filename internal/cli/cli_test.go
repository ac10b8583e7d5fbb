package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// TestSimulateJSONContract checks the stable --output json contract: one JSON
// object whose members federated and centralized hold numeric accuracy, auc
// and loss, and that carries the settings that produced them.
func TestSimulateJSONContract(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := run(t, "simulate", "--rounds", "3", "--clients", "3", "--seed", "7", "--output", "json", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatal("stdout holds more than one JSON value")
	}
	for _, side := range []string{"federated", "centralized"} {
		m, ok := res[side].(map[string]any)
		if !ok {
			t.Fatalf("member %q missing or not an object: %v", side, res[side])
		}
		for _, k := range []string{"accuracy", "auc", "loss"} {
			v, ok := m[k].(float64)
			if !ok || v < 0 || (k != "loss" && v > 1) {
				t.Errorf("%s.%s = %v, want a number in range", side, k, m[k])
			}
		}
	}
	s, ok := res["settings"].(map[string]any)
	if !ok || s["dataset"] != "hmda" || s["clients"] != float64(3) || s["rounds"] != float64(3) || s["seed"] != float64(7) {
		t.Fatalf("settings = %v, want dataset hmda, clients 3, rounds 3, seed 7", res["settings"])
	}
	for _, f := range []string{"metrics.csv", "metrics.json", "metrics.png", "result.json", "cohort.db"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("--out file %s: %v", f, err)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "metrics.csv"))
	if lines := strings.Count(strings.TrimSpace(string(csv)), "\n"); lines != 3 {
		t.Errorf("metrics.csv has %d data rows, want 3 (one per round)", lines)
	}
}

func TestBadFlagsGiveClearErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"simulate", "--partition", "zipf:2"}, `unknown partition "zipf:2"`},
		{[]string{"simulate", "--dataset", "adult"}, "adult"},
		{[]string{"simulate", "--data", "/nonexistent.csv", "--label", "y", "--dataset", ""}, "/nonexistent.csv"},
		{[]string{"simulate", "--secure", "rsa"}, `--secure "rsa" is unknown`},
		{[]string{"simulate", "--output", "yaml"}, `--output "yaml"`},
		{[]string{"simulate", "--model", "mlp", "--hidden", "8,x"}, `--hidden "8,x"`},
		{[]string{"client", "run", "--insecure", "--coordinator", "10.1.2.3:7443", "--dataset", "hmda", "--name", "a"}, "loopback"},
		{[]string{"coordinator", "serve", "--insecure", "--listen", "0.0.0.0:7443"}, "loopback"},
		{[]string{"coordinator", "serve", "--listen", "127.0.0.1:0"}, "--cert, --key and --ca"},
		{[]string{"models", "list", "r", "--db", "/nonexistent.db"}, "/nonexistent.db"},
	}
	for _, c := range cases {
		_, errs, code := run(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("cohort %s: exit %d, stderr %q; want failure mentioning %q", strings.Join(c.args, " "), code, errs, c.want)
		}
	}
}

func TestBadCSVNamesFileLineAndColumn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(path, []byte("x,y\n1,yes\n2,no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := run(t, "simulate", "--data", path, "--label", "outcome")
	if code == 0 || !strings.Contains(errs, `"outcome"`) || !strings.Contains(errs, "bad.csv") {
		t.Errorf("unknown label: exit %d, stderr %q", code, errs)
	}
	schema := filepath.Join(dir, "schema.json")
	if err := os.WriteFile(schema, []byte(`{"Label":"y","Positive":"yes","Types":{"x":1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x,y\n1,yes\nabc,no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code = run(t, "client", "run", "--insecure", "--name", "a", "--coordinator", "127.0.0.1:1", "--data", path, "--schema", schema)
	if code == 0 || !strings.Contains(errs, "bad.csv:3") || !strings.Contains(errs, `"x"`) || !strings.Contains(errs, `"abc"`) {
		t.Errorf("non-numeric value: exit %d, stderr %q; want file:line, column and value", code, errs)
	}
}

// TestPrivacyJSON checks the scripting contract of `privacy epsilon` and
// `privacy sigma`, and that the two agree: the σ returned for a target ε
// spends at most that ε.
func TestPrivacyJSON(t *testing.T) {
	out, errs, code := run(t, "privacy", "sigma", "--epsilon", "2", "--delta", "1e-5", "--q", "0.05", "--steps", "200", "--output", "json")
	if code != 0 {
		t.Fatalf("privacy sigma: exit %d: %s", code, errs)
	}
	var s struct{ Sigma float64 }
	if err := json.Unmarshal([]byte(out), &s); err != nil || !(s.Sigma > 0) {
		t.Fatalf("privacy sigma output %q: %v", out, err)
	}
	out, errs, code = run(t, "privacy", "epsilon", "--q", "0.05", "--sigma", strconv.FormatFloat(s.Sigma, 'g', -1, 64),
		"--steps", "200", "--delta", "1e-5", "--output", "json")
	if code != 0 {
		t.Fatalf("privacy epsilon: exit %d: %s", code, errs)
	}
	var e struct{ Epsilon float64 }
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("privacy epsilon output %q: %v", out, err)
	}
	if e.Epsilon > 2 || e.Epsilon < 1.9 {
		t.Fatalf("ε at the returned σ = %v, want just below the target 2", e.Epsilon)
	}
	for _, bad := range [][]string{
		{"privacy", "epsilon", "--q", "1.5", "--sigma", "1", "--steps", "1"},
		{"privacy", "epsilon", "--q", "0.1", "--sigma", "0", "--steps", "1"},
		{"privacy", "epsilon", "--q", "0.1", "--sigma", "1", "--steps", "0"},
		{"privacy", "sigma", "--epsilon", "-1", "--q", "0.1", "--steps", "10"},
		{"privacy", "epsilon", "--q", "0.1", "--sigma", "1", "--steps", "1", "--accountant", "moments"},
	} {
		if _, errs, code := run(t, bad...); code == 0 || errs == "" {
			t.Errorf("cohort %v: exit %d, want a clear error", bad, code)
		}
	}
}

// TestExplainCommand explains rows of hmda with a simulated run's model: each
// row gets one attribution per feature and the requested number of reasons,
// and a data file that encodes to a different feature count is refused.
func TestExplainCommand(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := run(t, "simulate", "--rounds", "2", "--output", "json", "--out", dir)
	if code != 0 {
		t.Fatalf("simulate: %s", errs)
	}
	var sim struct {
		RunID    string `json:"run_id"`
		Features int    `json:"features"`
	}
	if err := json.Unmarshal([]byte(out), &sim); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "cohort.db")
	out, errs, code = run(t, "explain", sim.RunID, "--db", db, "--dataset", "hmda", "--rows", "1,2", "--top", "2", "--output", "json")
	if code != 0 {
		t.Fatalf("explain: %s", errs)
	}
	var ex struct {
		Rows []struct {
			Phi     []float64
			Reasons []struct{ Name string }
			Score   float64
		}
	}
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatal(err)
	}
	if len(ex.Rows) != 2 {
		t.Fatalf("%d rows explained, want 2", len(ex.Rows))
	}
	for _, r := range ex.Rows {
		if len(r.Phi) != sim.Features || len(r.Reasons) > 2 || !(r.Score > 0 && r.Score < 1) {
			t.Fatalf("row: %d attributions (want %d), %d reasons (want ≤ 2), score %v", len(r.Phi), sim.Features, len(r.Reasons), r.Score)
		}
	}
	if _, errs, code := run(t, "explain", sim.RunID, "--db", db, "--dataset", "pima_diabetes"); code == 0 || !strings.Contains(errs, "features") {
		t.Fatalf("explaining another dataset: exit %d, %q; want a feature-count error", code, errs)
	}
}
