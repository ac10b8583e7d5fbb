package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// TestProvisionSiteAddedLaterJoinsNextRun: a site provisioned after a run
// joins the next run, and adding it leaves every other bundle byte for byte
// as it was.
func TestProvisionSiteAddedLaterJoinsNextRun(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "pki"), "site-a", "site-b")
	p.addUser(t, "alice", "admin")
	db := filepath.Join(dir, "coordinator.db")
	c := startCoordinator(t, p, db, "", "--crl", p.crl())
	a := startSite(t, p, "site-a", c.addr, "1/3")
	b := startSite(t, p, "site-b", c.addr, "2/3")
	waitSitesCLI(t, p, "alice", c.addr, []string{"site-a", "site-b"}, 30*time.Second, c.proc, a, b)

	first := writeRunConfigFile(t, dir, "before.json", quickRun("before", 2, 2))
	out, errOut, code := p.asUser(t, "alice", c.addr, "runs", "start", first)
	if code != 0 {
		t.Fatalf("runs start (admin): exit %d\n%s", code, errOut)
	}
	mustContain(t, "runs start", out, "started run before")
	if st := waitRunCLI(t, p, "alice", c.addr, "before", 60*time.Second, c.proc); st.State != "completed" {
		t.Fatalf("run before: %+v; want completed", st)
	}

	before := hashFiles(t, p.dir)
	out = p.addSite(t, "site-c")
	mustContain(t, "provision site site-c", out, `issued site certificate for "site-c"`)
	after := hashFiles(t, p.dir)
	for path, h := range before {
		if after[path] != h {
			t.Errorf("adding site-c changed %s", path)
		}
	}
	var added []string
	for path := range after {
		if _, ok := before[path]; !ok {
			added = append(added, strings.TrimPrefix(path, p.dir+"/"))
		}
	}
	slices.Sort(added)
	if len(added) != 3 || filepath.Dir(added[0]) != "ca/issued" || added[1] != "site-c-key.pem" || added[2] != "site-c.pem" {
		t.Errorf("adding site-c wrote %v; want its certificate and key, and the CA's record of it in ca/issued", added)
	}
	t.Logf("%d files unchanged byte for byte; added %v", len(before), added)

	cs := startSite(t, p, "site-c", c.addr, "3/3")
	waitSitesCLI(t, p, "alice", c.addr, []string{"site-a", "site-b", "site-c"}, 30*time.Second, c.proc, cs)
	second := writeRunConfigFile(t, dir, "after.json", quickRun("after", 2, 3))
	if _, errOut, code := p.asUser(t, "alice", c.addr, "runs", "start", second); code != 0 {
		t.Fatalf("runs start after: exit %d\n%s", code, errOut)
	}
	if st := waitRunCLI(t, p, "alice", c.addr, "after", 60*time.Second, c.proc); st.State != "completed" || st.RoundsCompleted != 2 {
		t.Fatalf("run after: %+v; want completed, 2 rounds", st)
	}
	ro := openRO(t, db)
	for r, ps := range committed(t, ro, "after") {
		if got := accepted(ps); !slices.Equal(got, []string{"site-a", "site-b", "site-c"}) {
			t.Errorf("run after, round %d accepted %v; want site-a, site-b and site-c", r, got)
		}
	}
	for r, ps := range committed(t, ro, "before") {
		if got := accepted(ps); !slices.Equal(got, []string{"site-a", "site-b"}) {
			t.Errorf("run before, round %d accepted %v; want site-a and site-b", r, got)
		}
	}
}

