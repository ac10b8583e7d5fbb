package client

import (
	"context"
	"crypto"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/internal/secwire"
	"github.com/cohortfl/cohort/internal/tlsconf"
	"github.com/cohortfl/cohort/model"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// InsecureSiteHeader is the metadata key that carries a site's name when it
// connects with --insecure (loopback demos only). With mTLS, the name is the
// certificate's subject common name and this header is ignored.
const InsecureSiteHeader = "cohort-site"

// Options configure a site's connection to a coordinator.
type Options struct {
	Address string      // coordinator host:port
	TLS     *tls.Config // client mTLS configuration (see internal/tlsconf.ClientConfig); required unless Insecure
	// Insecure disables TLS. It is refused for any address that is not loopback.
	Insecure bool
	// SiteName identifies the site when Insecure (there is no certificate).
	SiteName string
	Trainer  Trainer
	Logger   *slog.Logger // nil: slog.Default()
	// ExitWhenDone makes Run return nil when the coordinator says the run is over.
	ExitWhenDone bool
	// InitialBackoff and MaxBackoff bound the reconnection delay (defaults 200ms, 10s).
	InitialBackoff, MaxBackoff time.Duration
	NumExamples                int64 // informational, sent on Connect
	// ExitAfterFitRound, if positive, makes Run return right after the site
	// uploads its update for that round: fault injection for dropout tests.
	ExitAfterFitRound int
}

// Run connects to the coordinator and executes the tasks it sends until ctx is
// cancelled (or, with ExitWhenDone, the run ends). It reconnects with
// exponential backoff and jitter whenever the stream breaks, for example when
// the coordinator restarts. Errors that retrying cannot fix (a refused
// certificate, a bad address) are returned.
func Run(ctx context.Context, o Options) error {
	if o.Trainer == nil {
		return errors.New("client: Options.Trainer is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	var creds credentials.TransportCredentials
	switch {
	case o.Insecure:
		if err := tlsconf.CheckLoopback(o.Address); err != nil {
			return fmt.Errorf("client: %w", err)
		}
		if o.SiteName == "" {
			return errors.New("client: --insecure needs a site name (there is no certificate to take it from)")
		}
		creds = insecure.NewCredentials()
	case o.TLS == nil:
		return errors.New("client: no TLS configuration: give a certificate, key and CA, or --insecure on loopback")
	default:
		creds = credentials.NewTLS(o.TLS)
	}
	conn, err := grpc.NewClient(o.Address, grpc.WithTransportCredentials(creds))
	if err != nil {
		return fmt.Errorf("client: dialing %s: %w", o.Address, err)
	}
	defer conn.Close()
	name, siteCreds, err := siteIdentity(o)
	if err != nil {
		return err
	}
	s := &session{o: o, api: cohortv1.NewSiteServiceClient(conn), x: NewExecutor(name, o.Trainer, siteCreds)}
	s.x.Logger = o.Logger

	backoff := o.InitialBackoff
	for {
		if o.TLS != nil {
			if err := probeTLS(o.Address, o.TLS); errors.Is(err, errRefusedTLS) {
				return err
			}
		}
		connected, err := s.serve(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errDone) || errors.Is(err, errFaultExit) {
			return nil
		}
		if permanent(err) {
			return fmt.Errorf("client: coordinator refused site: %w", err)
		}
		if connected {
			backoff = o.InitialBackoff
		}
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
		o.Logger.Info("connection to coordinator lost; reconnecting", "address", o.Address, "in", wait.Round(time.Millisecond), "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, o.MaxBackoff)
	}
}

var (
	errDone      = errors.New("client: run finished")
	errFaultExit = errors.New("client: exiting after the fit upload (fault injection)")
)

// permanent reports errors that reconnecting cannot fix.
func permanent(err error) bool {
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument:
		return true
	}
	return false
}

type session struct {
	o   Options
	api cohortv1.SiteServiceClient
	x   *Executor
}

func (s *session) ctx(ctx context.Context) context.Context {
	if s.o.Insecure {
		return metadata.AppendToOutgoingContext(ctx, InsecureSiteHeader, s.o.SiteName)
	}
	return ctx
}

// serve holds one Connect stream and executes its tasks in order.
func (s *session) serve(ctx context.Context) (connected bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := s.api.Connect(s.ctx(ctx), &cohortv1.ConnectRequest{ClientVersion: "cohort-sdk/1", NumExamples: s.o.NumExamples},
		grpc.WaitForReady(false))
	if err != nil {
		return false, err
	}
	for {
		t, err := stream.Recv()
		if err != nil {
			return connected, err
		}
		if !connected {
			connected = true
			s.o.Logger.Info("connected to coordinator", "address", s.o.Address)
		}
		if t.Kind == cohortv1.TaskKind_TASK_KIND_DONE {
			s.o.Logger.Info("run finished", "run", t.RunId)
			if s.o.ExitWhenDone {
				return true, errDone
			}
			continue
		}
		if err := s.execute(ctx, t); err != nil {
			if status.Code(err) == codes.Unavailable || ctx.Err() != nil {
				return true, err
			}
			s.o.Logger.Warn("task failed", "run", t.RunId, "round", t.Round, "kind", t.Kind, "err", err)
		} else if t.Kind == cohortv1.TaskKind_TASK_KIND_FIT && s.o.ExitAfterFitRound > 0 && int(t.Round) == s.o.ExitAfterFitRound {
			s.o.Logger.Warn("exiting after the fit upload (fault injection)", "round", t.Round)
			return true, errFaultExit
		}
	}
}

func (s *session) execute(ctx context.Context, t *cohortv1.Task) error {
	cfg, err := protocol.DecodeTaskConfig(t.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithDeadline(ctx, time.UnixMilli(t.DeadlineUnixMs))
	defer cancel()
	res, err := s.x.Execute(ctx, Task{RunID: t.RunId, Round: int(t.Round), Kind: t.Kind, Config: cfg},
		func() ([]float64, error) { return s.download(ctx, t) },
		func() ([]byte, error) { return s.downloadBlob(ctx, t) })
	if err != nil {
		// Tell the coordinator, so it does not wait for this site until the deadline.
		if rerr := s.reportFailure(ctx, t, err); rerr != nil {
			s.o.Logger.Warn("could not report the failed task", "round", t.Round, "err", rerr)
		}
		return err
	}
	switch {
	case res.Counts != nil:
		c := res.Counts
		_, err = s.api.SubmitEvaluation(s.ctx(ctx), &cohortv1.EvaluationResult{RunId: t.RunId, Round: t.Round,
			Nonce: t.Nonce, NumExamples: c.N, LossSum: c.LossSum, Correct: c.Correct, PosHist: c.PosHist, NegHist: c.NegHist, Extra: res.Extra})
		return err
	case res.Sealed != nil:
		open := s.api.SubmitSecAgg
		switch t.Kind {
		case cohortv1.TaskKind_TASK_KIND_FIT:
			open = s.api.UploadUpdate
		case cohortv1.TaskKind_TASK_KIND_STATISTICS:
			open = s.api.SubmitStatistics
		case cohortv1.TaskKind_TASK_KIND_EVALUATE:
			open = s.api.SubmitSecAgg
		}
		return s.uploadBytes(ctx, t, open, res.Sealed)
	case t.Kind == cohortv1.TaskKind_TASK_KIND_STATISTICS:
		return s.upload(ctx, t, s.api.SubmitStatistics, res.Floats, 0, nil)
	default:
		return s.upload(ctx, t, s.api.UploadUpdate, res.Floats, res.NumExamples, res.Metrics)
	}
}

// Delta returns params − global, checking lengths and finiteness.
func Delta(params, global []float64) ([]float64, error) {
	if len(params) != len(global) {
		return nil, fmt.Errorf("client: trainer returned %d parameters, the global model has %d", len(params), len(global))
	}
	d := make([]float64, len(params))
	for i := range params {
		d[i] = params[i] - global[i]
		if math.IsNaN(d[i]) || math.IsInf(d[i], 0) {
			return nil, fmt.Errorf("client: trained parameter %d is %v (training diverged?)", i, params[i])
		}
	}
	return d, nil
}

func (s *session) download(ctx context.Context, t *cohortv1.Task) ([]float64, error) {
	stream, err := s.api.DownloadModel(s.ctx(ctx), &cohortv1.DownloadModelRequest{RunId: t.RunId, ModelVersion: t.ModelVersion})
	if err != nil {
		return nil, err
	}
	if t.NumParams < 0 || t.NumParams > protocol.MaxParams {
		return nil, fmt.Errorf("client: task announces %d parameters", t.NumParams)
	}
	out := make([]float64, t.NumParams)
	got := 0
	for {
		c, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("client: downloading model %d: %w", t.ModelVersion, err)
		}
		n := len(c.Values) / 8
		if c.Total != t.NumParams || c.Offset != int64(got) || got+n > len(out) {
			return nil, fmt.Errorf("client: model chunk at offset %d (total %d) does not continue the %d values received of %d", c.Offset, c.Total, got, t.NumParams)
		}
		if err := protocol.DecodeFloats(out[got:got+n], c.Values, got); err != nil {
			return nil, err
		}
		got += n
	}
	if got != len(out) {
		return nil, fmt.Errorf("client: model download ended after %d of %d values", got, len(out))
	}
	return out, nil
}

type uploader func(ctx context.Context, opts ...grpc.CallOption) (grpc.ClientStreamingClient[cohortv1.UploadChunk, cohortv1.UploadAck], error)

func (s *session) upload(ctx context.Context, t *cohortv1.Task, open uploader, v []float64, n int64, metrics map[string]float64) error {
	stream, err := open(s.ctx(ctx))
	if err != nil {
		return err
	}
	hdr := &cohortv1.UploadHeader{RunId: t.RunId, Round: t.Round, Nonce: t.Nonce, NumExamples: n,
		PayloadBytes: int64(8 * len(v)), Metrics: metrics}
	if signer := s.x.sec.creds.Signer; signer != nil {
		// Sign the update with the certificate key, so the coordinator's
		// audit log holds a non-repudiable record of what this site sent.
		h := protocol.ValuesSHA256(v)
		d := protocol.UpdateSigningDigest(t.RunId, t.Round, t.Nonce, n, h)
		sig, err := signer.Sign(crand.Reader, d[:], crypto.SHA256)
		if err != nil {
			stream.CloseSend()
			return fmt.Errorf("client: signing the update: %w", err)
		}
		hdr.ValuesSha256, hdr.Signature = h[:], sig
	}
	if err := stream.Send(&cohortv1.UploadChunk{Msg: &cohortv1.UploadChunk_Header{Header: hdr}}); err != nil {
		return closeErr(stream, err)
	}
	buf := make([]byte, 0, 8*protocol.ChunkValues)
	for off := 0; off < len(v); off += protocol.ChunkValues {
		end := min(off+protocol.ChunkValues, len(v))
		buf = protocol.AppendFloats(buf[:0], v[off:end])
		if err := stream.Send(&cohortv1.UploadChunk{Msg: &cohortv1.UploadChunk_Data{Data: buf}}); err != nil {
			return closeErr(stream, err)
		}
	}
	_, err = stream.CloseAndRecv()
	return err
}

// reportFailure sends a header-only upload carrying the reason a task failed.
func (s *session) reportFailure(ctx context.Context, t *cohortv1.Task, cause error) error {
	stream, err := s.api.SubmitSecAgg(s.ctx(ctx))
	if err != nil {
		return err
	}
	hdr := &cohortv1.UploadHeader{RunId: t.RunId, Round: t.Round, Nonce: t.Nonce, Kind: t.Kind, Error: cause.Error()}
	if err := stream.Send(&cohortv1.UploadChunk{Msg: &cohortv1.UploadChunk_Header{Header: hdr}}); err != nil {
		return closeErr(stream, err)
	}
	_, err = stream.CloseAndRecv()
	return err
}

// uploadBytes streams a serialised secure-aggregation message.
func (s *session) uploadBytes(ctx context.Context, t *cohortv1.Task, open uploader, b []byte) error {
	stream, err := open(s.ctx(ctx))
	if err != nil {
		return err
	}
	hdr := &cohortv1.UploadHeader{RunId: t.RunId, Round: t.Round, Nonce: t.Nonce, PayloadBytes: int64(len(b)), Kind: t.Kind}
	if err := stream.Send(&cohortv1.UploadChunk{Msg: &cohortv1.UploadChunk_Header{Header: hdr}}); err != nil {
		return closeErr(stream, err)
	}
	const chunk = 1 << 19
	for off := 0; off < len(b); off += chunk {
		end := min(off+chunk, len(b))
		if err := stream.Send(&cohortv1.UploadChunk{Msg: &cohortv1.UploadChunk_Data{Data: b[off:end]}}); err != nil {
			return closeErr(stream, err)
		}
	}
	_, err = stream.CloseAndRecv()
	return err
}

// downloadBlob fetches a task's payload.
func (s *session) downloadBlob(ctx context.Context, t *cohortv1.Task) ([]byte, error) {
	if t.Blob == "" {
		return nil, fmt.Errorf("client: task %v of round %d has no payload", t.Kind, t.Round)
	}
	if t.BlobBytes < 0 || t.BlobBytes > secwire.MaxMessageBytes {
		return nil, fmt.Errorf("client: task payload of %d bytes", t.BlobBytes)
	}
	stream, err := s.api.DownloadModel(s.ctx(ctx), &cohortv1.DownloadModelRequest{RunId: t.RunId, Blob: t.Blob})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, t.BlobBytes)
	for {
		c, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("client: downloading %s: %w", t.Blob, err)
		}
		if c.Offset != int64(len(out)) || c.Total != t.BlobBytes || int64(len(out)+len(c.Values)) > t.BlobBytes {
			return nil, fmt.Errorf("client: payload chunk at %d does not continue the %d bytes received of %d", c.Offset, len(out), t.BlobBytes)
		}
		out = append(out, c.Values...)
	}
	if int64(len(out)) != t.BlobBytes {
		return nil, fmt.Errorf("client: payload ended after %d of %d bytes", len(out), t.BlobBytes)
	}
	return out, nil
}

// siteIdentity returns the site's name and the credentials that bind its
// secure-aggregation keys: from the TLS client certificate, or, with
// --insecure, the given name and no credentials.
func siteIdentity(o Options) (string, Credentials, error) {
	if o.Insecure {
		return o.SiteName, Credentials{}, nil
	}
	if len(o.TLS.Certificates) == 0 || len(o.TLS.Certificates[0].Certificate) == 0 {
		return "", Credentials{}, errors.New("client: the TLS configuration has no client certificate")
	}
	tc := o.TLS.Certificates[0]
	leaf, err := x509.ParseCertificate(tc.Certificate[0])
	if err != nil {
		return "", Credentials{}, fmt.Errorf("client: parsing the site certificate: %w", err)
	}
	signer, ok := tc.PrivateKey.(crypto.Signer)
	if !ok {
		return "", Credentials{}, errors.New("client: the site's private key cannot sign")
	}
	return leaf.Subject.CommonName, Credentials{Signer: signer, Certificate: tc.Certificate[0], Roots: o.TLS.RootCAs}, nil
}

// closeErr returns the server's status when a Send failed because the server
// already ended the stream (io.EOF), which carries the real reason.
func closeErr(stream grpc.ClientStreamingClient[cohortv1.UploadChunk, cohortv1.UploadAck], err error) error {
	if err == io.EOF {
		_, err = stream.CloseAndRecv()
	}
	return err
}

// EvalCounts is a convenience for Trainers that use package model.
func EvalCounts(m model.Model, params []float64, data model.Examples) (model.Counts, error) {
	return model.EvalCounts(m, params, data, EvalBins)
}
