package e2e

import (
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// tamper opens the SQLite file as an attacker with write access would:
// it drops the append-only triggers, runs the statements, and puts the
// triggers back so that only the edit itself is left to detect.
func tamper(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	all := append([]string{"DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"}, stmts...)
	all = append(all,
		"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
		"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
	for _, s := range all {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestAuditVerifyDetectsTampering: a real simulation writes the audit log;
// `cohort audit verify` passes on it and, after one row of the SQLite file
// is changed, deleted or two rows are swapped, exits 1 and names the row.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "sim")
	mustCLI(t, "simulate", "--rounds", "3", "--protected", "afam", "--fairness", "audit", "--out", out)
	orig := filepath.Join(out, "cohort.db")
	if got := mustCLI(t, "audit", "verify", "--db", orig); !strings.Contains(got, "hash chain intact") {
		t.Fatalf("untouched log: %s", got)
	}
	for _, c := range []struct {
		name  string
		stmts []string
		want  []string
	}{
		{"edited detail", []string{`UPDATE audit_log SET detail = '{"examples":1}' WHERE seq = 5`}, []string{"seq 5", "edited"}},
		{"edited actor", []string{`UPDATE audit_log SET actor = 'client-9' WHERE seq = 4`}, []string{"seq 4", "actor"}},
		{"deleted row", []string{`DELETE FROM audit_log WHERE seq = 7`}, []string{"seq 7", "missing"}},
		{"swapped rows", []string{
			`UPDATE audit_log SET seq = 100000 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = 6`,
			`UPDATE audit_log SET seq = 6 WHERE seq = 100000`}, []string{"seq 3", "reordered"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".db")
			copyFile(t, orig, db)
			tamper(t, db, c.stmts...)
			stdout, stderr, code := runCLI(t, 30*time.Second, "audit", "verify", "--db", db)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output does not name %q:\n%s", w, stdout)
				}
			}
		})
	}
	// The log lists as JSON, filtered by kind.
	js := mustCLI(t, "audit", "log", "--db", orig, "--kind", "gate_decision", "--output", "json")
	if !strings.Contains(js, `"kind": "gate_decision"`) || strings.Contains(js, "update_received") {
		t.Errorf("audit log --kind gate_decision --output json:\n%s", js)
	}
}

// TestModelsVerifyDetectsByteFlips: `cohort models verify` accepts the
// artifact a real simulation signed and co-signed, and rejects it (exit 1)
// after any one byte of the file is flipped — in the card, the signatures,
// the certificates or the parameters.
func TestModelsVerifyDetectsByteFlips(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "sim")
	mustCLI(t, "simulate", "--rounds", "2", "--out", out)
	art := filepath.Join(out, "model.cohort.json")
	trust := []string{"--ca", filepath.Join(out, "ca.pem"), "--coordinator-key", filepath.Join(out, "coordinator-signing.pub")}
	if got := mustCLI(t, append([]string{"models", "verify", art}, trust...)...); !strings.Contains(got, "verified") {
		t.Fatalf("untouched artifact: %s", got)
	}
	orig, err := os.ReadFile(art)
	if err != nil {
		t.Fatal(err)
	}
	text := string(orig)
	positions := map[string]int{"start": 0, "end": len(orig) - 2}
	for _, anchor := range []string{`"params_sha256"`, `"sites"`, `"ed25519_signature"`, `"certificate"`, `"params":`, `"metrics"`} {
		i := strings.Index(text, anchor)
		if i < 0 {
			t.Fatalf("artifact has no %s", anchor)
		}
		positions[anchor] = i + len(anchor) + 5
	}
	for name, pos := range positions {
		b := append([]byte(nil), orig...)
		b[pos] ^= 0x01
		f := filepath.Join(dir, "flipped.json")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runCLI(t, 30*time.Second, append([]string{"models", "verify", f}, trust...)...)
		if code != 1 || !strings.Contains(stderr, "fails verification") {
			t.Errorf("flip at %s (byte %d): exit %d, want 1\n%s%s", name, pos, code, stdout, stderr)
		}
	}
	// A key the auditor does not trust fails too.
	other := filepath.Join(dir, "other")
	mustCLI(t, "simulate", "--rounds", "1", "--out", other)
	_, stderr, code := runCLI(t, 30*time.Second, "models", "verify", art, "--ca", filepath.Join(out, "ca.pem"),
		"--coordinator-key", filepath.Join(other, "coordinator-signing.pub"))
	if code != 1 || !strings.Contains(stderr, "coordinator") {
		t.Errorf("untrusted coordinator key: exit %d\n%s", code, stderr)
	}
}