// TestProvisionRevokedSiteRefused revokes a connected site while the
// coordinator runs: its open stream is closed, it cannot reconnect, and the
// coordinator keeps serving the others, all without a restart.
func TestProvisionRevokedSiteRefused(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "pki"), "site-a", "site-b", "site-c")
	p.addUser(t, "alice", "admin")
	db := filepath.Join(dir, "coordinator.db")
	c := startCoordinator(t, p, db, "", "--crl", p.crl())
	a := startSite(t, p, "site-a", c.addr, "1/3")
	b := startSite(t, p, "site-b", c.addr, "2/3")
	cs := startSite(t, p, "site-c", c.addr, "3/3")
	waitSitesCLI(t, p, "alice", c.addr, []string{"site-a", "site-b", "site-c"}, 30*time.Second, c.proc, a, b, cs)

	out := p.revoke(t, "site-c")
	mustContain(t, "provision revoke site-c", out, `revoked site certificate "site-c"`, "number 2")

	// The connected site is cut off within the coordinator's refresh
	// interval, told why, and exits rather than retrying.
	if code := cs.wait(t, 20*time.Second); code == 0 {
		t.Errorf("revoked site-c exited 0; want an error")
	}
	mustContain(t, "site-c's output", cs.out.String(), "Unauthenticated", `certificate "site-c"`, "revoked at")
	if !c.waitOutput(`actor=site-c`, 5*time.Second) {
		t.Errorf("coordinator did not log the refused call of site-c")
	}
	mustContain(t, "coordinator log", c.out.String(), "revocation list in force", "number=2")

	// A fresh connection is refused at the handshake, and the site says so.
	again := startSite(t, p, "site-c", c.addr, "3/3")
	if code := again.wait(t, 30*time.Second); code == 0 {
		t.Errorf("site-c restarted after revocation exited 0; want an error")
	}
	mustContain(t, "restarted site-c's output", again.out.String(), "TLS handshake with the coordinator was refused", "bad certificate", "revoked")
	if !c.waitOutput("refused TLS connection", 5*time.Second) {
		t.Errorf("coordinator did not log the refused handshake")
	}
	mustContain(t, "coordinator log", c.out.String(), `peer certificate \"site-c\"`, "certificate revoked")
	refused := mustCLI(t, "audit", "log", "--db", filepath.Join(dir, "coordinator.db"), "--kind", "site_refused", "--output", "json")
	mustContain(t, "audit log --kind site_refused", refused, "site_refused", "revoked")

	// The bundle check says what is wrong.
	out, _, code := runCLI(t, 30*time.Second, "provision", "check", p.dir, "site-c", "--ca-dir", p.caDir())
	if code != 1 {
		t.Errorf("provision check of the revoked bundle: exit %d; want 1", code)
	}
	mustContain(t, "provision check", out, "revocation", "fail", "revoked at")

	// The others carry on: a run with site-a and site-b completes.
	if c.exited() {
		t.Fatalf("coordinator exited (code %d) after a revocation", exitCode(c.err))
	}
	waitSitesCLI(t, p, "alice", c.addr, []string{"site-a", "site-b"}, 10*time.Second, c.proc)
	run := writeRunConfigFile(t, dir, "without-c.json", quickRun("without-c", 2, 2))
	if _, errOut, code := p.asUser(t, "alice", c.addr, "runs", "start", run); code != 0 {
		t.Fatalf("runs start: exit %d\n%s", code, errOut)
	}
	if st := waitRunCLI(t, p, "alice", c.addr, "without-c", 60*time.Second, c.proc, a, b); st.State != "completed" {
		t.Fatalf("run without-c: %+v; want completed", st)
	}
	for r, ps := range committed(t, openRO(t, db), "without-c") {
		if got := accepted(ps); !slices.Equal(got, []string{"site-a", "site-b"}) {
			t.Errorf("round %d accepted %v; want site-a and site-b", r, got)
		}
	}
}

// TestProvisionExpiredCertificateRefused: an expired certificate is refused
// by the site itself, by the bundle check and by the coordinator, each saying
// that it expired and when; a renewed bundle connects.
func TestProvisionExpiredCertificateRefused(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "pki"))
	p.addSite(t, "brief", "--valid-for", "1s")
	expiry := notAfter(t, p, "brief")
	c := startCoordinator(t, p, filepath.Join(dir, "coordinator.db"), "", "--crl", p.crl())
	time.Sleep(time.Until(mustParse(t, expiry).Add(1100 * time.Millisecond)))

	_, errOut, code := runCLI(t, 30*time.Second, append([]string{"client", "run", "--coordinator", c.addr, "--dataset", "hmda"}, p.tlsFlags("brief")...)...)
	if code == 0 {
		t.Fatal("a site with an expired certificate started")
	}
	mustContain(t, "client run with an expired certificate", errOut, p.cert("brief"), "certificate expired", "expired at "+expiry)

	out, _, code := runCLI(t, 30*time.Second, "provision", "check", p.dir, "brief", "--ca-dir", p.caDir(), "--output", "json")
	if code != 1 {
		t.Errorf("provision check: exit %d; want 1", code)
	}
	mustContain(t, "provision check --output json", out, `"check": "validity"`, `"status": "fail"`, "expired at "+expiry)

	// Presented anyway, the coordinator refuses it and logs why.
	err := rawTLSRead(t, p, "brief", c.addr)
	if err == nil || !strings.Contains(err.Error(), "expired certificate") {
		t.Errorf("raw TLS with the expired certificate: %v; want an 'expired certificate' alert", err)
	}
	if !c.waitOutput("refused TLS connection", 5*time.Second) {
		t.Fatal("coordinator did not log the refused handshake")
	}
	mustContain(t, "coordinator log", c.out.String(), "certificate has expired")

	// Renewal: a new key and certificate under the same name connects.
	out = mustCLI(t, "provision", "renew", "brief", "--ca-dir", p.caDir(), "--out", p.dir)
	mustContain(t, "provision renew", out, `issued site certificate for "brief"`)
	site := startSite(t, p, "brief", c.addr, "1/1")
	if !c.waitOutput(`msg="site connected" site=brief`, 30*time.Second) {
		t.Errorf("renewed site did not connect:\n%s", tail(site.out.String(), 2000))
	}
}

