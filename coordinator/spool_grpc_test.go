package coordinator_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/internal/protocol"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// spoolUpload is one scripted fit upload: header announces values and
// carries the signature over signed; send is what is actually streamed.
type spoolUpload struct {
	announce int
	send     []float64
	signed   []float64
	key      *ecdsa.PrivateKey
}

func (u spoolUpload) do(ctx context.Context, api cohortv1.SiteServiceClient, task *cohortv1.Task) error {
	s, err := api.UploadUpdate(ctx)
	if err != nil {
		return err
	}
	h := protocol.ValuesSHA256(u.signed)
	d := protocol.UpdateSigningDigest(task.RunId, task.Round, task.Nonce, 10, h)
	sig, err := ecdsa.SignASN1(crand.Reader, u.key, d[:])
	if err != nil {
		return err
	}
	hdr := &cohortv1.UploadHeader{RunId: task.RunId, Round: task.Round, Nonce: task.Nonce, NumExamples: 10,
		PayloadBytes: int64(8 * u.announce), ValuesSha256: h[:], Signature: sig}
	if err := s.Send(&cohortv1.UploadChunk{Msg: &cohortv1.UploadChunk_Header{Header: hdr}}); err != nil {
		return err
	}
	for off := 0; off < len(u.send); off += protocol.ChunkValues {
		data := protocol.AppendFloats(nil, u.send[off:min(off+protocol.ChunkValues, len(u.send))])
		if err := s.Send(&cohortv1.UploadChunk{Msg: &cohortv1.UploadChunk_Data{Data: data}}); err != nil {
			break // the server has answered; CloseAndRecv returns its status
		}
	}
	_, err = s.CloseAndRecv()
	if err == io.EOF {
		err = nil
	}
	return err
}

// TestSpooledUploadsOverGRPC drives one round of a model whose updates are
// spooled to disk (150,001 parameters, 1.2 MB per update) over mTLS: two
// honest sites, and four whose uploads fail only after most of their
// values were spooled (NaN in the last value, too few values, too many, a
// signature by another key). The bad ones are refused with errors naming
// the problem, the round commits, the new model is exactly the FedAvg of
// the two honest updates (so nothing of a refused upload reached the sum),
// and no spool file is left in the spool directory.
func TestSpooledUploadsOverGRPC(t *testing.T) {
	spoolDir := t.TempDir()
	tc := startTestCoordinatorWith(t, 90*time.Second, func(o *coordinator.ServeOptions) { o.SpoolDir = spoolDir })
	ctx := tc.ctx
	const features = 150_000
	n := features + 1 // logreg: weights and bias
	if 8*n <= 1<<20 {
		t.Fatalf("the model (%d bytes) would not be spooled", 8*n)
	}
	da, db := make([]float64, n), make([]float64, n)
	for i := range n {
		da[i], db[i] = 0.01*math.Sin(float64(i)), 0.02*math.Cos(float64(i))
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	nan := append([]float64(nil), da...)
	nan[n-1] = math.NaN()

	type site struct {
		name   string
		upload func(key *ecdsa.PrivateKey) spoolUpload
		code   codes.Code
		msg    string
	}
	sites := []site{
		{"site-a", func(k *ecdsa.PrivateKey) spoolUpload { return spoolUpload{n, da, da, k} }, codes.OK, ""},
		{"site-b", func(k *ecdsa.PrivateKey) spoolUpload { return spoolUpload{n, db, db, k} }, codes.OK, ""},
		{"nan-at-end", func(k *ecdsa.PrivateKey) spoolUpload { return spoolUpload{n, nan, nan, k} }, codes.InvalidArgument,
			fmt.Sprintf("index %d is NaN", n-1)},
		{"short", func(k *ecdsa.PrivateKey) spoolUpload { return spoolUpload{n, da[:n-1000], da, k} }, codes.InvalidArgument,
			fmt.Sprintf("payload ended after %d of %d announced values", n-1000, n)},
		{"long", func(k *ecdsa.PrivateKey) spoolUpload { return spoolUpload{n, append(da[:n:n], 1), da, k} }, codes.InvalidArgument,
			"continues past"},
		{"forged", func(k *ecdsa.PrivateKey) spoolUpload { return spoolUpload{n, da, da, other} }, codes.InvalidArgument,
			"does not verify under the site's certificate"},
	}

	rc := coordinator.DefaultRunConfig()
	rc.RunID, rc.Rounds, rc.MinClients, rc.Features, rc.Standardize = "spool", 1, 2, features, false
	rc.RoundTimeout = coordinator.Duration(60 * time.Second)
	rc.OnFailure = coordinator.OnFailureStop

	results := make([]error, len(sites))
	var wg sync.WaitGroup
	for i, s := range sites {
		cfg := tc.pki.clientTLS(s.name)
		key := cfg.Certificates[0].PrivateKey.(*ecdsa.PrivateKey)
		conn, err := grpc.NewClient(tc.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		api := cohortv1.NewSiteServiceClient(conn)
		stream, err := api.Connect(ctx, &cohortv1.ConnectRequest{NumExamples: 10})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				task, err := stream.Recv()
				if err != nil || task.Kind == cohortv1.TaskKind_TASK_KIND_DONE {
					return
				}
				switch task.Kind {
				case cohortv1.TaskKind_TASK_KIND_FIT:
					results[i] = s.upload(key).do(ctx, api, task)
				case cohortv1.TaskKind_TASK_KIND_EVALUATE:
					c := coordinator.EvalResult{N: 2, Correct: 1, LossSum: 1, PosHist: make([]float64, coordinator.EvalBins), NegHist: make([]float64, coordinator.EvalBins)}
					c.PosHist[0], c.NegHist[0] = 1, 1
					_, _ = api.SubmitEvaluation(ctx, &cohortv1.EvaluationResult{RunId: task.RunId, Round: task.Round, Nonce: task.Nonce,
						NumExamples: c.N, Correct: c.Correct, LossSum: c.LossSum, PosHist: c.PosHist, NegHist: c.NegHist})
				}
			}
		}()
	}
	startRunWhenConnected(t, ctx, tc.adminConn(t), len(sites), rc)
	wg.Wait()

	for i, s := range sites {
		st, _ := status.FromError(results[i])
		if st.Code() != s.code || !strings.Contains(st.Message(), s.msg) {
			t.Errorf("%s: got %v, want code %v with %q", s.name, results[i], s.code, s.msg)
		}
	}
	v0, err := tc.db.GetModel(context.Background(), rc.RunID, 0)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := tc.db.GetModel(context.Background(), rc.RunID, 1)
	if err != nil {
		t.Fatalf("round 1 did not commit: %v", err)
	}
	for i := range n {
		want := v0.Params[i] + (10*da[i]+10*db[i])/20
		if math.Abs(v1.Params[i]-want) > 1e-15*max(1, math.Abs(want)) {
			t.Fatalf("parameter %d = %v, want %v (the FedAvg of the honest updates only)", i, v1.Params[i], want)
		}
	}
	rounds, err := tc.db.Rounds(context.Background(), rc.RunID)
	if err != nil || len(rounds) != 1 {
		t.Fatalf("rounds: %v, %v", rounds, err)
	}
	accepted := 0
	for _, p := range rounds[0].Participants {
		if p.Status == "accepted" {
			accepted++
		}
	}
	if accepted != 2 {
		t.Errorf("%d participants accepted, want 2: %+v", accepted, rounds[0].Participants)
	}
	if ents, _ := os.ReadDir(spoolDir); len(ents) != 0 {
		t.Errorf("spool directory holds %d entries after the round", len(ents))
	}
	tc.stop(t)
}
