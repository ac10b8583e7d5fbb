package cli

import (
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hashTree returns the SHA-256 of every file under dir.
func hashTree(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := run(t, args...)
	if code != 0 {
		t.Fatalf("cohort %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// TestProvisionFlow drives init, site, user, coordinator, renew, revoke, crl,
// list and check through Main, and checks that each command writes only its
// own party's files.
func TestProvisionFlow(t *testing.T) {
	root := t.TempDir()
	caDir := filepath.Join(root, "pki", "ca")
	ca := []string{"--ca-dir", caDir}
	with := func(args ...string) []string { return append(args, ca...) }

	out := mustRun(t, with("provision", "init")...)
	if !strings.Contains(out, "created CA") || !strings.Contains(out, "crl.pem") {
		t.Errorf("init printed %q", out)
	}
	if _, errs, code := run(t, with("provision", "init")...); code == 0 || !strings.Contains(errs, "a CA already exists") {
		t.Errorf("second init: exit %d, %q; want a refusal", code, errs)
	}
	mustRun(t, with("provision", "coordinator", "--host", "127.0.0.1")...)
	mustRun(t, with("provision", "site", "hospital-a")...)
	mustRun(t, with("provision", "user", "alice", "--role", "admin")...)
	mustRun(t, with("provision", "user", "carol", "--role", "auditor")...)

	// Adding a site touches no other bundle, byte for byte.
	others := filepath.Join(root, "pki")
	before := hashTree(t, others)
	out = mustRun(t, with("provision", "site", "hospital-b")...)
	if !strings.Contains(out, `issued site certificate for "hospital-b"`) {
		t.Errorf("site printed %q", out)
	}
	after := hashTree(t, others)
	for p, h := range before {
		if after[p] != h {
			t.Errorf("adding hospital-b changed %s", p)
		}
	}
	for p := range after {
		if _, old := before[p]; !old && !strings.HasPrefix(p, filepath.Join(others, "hospital-b")) && !strings.HasPrefix(p, filepath.Join(caDir, "issued")) {
			t.Errorf("adding hospital-b wrote %s", p)
		}
	}

	refusals := []struct {
		args []string
		want string
	}{
		{[]string{"provision", "site", "hospital-a"}, "pass --renew"},
		{[]string{"provision", "user", "hospital-a", "--role", "admin"}, "already holds a live site certificate"},
		{[]string{"provision", "user", "bob", "--role", "site"}, "want admin or auditor"},
		{[]string{"provision", "user", "bob"}, `"role" not set`},
		{[]string{"provision", "revoke"}, "either NAME or --serial"},
		{[]string{"provision", "revoke", "nobody"}, "no certificate to revoke"},
		{[]string{"provision", "renew", "nobody"}, "no certificate named"},
	}
	for _, r := range refusals {
		if _, errs, code := run(t, with(r.args...)...); code == 0 || !strings.Contains(errs, r.want) {
			t.Errorf("cohort %s: exit %d, %q; want a refusal mentioning %q", strings.Join(r.args, " "), code, errs, r.want)
		}
	}

	type row struct{ Name, Role, Serial, Status string }
	list := func() []row {
		var rows []row
		if err := json.Unmarshal([]byte(mustRun(t, with("provision", "list", "--output", "json")...)), &rows); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	serialsOf := func(name string) []string {
		var s []string
		for _, r := range list() {
			if r.Name == name {
				s = append(s, r.Serial)
			}
		}
		return s
	}
	original := serialsOf("hospital-a")
	if len(original) != 1 {
		t.Fatalf("hospital-a has certificates %v; want one", original)
	}

	// Renewal replaces only hospital-a's certificate and key.
	before = hashTree(t, others)
	out = mustRun(t, with("provision", "renew", "hospital-a")...)
	if !strings.Contains(out, "renewed site certificate") || !strings.Contains(out, "stays valid") {
		t.Errorf("renew printed %q", out)
	}
	after = hashTree(t, others)
	aDir := filepath.Join(others, "hospital-a")
	for p, h := range before {
		changed := after[p] != h
		want := p == filepath.Join(aDir, "hospital-a.pem") || p == filepath.Join(aDir, "hospital-a-key.pem")
		if changed != want {
			t.Errorf("renew: %s changed = %v; want %v", p, changed, want)
		}
	}

	aSerials := serialsOf("hospital-a")
	if len(aSerials) != 2 || aSerials[0] != original[0] {
		t.Fatalf("list shows certificates %v for hospital-a; want 2, the original %s first", aSerials, original[0])
	}

	// Revoke the original by serial: the renewal stays valid.
	out = mustRun(t, with("provision", "revoke", "--serial", aSerials[0], "--reason", "superseded")...)
	if !strings.Contains(out, "number 2") {
		t.Errorf("revoke printed %q; want CRL number 2", out)
	}
	status := map[string]string{}
	for _, r := range list() {
		status[r.Serial] = r.Status
	}
	if status[aSerials[0]] != "revoked" || status[aSerials[1]] != "valid" {
		t.Errorf("after revoking %s: statuses %v", aSerials[0], status)
	}
	out = mustRun(t, with("provision", "check", aDir, "hospital-a", "--role", "site")...)
	if !strings.Contains(out, "hospital-a: ok") {
		t.Errorf("check of the renewed bundle: %q", out)
	}

	// Revoking by name revokes what is left; check then says revoked.
	mustRun(t, with("provision", "revoke", "hospital-a")...)
	out, errs, code := run(t, with("provision", "check", aDir, "hospital-a", "--output", "json")...)
	if code != 1 {
		t.Errorf("check of a revoked bundle: exit %d; want 1", code)
	}
	var res struct {
		OK       bool
		Problems int
		Role     string
		Checks   []struct{ Check, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("check --output json: %v\n%s", err, out)
	}
	if res.OK || res.Problems != 1 || res.Role != "site" {
		t.Errorf("check json = %+v; want not ok, 1 problem, role site", res)
	}
	for _, c := range res.Checks {
		if c.Check == "revocation" && (c.Status != "fail" || !strings.Contains(c.Detail, "revoked at")) {
			t.Errorf("revocation check = %+v; want fail 'revoked at'", c)
		}
	}
	if !strings.Contains(errs, "certificate revoked") {
		t.Errorf("check stderr %q does not say revoked", errs)
	}

	out = mustRun(t, with("provision", "crl", "--crl-valid-for", "48h")...)
	if !strings.Contains(out, "number 4") || !strings.Contains(out, "2 revoked") {
		t.Errorf("crl printed %q; want number 4 with 2 revoked", out)
	}

	// Wrong role, and expiry with its date.
	out, _, code = run(t, with("provision", "check", filepath.Join(others, "carol"), "carol", "--role", "admin")...)
	if code != 1 || !strings.Contains(out, "has role auditor, but an admin bundle needs role admin") {
		t.Errorf("check carol --role admin: exit %d\n%s", code, out)
	}
	mustRun(t, with("provision", "site", "brief", "--valid-for", "1s")...)
	time.Sleep(1100 * time.Millisecond)
	out, errs, code = run(t, with("provision", "check", filepath.Join(others, "brief"), "brief")...)
	if code != 1 || !strings.Contains(out, "expired at") || !strings.Contains(errs, "certificate expired") {
		t.Errorf("check of an expired bundle: exit %d\n%s\n%s", code, out, errs)
	}

	// A bundle of another consortium fails the consortium check.
	rogueCA := filepath.Join(root, "rogue", "ca")
	mustRun(t, "provision", "init", "--ca-dir", rogueCA)
	mustRun(t, "provision", "site", "mallory", "--ca-dir", rogueCA)
	out, _, code = run(t, with("provision", "check", filepath.Join(root, "rogue", "mallory"), "mallory")...)
	if code != 1 || !strings.Contains(out, "wrong CA") {
		t.Errorf("check of a rogue bundle against our CA: exit %d\n%s", code, out)
	}
}

func TestAdminCLIRefusesNonOperatorBundle(t *testing.T) {
	root := t.TempDir()
	caDir := filepath.Join(root, "ca")
	mustRun(t, "provision", "init", "--ca-dir", caDir)
	mustRun(t, "provision", "site", "site-a", "--ca-dir", caDir)
	b := filepath.Join(root, "site-a")
	_, errs, code := run(t, "runs", "list", "--coordinator", "127.0.0.1:1",
		"--cert", filepath.Join(b, "site-a.pem"), "--key", filepath.Join(b, "site-a-key.pem"), "--ca", filepath.Join(b, "ca.pem"))
	if code == 0 || !strings.Contains(errs, "has role site, but using the admin API needs role admin or auditor") {
		t.Errorf("runs list with a site bundle: exit %d, %q", code, errs)
	}
	if _, errs, code := run(t, "runs", "list"); code == 0 || !strings.Contains(errs, "cohort provision user") {
		t.Errorf("runs list without a bundle: exit %d, %q", code, errs)
	}
}
