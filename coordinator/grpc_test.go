package coordinator_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/dataset"
	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/internal/tlsconf"
	"github.com/cohortfl/cohort/model"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// testPKI issues a coordinator certificate and client certificates on demand.
type testPKI struct {
	t   *testing.T
	dir string
	ca  *pki.CA
}

func newTestPKI(t *testing.T) *testPKI {
	ca, err := pki.NewCA("test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{t: t, dir: t.TempDir(), ca: ca}
}

func (p *testPKI) issue(name string, role pki.Role) (ca, cert, key string) {
	var ips []net.IP
	if role == pki.Server {
		ips = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	c, k, err := p.ca.Issue(name, role, nil, ips, time.Hour)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := pki.WriteBundle(p.dir, name, p.ca.CertPEM(), c, k); err != nil {
		p.t.Fatal(err)
	}
	return pki.BundleFiles(p.dir, name)
}

// adminConn dials the coordinator with a new admin certificate: only admins
// may start runs.
func (tc *testCoordinator) adminConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	c, k, err := tc.pki.ca.IssueAs("operator", pki.RoleAdmin, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.RenewBundle(tc.pki.dir, "operator", tc.pki.ca.CertPEM(), c, k); err != nil {
		t.Fatal(err)
	}
	ca, cert, key := pki.BundleFiles(tc.pki.dir, "operator")
	cfg, err := tlsconf.ClientConfig(cert, key, ca, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(tc.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (p *testPKI) clientTLS(name string) *tls.Config {
	ca, cert, key := p.issue(name, pki.Client)
	cfg, err := tlsconf.ClientConfig(cert, key, ca, "127.0.0.1")
	if err != nil {
		p.t.Fatal(err)
	}
	return cfg
}

func hmdaShards(t *testing.T, k int) ([]model.Examples, int) {
	t.Helper()
	b, err := dataset.Builtin("hmda")
	if err != nil {
		t.Fatal(err)
	}
	tab, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := dataset.NewEncoder(tab)
	if err != nil {
		t.Fatal(err)
	}
	all, err := enc.Encode(tab)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := dataset.IID(all.N, k, 1)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]model.Examples, k)
	for i, p := range parts {
		out[i] = all.Subset(p)
	}
	return out, all.D
}

// TestBadUpdatesAreRejectedAndTheRoundGoesOn runs a real coordinator over gRPC
// with mutual TLS on loopback, two honest sites and one site that sends an
// update of the wrong length, an update containing NaN, a replay of an upload
// for a closed round and malformed evaluation counts. Each is refused with a
// clear error and the right status code, and the run completes with the
// honest sites.
func TestBadUpdatesAreRejectedAndTheRoundGoesOn(t *testing.T) {
	tc := startTestCoordinator(t, 60*time.Second)
	p, db, ctx, addr := tc.pki, tc.db, tc.ctx, tc.addr

	shards, features := hmdaShards(t, 2)
	rc := coordinator.DefaultRunConfig()
	rc.RunID, rc.Rounds, rc.MinClients, rc.Features, rc.Standardize = "bad-input", 4, 2, features, false
	rc.RoundTimeout = coordinator.Duration(20 * time.Second)
	rc.OnFailure = coordinator.OnFailureStop

	var wg sync.WaitGroup
	for i, sh := range shards {
		tr, err := client.NewModelTrainer(sh, sh.Subset([]int{0, 1, 2, 3}))
		if err != nil {
			t.Fatal(err)
		}
		cfg := p.clientTLS([]string{"site-a", "site-b"}[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = client.Run(ctx, client.Options{Address: addr, TLS: cfg, Trainer: tr, ExitWhenDone: true,
				InitialBackoff: 20 * time.Millisecond})
		}()
	}

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(p.clientTLS("mallory"))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := cohortv1.NewSiteServiceClient(conn)
	stream, err := api.Connect(ctx, &cohortv1.ConnectRequest{})
	if err != nil {
		t.Fatal(err)
	}

	startRunWhenConnected(t, ctx, tc.adminConn(t), 3, rc)

	type outcome struct {
		what string
		err  error
	}
	var got []outcome
	var round1 *cohortv1.Task
	for {
		task, err := stream.Recv()
		if err != nil {
			t.Fatalf("mallory's task stream: %v", err)
		}
		if task.Kind == cohortv1.TaskKind_TASK_KIND_DONE {
			break
		}
		switch {
		case task.Kind == cohortv1.TaskKind_TASK_KIND_FIT && task.Round == 1:
			round1 = task
			got = append(got, outcome{"wrong length", upload(ctx, api, task, make([]float64, task.NumParams-1))})
		case task.Kind == cohortv1.TaskKind_TASK_KIND_FIT && task.Round == 2:
			v := make([]float64, task.NumParams)
			v[5] = math.NaN()
			got = append(got, outcome{"NaN", upload(ctx, api, task, v)})
			got = append(got, outcome{"replay of round 1", upload(ctx, api, round1, make([]float64, round1.NumParams))})
		case task.Kind == cohortv1.TaskKind_TASK_KIND_FIT && task.Round == 3:
			// A well-formed update without the site's signature.
			got = append(got, outcome{"unsigned", upload(ctx, api, task, make([]float64, task.NumParams))})
		case task.Kind == cohortv1.TaskKind_TASK_KIND_FIT && task.Round == 4:
			// Signed, but with a key that is not mallory's certificate key.
			other, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, outcome{"signed by another key", uploadSigned(ctx, api, task, make([]float64, task.NumParams), other)})
		case task.Kind == cohortv1.TaskKind_TASK_KIND_EVALUATE && task.Round >= 3:
			c := coordinator.EvalResult{N: 2, Correct: 1, LossSum: 1, PosHist: make([]float64, coordinator.EvalBins), NegHist: make([]float64, coordinator.EvalBins)}
			c.PosHist[0], c.NegHist[0] = 1, 1
			_, err := api.SubmitEvaluation(ctx, &cohortv1.EvaluationResult{RunId: task.RunId, Round: task.Round, Nonce: task.Nonce,
				NumExamples: c.N, Correct: c.Correct, LossSum: c.LossSum, PosHist: c.PosHist, NegHist: c.NegHist})
			if err != nil {
				t.Errorf("a valid evaluation in round %d: %v", task.Round, err)
			}
		case task.Kind == cohortv1.TaskKind_TASK_KIND_EVALUATE && task.Round == 1:
			_, err := api.SubmitEvaluation(ctx, &cohortv1.EvaluationResult{RunId: task.RunId, Round: task.Round,
				Nonce: task.Nonce, NumExamples: 3, Correct: 1, PosHist: []float64{1, 1, 1}, NegHist: []float64{0, 0, 0}})
			got = append(got, outcome{"bad histogram", err})
		case task.Kind == cohortv1.TaskKind_TASK_KIND_EVALUATE && task.Round == 2:
			_, err := api.SubmitEvaluation(ctx, &cohortv1.EvaluationResult{RunId: task.RunId, Round: task.Round,
				Nonce: task.Nonce, NumExamples: 1, LossSum: math.Inf(1), PosHist: make([]float64, coordinator.EvalBins), NegHist: make([]float64, coordinator.EvalBins)})
			got = append(got, outcome{"infinite loss", err})
		}
	}
	wg.Wait()

	want := []struct {
		what string
		code codes.Code
		msg  string
	}{
		{"wrong length", codes.InvalidArgument, "update has"},
		{"bad histogram", codes.InvalidArgument, "bins"},
		{"NaN", codes.InvalidArgument, "index 5"},
		{"replay of round 1", codes.FailedPrecondition, "another run or round"},
		{"infinite loss", codes.InvalidArgument, "loss sum"},
		{"unsigned", codes.InvalidArgument, "signature is missing"},
		{"signed by another key", codes.InvalidArgument, "does not verify under the site's certificate"},
	}
	if len(got) != len(want) {
		t.Fatalf("mallory made %d attempts (%v), want %d", len(got), got, len(want))
	}
	for i, w := range want {
		st, _ := status.FromError(got[i].err)
		if got[i].what != w.what || st.Code() != w.code || !strings.Contains(st.Message(), w.msg) {
			t.Errorf("%s: got %s error %v, want code %v with %q", w.what, got[i].what, got[i].err, w.code, w.msg)
		}
	}

	rounds, err := db.Rounds(context.Background(), rc.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rounds) != 4 {
		t.Fatalf("%d rounds recorded, want 4", len(rounds))
	}
	for _, r := range rounds {
		if r.Status != "committed" {
			t.Errorf("round %d is %s, want committed", r.Round, r.Status)
		}
		for _, pt := range r.Participants {
			wantSt := "accepted"
			if pt.Client == "mallory" {
				wantSt = "rejected"
			}
			if pt.Status != wantSt {
				t.Errorf("round %d: %s is %s (%s), want %s", r.Round, pt.Client, pt.Status, pt.Reason, wantSt)
			}
		}
	}
	run, err := db.GetRun(context.Background(), rc.RunID)
	if err != nil || run.State != "completed" {
		t.Fatalf("run state = %v, %v; want completed", run.State, err)
	}
	tc.stop(t)
}

func upload(ctx context.Context, api cohortv1.SiteServiceClient, task *cohortv1.Task, v []float64) error {
	return uploadSigned(ctx, api, task, v, nil)
}

// uploadSigned uploads v, signed with key unless key is nil.
func uploadSigned(ctx context.Context, api cohortv1.SiteServiceClient, task *cohortv1.Task, v []float64, key *ecdsa.PrivateKey) error {
	s, err := api.UploadUpdate(ctx)
	if err != nil {
		return err
	}
	hdr := &cohortv1.UploadHeader{RunId: task.RunId, Round: task.Round, Nonce: task.Nonce, NumExamples: 10, PayloadBytes: int64(8 * len(v))}
	if key != nil {
		h := protocol.ValuesSHA256(v)
		d := protocol.UpdateSigningDigest(task.RunId, task.Round, task.Nonce, 10, h)
		sig, err := ecdsa.SignASN1(crand.Reader, key, d[:])
		if err != nil {
			return err
		}
		hdr.ValuesSha256, hdr.Signature = h[:], sig
	}
	if err := s.Send(&cohortv1.UploadChunk{Msg: &cohortv1.UploadChunk_Header{Header: hdr}}); err != nil {
		return err
	}
	if err := s.Send(&cohortv1.UploadChunk{Msg: &cohortv1.UploadChunk_Data{Data: protocol.AppendFloats(nil, v)}}); err != nil && err != io.EOF {
		return err
	}
	_, err = s.CloseAndRecv()
	return err
}

// testCoordinator is a coordinator served in-process over mTLS on loopback,
// with a real SQLite file.
type testCoordinator struct {
	pki  *testPKI
	db   *store.DB
	addr string
	ctx  context.Context
	stop func(t *testing.T) // cancels ctx and checks Serve's error
}

func startTestCoordinator(t *testing.T, timeout time.Duration) *testCoordinator {
	t.Helper()
	return startTestCoordinatorWith(t, timeout, nil)
}

// startTestCoordinatorWith is startTestCoordinator with edit applied to the
// serve options.
func startTestCoordinatorWith(t *testing.T, timeout time.Duration, edit func(*coordinator.ServeOptions)) *testCoordinator {
	t.Helper()
	p := newTestPKI(t)
	caF, certF, keyF := p.issue("coordinator", pki.Server)
	srvTLS, err := tlsconf.ServerConfig(certF, keyF, caF)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ln := listen(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	so := coordinator.ServeOptions{Listener: ln, TLS: srvTLS, DB: db}
	if edit != nil {
		edit(&so)
	}
	go func() { done <- coordinator.Serve(ctx, so) }()
	return &testCoordinator{pki: p, db: db, addr: ln.Addr().String(), ctx: ctx, stop: func(t *testing.T) {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("Serve: %v", err)
		}
	}}
}

// startRunWhenConnected waits until n sites hold a task stream, then starts rc
// through the admin API.
func startRunWhenConnected(t *testing.T, ctx context.Context, conn *grpc.ClientConn, n int, rc coordinator.RunConfig) {
	t.Helper()
	admin := cohortv1.NewAdminServiceClient(conn)
	for {
		sites, err := admin.ListSites(ctx, &cohortv1.ListSitesRequest{})
		if err == nil && len(sites.Sites) == n {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d sites never connected: %v", n, ctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cj, err := json.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.StartRun(ctx, &cohortv1.StartRunRequest{ConfigJson: string(cj)}); err != nil {
		t.Fatal(err)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
