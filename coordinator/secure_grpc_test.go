package coordinator_test

import (
	"context"
	"crypto"
	"crypto/x509"
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
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/internal/secwire"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// TestSecureTamperingIsRejected runs secure aggregation over gRPC with mTLS:
// two honest sites and mallory, a key holder who follows the key ceremony and
// decrypts honestly but uploads a ciphertext with a flipped byte, then a
// contribution with a corrupted signature, then her round-1 contribution
// again under a later round's task. Each is rejected with a clear error and
// every round commits with the honest sites' sum.
func TestSecureTamperingIsRejected(t *testing.T) {
	if testing.Short() {
		t.Skip("HE over gRPC")
	}
	tc := startTestCoordinator(t, 90*time.Second)
	p, db, ctx, addr := tc.pki, tc.db, tc.ctx, tc.addr
	shards, features := hmdaShards(t, 3)
	rc := coordinator.DefaultRunConfig()
	rc.RunID, rc.Rounds, rc.MinClients, rc.Features, rc.Standardize = "tamper", 3, 2, features, false
	rc.Secure, rc.Threshold = coordinator.SecureHE, 2
	rc.RoundTimeout = coordinator.Duration(30 * time.Second)
	rc.OnFailure = coordinator.OnFailureStop

	var wg sync.WaitGroup
	for i, name := range []string{"site-a", "site-b"} {
		tr, err := client.NewModelTrainer(shards[i], shards[i].Subset([]int{0, 1, 2, 3, 4, 5}))
		if err != nil {
			t.Fatal(err)
		}
		cfg := p.clientTLS(name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = client.Run(ctx, client.Options{Address: addr, TLS: cfg, Trainer: tr, ExitWhenDone: true, InitialBackoff: 20 * time.Millisecond})
		}()
	}

	mtls := p.clientTLS("mallory")
	leaf, _ := x509.ParseCertificate(mtls.Certificates[0].Certificate[0])
	mtr, err := client.NewModelTrainer(shards[2], shards[2].Subset([]int{0, 1, 2, 3, 4, 5}))
	if err != nil {
		t.Fatal(err)
	}
	mx := client.NewExecutor(leaf.Subject.CommonName, mtr, client.Credentials{Signer: mtls.Certificates[0].PrivateKey.(crypto.Signer),
		Certificate: mtls.Certificates[0].Certificate[0], Roots: mtls.RootCAs})
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(mtls)))
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
	var round1 []byte // mallory's genuine round-1 contribution
	for {
		task, err := stream.Recv()
		if err != nil {
			t.Fatalf("mallory's stream: %v", err)
		}
		if task.Kind == cohortv1.TaskKind_TASK_KIND_DONE {
			break
		}
		cfg, err := protocol.DecodeTaskConfig(task.Config)
		if err != nil {
			t.Fatal(err)
		}
		res, err := mx.Execute(ctx, client.Task{RunID: task.RunId, Round: int(task.Round), Kind: task.Kind, Config: cfg},
			func() ([]float64, error) { return download(ctx, api, task) },
			func() ([]byte, error) { return downloadBlob(ctx, api, task) })
		if err != nil {
			t.Fatalf("mallory's executor, %v: %v", task.Kind, err)
		}
		open := api.SubmitSecAgg
		if task.Kind == cohortv1.TaskKind_TASK_KIND_FIT {
			open = api.UploadUpdate
			m, _ := secwire.Unmarshal(res.Sealed)
			c := m.GetContribution()
			switch task.Round {
			case 1:
				round1 = res.Sealed
				c.Ciphertexts[0][len(c.Ciphertexts[0])/2] ^= 0x10
				res.Sealed, _ = secwire.Marshal(m)
				got = append(got, outcome{"flipped ciphertext byte", uploadSealed(ctx, open, task, res.Sealed)})
				continue
			case 2:
				c.Signature[3] ^= 1
				res.Sealed, _ = secwire.Marshal(m)
				got = append(got, outcome{"bad signature", uploadSealed(ctx, open, task, res.Sealed)})
				continue
			case 3:
				got = append(got, outcome{"round-1 contribution replayed", uploadSealed(ctx, open, task, round1)})
				continue
			}
		}
		if err := uploadSealed(ctx, open, task, res.Sealed); err != nil {
			t.Fatalf("mallory's honest %v upload: %v", task.Kind, err)
		}
	}
	wg.Wait()
	want := []struct {
		what string
		code codes.Code
		msg  string
	}{
		{"flipped ciphertext byte", codes.InvalidArgument, "signature"},
		{"bad signature", codes.InvalidArgument, "signature"},
		{"round-1 contribution replayed", codes.InvalidArgument, "round"},
	}
	if len(got) != len(want) {
		t.Fatalf("mallory made %d tampered uploads, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		st, _ := status.FromError(got[i].err)
		if st.Code() != w.code || !strings.Contains(st.Message(), w.msg) {
			t.Errorf("%s: got %v, want code %v mentioning %q", w.what, got[i].err, w.code, w.msg)
		}
	}
	rounds, err := db.Rounds(context.Background(), rc.RunID)
	if err != nil {
		t.Fatal(err)
	}
	committed := 0
	for _, r := range rounds {
		if r.Status == "committed" {
			committed++
		}
	}
	if committed != 3 {
		t.Fatalf("%d rounds committed, want 3", committed)
	}
	run, _ := db.GetRun(context.Background(), rc.RunID)
	if run.State != "completed" {
		t.Fatalf("run is %s (%s), want completed", run.State, run.Error)
	}
	tc.stop(t)
}

func uploadSealed(ctx context.Context, open func(context.Context, ...grpc.CallOption) (grpc.ClientStreamingClient[cohortv1.UploadChunk, cohortv1.UploadAck], error), task *cohortv1.Task, b []byte) error {
	s, err := open(ctx)
	if err != nil {
		return err
	}
	hdr := &cohortv1.UploadHeader{RunId: task.RunId, Round: task.Round, Nonce: task.Nonce, PayloadBytes: int64(len(b)), Kind: task.Kind}
	if err := s.Send(&cohortv1.UploadChunk{Msg: &cohortv1.UploadChunk_Header{Header: hdr}}); err != nil {
		return err
	}
	_ = s.Send(&cohortv1.UploadChunk{Msg: &cohortv1.UploadChunk_Data{Data: b}})
	_, err = s.CloseAndRecv()
	return err
}

func download(ctx context.Context, api cohortv1.SiteServiceClient, task *cohortv1.Task) ([]float64, error) {
	s, err := api.DownloadModel(ctx, &cohortv1.DownloadModelRequest{RunId: task.RunId, ModelVersion: task.ModelVersion})
	if err != nil {
		return nil, err
	}
	out := make([]float64, 0, task.NumParams)
	for {
		c, err := s.Recv()
		if err != nil {
			break
		}
		v := make([]float64, len(c.Values)/8)
		if err := protocol.DecodeFloats(v, c.Values, len(out)); err != nil {
			return nil, err
		}
		out = append(out, v...)
	}
	return out, nil
}

func downloadBlob(ctx context.Context, api cohortv1.SiteServiceClient, task *cohortv1.Task) ([]byte, error) {
	s, err := api.DownloadModel(ctx, &cohortv1.DownloadModelRequest{RunId: task.RunId, Blob: task.Blob})
	if err != nil {
		return nil, err
	}
	var out []byte
	for {
		c, err := s.Recv()
		if err != nil {
			break
		}
		out = append(out, c.Values...)
	}
	return out, nil
}