func mustParse(t *testing.T, stamp string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, stamp)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestProvisionAuditorReadOnly: an auditor reads runs and sites through the
// CLI but may not start or stop a run; sites may not use the admin API and
// operators may not use the site API.
func TestProvisionAuditorReadOnly(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	p := newPKI(t, filepath.Join(dir, "pki"), "site-a", "site-b")
	p.addUser(t, "alice", "admin")
	p.addUser(t, "carol", "auditor")
	c := startCoordinator(t, p, filepath.Join(dir, "coordinator.db"), "", "--crl", p.crl())
	a := startSite(t, p, "site-a", c.addr, "1/2")
	b := startSite(t, p, "site-b", c.addr, "2/2")
	waitSitesCLI(t, p, "carol", c.addr, []string{"site-a", "site-b"}, 30*time.Second, c.proc, a, b)

	run := writeRunConfigFile(t, dir, "audited.json", quickRun("audited", 2, 2))
	_, errOut, code := p.asUser(t, "carol", c.addr, "runs", "start", run)
	if code == 0 {
		t.Fatal("an auditor started a run")
	}
	mustContain(t, "runs start as auditor", errOut, "PermissionDenied", "role auditor may not call cohort.v1.AdminService/StartRun (allowed: admin)")

	if _, errOut, code := p.asUser(t, "alice", c.addr, "runs", "start", run); code != 0 {
		t.Fatalf("runs start as admin: exit %d\n%s", code, errOut)
	}
	st := waitRunCLI(t, p, "carol", c.addr, "audited", 60*time.Second, c.proc)
	if st.State != "completed" || st.RoundsCompleted != 2 {
		t.Errorf("runs get as auditor: %+v; want completed after 2 rounds", st)
	}
	out, errOut, code := p.asUser(t, "carol", c.addr, "runs", "list")
	if code != 0 {
		t.Fatalf("runs list as auditor: exit %d\n%s", code, errOut)
	}
	mustContain(t, "runs list", out, "RUN", "audited", "completed", "2/2")
	_, errOut, code = p.asUser(t, "carol", c.addr, "runs", "stop", "audited")
	if code == 0 {
		t.Error("an auditor stopped a run")
	}
	mustContain(t, "runs stop as auditor", errOut, "PermissionDenied", "role auditor may not call cohort.v1.AdminService/StopRun")
	// The auditor reads the run's report through the admin API; the
	// coordinator verified the signed model with its key and the CA.
	reportFile := filepath.Join(dir, "audited-report.json")
	out, errOut, code = p.asUser(t, "carol", c.addr, "report", "audited", "--format", "json", "--out", reportFile)
	if code != 0 {
		t.Fatalf("report as auditor: exit %d\n%s", code, errOut)
	}
	mustContain(t, "report as auditor", out, "wrote", "from coordinator")
	rb, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "auditor's report", string(rb), `"run_id": "audited"`, `"name": "model cohort-logreg 1.0.0 signatures"`,
		`"name": "audit chain"`, `"verdict": "verified"`)
	mustContain(t, "coordinator log", c.out.String(), `msg="call refused" actor=carol role=auditor method=/cohort.v1.AdminService/StartRun`,
		`msg="run started through the admin API" run=audited by=alice role=admin`)

	// A site certificate on the admin API, and an admin certificate on the
	// site API, are refused by the coordinator (the CLI would not even try).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = adminClient(t, p, "site-a", c.addr).ListRuns(ctx, &cohortv1.ListRunsRequest{})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "role site may not call cohort.v1.AdminService/ListRuns (allowed: admin, auditor)") {
		t.Errorf("ListRuns with a site certificate: %v; want PermissionDenied naming role site", err)
	}
	stream, err := siteClient(t, p, "alice", c.addr).Connect(ctx, &cohortv1.ConnectRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "role admin may not call cohort.v1.SiteService/Connect (allowed: site)") {
		t.Errorf("Connect with an admin certificate: %v; want PermissionDenied naming role admin", err)
	}
	_, errOut, code = runCLI(t, 30*time.Second, append([]string{"client", "run", "--coordinator", c.addr, "--dataset", "hmda"}, p.tlsFlags("carol")...)...)
	if code == 0 {
		t.Error("an auditor's bundle ran a site")
	}
	mustContain(t, "client run with an auditor's bundle", errOut, "has role auditor, but running a site needs role site")

	// Every refusal is in the audit log, and the chain verifies.
	db := filepath.Join(dir, "coordinator.db")
	denied := mustCLI(t, "audit", "log", "--db", db, "--kind", "role_denied", "--output", "json")
	mustContain(t, "audit log --kind role_denied", denied, `"actor": "carol"`, "/cohort.v1.AdminService/StartRun",
		"/cohort.v1.AdminService/StopRun", `"actor": "site-a"`, "/cohort.v1.AdminService/ListRuns", `"actor": "alice"`, "/cohort.v1.SiteService/Connect")
	mustContain(t, "audit verify", mustCLI(t, "audit", "verify", "--db", db), "hash chain intact")
}
