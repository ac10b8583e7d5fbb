package coordinator

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/internal/secwire"
	"github.com/cohortfl/cohort/internal/tlsconf"
	"github.com/cohortfl/cohort/model"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/secagg"
)

// insecureSiteHeader must match client.InsecureSiteHeader.
const insecureSiteHeader = "cohort-site"

// SiteServer implements cohort.v1.SiteService on top of an Engine and a Registry.
// It validates every request first and maps domain errors to gRPC status codes
// only here, at the edge.
type SiteServer struct {
	cohortv1.UnimplementedSiteServiceServer
	engine   *Engine
	registry *Registry
	insecure bool
	spoolDir string
	log      *slog.Logger
	// staging bounds how many uploads are read at once. A small one is
	// decoded into a buffer of its size; a fit upload above spoolMinBytes
	// goes to a spool file one chunk at a time. Either way peak memory does
	// not grow with the number of sites uploading together, and uploads
	// waiting for a slot hold only their transport window.
	staging chan struct{}
	// downloads bounds concurrent model downloads; each holds a chunk buffer
	// plus gRPC's copies of the chunks in flight.
	downloads chan struct{}
}

// maxDownloads is the number of model downloads served at once. Each holds
// about 3 MB (a 512 KiB chunk and gRPC's 1 MiB buffers for the messages in
// flight) whatever the model's size. Two keep both cores busy encrypting:
// the gRPC benchmark moved as many MB/s with 4 (0.22-0.29× of TLS io.Copy
// either way), and the coordinator's peak heap fell by 9 MB.
const maxDownloads = 2

// SiteServerOptions configure a SiteServer.
type SiteServerOptions struct {
	// Insecure must only be true for loopback demos (the caller checks the
	// address); sites are then named by the cohort-site metadata header
	// instead of their certificate.
	Insecure bool
	// MaxStaged is the number of uploads read at once (default 1, the
	// tightest bound). Uploads up to 1 MiB are decoded into memory; larger
	// fit uploads are spooled to disk, one chunk in memory at a time.
	MaxStaged int
	// SpoolDir is where large uploads are spooled ("" is the system's
	// temporary directory). Files are unlinked as soon as they are created.
	SpoolDir string
	Logger   *slog.Logger // nil: slog.Default()
}

// NewSiteServer returns the site-facing service.
func NewSiteServer(e *Engine, r *Registry, o SiteServerOptions) *SiteServer {
	if o.MaxStaged < 1 {
		o.MaxStaged = 1
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &SiteServer{engine: e, registry: r, insecure: o.Insecure, spoolDir: o.SpoolDir, log: o.Logger,
		staging: make(chan struct{}, o.MaxStaged), downloads: make(chan struct{}, maxDownloads)}
}

// identity returns the calling site's name: its verified certificate's common
// name, or in insecure mode the cohort-site header.
func (s *SiteServer) identity(ctx context.Context) (string, error) {
	if s.insecure {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get(insecureSiteHeader); len(v) == 1 && v[0] != "" {
			return v[0], nil
		}
		return "", status.Error(codes.Unauthenticated, "insecure mode: the request carries no cohort-site header naming the site")
	}
	id, err := tlsconf.PeerIdentity(ctx)
	if err != nil {
		return "", status.Errorf(codes.Unauthenticated, "site identity: %v", err)
	}
	return id, nil
}

// Connect implements SiteService.
func (s *SiteServer) Connect(req *cohortv1.ConnectRequest, stream cohortv1.SiteService_ConnectServer) error {
	site, err := s.identity(stream.Context())
	if err != nil {
		return err
	}
	tasks, detach := s.registry.attach(site, req.NumExamples)
	defer detach()
	s.engine.Record(stream.Context(), audit.Event{Kind: audit.KindSiteJoined, Actor: site, Subject: site,
		Detail: mustJSON(map[string]any{"num_examples": req.NumExamples})})
	s.log.Info("site connected", "site", site)
	defer s.log.Info("site disconnected", "site", site)
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case t, ok := <-tasks:
			if !ok {
				return status.Error(codes.Aborted, "a newer connection of this site replaced this one")
			}
			if err := stream.Send(toProtoTask(t)); err != nil {
				return err
			}
		}
	}
}

// Kind is the wire task kind of a phase.
func (p Phase) Kind() cohortv1.TaskKind {
	return map[Phase]cohortv1.TaskKind{
		PhaseStatistics:     cohortv1.TaskKind_TASK_KIND_STATISTICS,
		PhaseFit:            cohortv1.TaskKind_TASK_KIND_FIT,
		PhaseEvaluate:       cohortv1.TaskKind_TASK_KIND_EVALUATE,
		PhaseKeygenRegister: cohortv1.TaskKind_TASK_KIND_KEYGEN_REGISTER,
		PhaseKeygenShares:   cohortv1.TaskKind_TASK_KIND_KEYGEN_SHARES,
		PhaseKeygenFinish:   cohortv1.TaskKind_TASK_KIND_KEYGEN_FINISH,
		PhaseDecrypt:        cohortv1.TaskKind_TASK_KIND_DECRYPT,
		PhaseCosign:         cohortv1.TaskKind_TASK_KIND_COSIGN,
	}[p]
}

func toProtoTask(t Task) *cohortv1.Task {
	kind := cohortv1.TaskKind_TASK_KIND_DONE
	if !t.Done {
		kind = t.Phase.Kind()
	}
	pt := &cohortv1.Task{RunId: t.RunID, Round: uint64(t.Round), Kind: kind, Nonce: t.Nonce,
		ModelVersion: uint64(t.ModelVersion), NumParams: int64(t.NumParams), Blob: t.Blob, BlobBytes: int64(t.BlobBytes)}
	if !t.Done {
		pt.DeadlineUnixMs = t.Deadline.UnixMilli()
		pt.Config = t.Config.Encode()
	}
	return pt
}

// DownloadModel implements SiteService: it streams the parameters in chunks
// encoded on the fly, so no copy of the model is made per download.
func (s *SiteServer) DownloadModel(req *cohortv1.DownloadModelRequest, stream cohortv1.SiteService_DownloadModelServer) error {
	if _, err := s.identity(stream.Context()); err != nil {
		return err
	}
	if req.Blob != "" {
		return s.downloadBlob(req, stream)
	}
	select {
	case s.downloads <- struct{}{}:
		defer func() { <-s.downloads }()
	case <-stream.Context().Done():
		return stream.Context().Err()
	}
	params, release, err := s.engine.Params(stream.Context(), req.RunId, int(req.ModelVersion))
	if err != nil {
		return toStatus(err)
	}
	defer release()
	buf := make([]byte, 0, 8*protocol.ChunkValues)
	for off := 0; off < len(params) || off == 0; off += protocol.ChunkValues {
		end := min(off+protocol.ChunkValues, len(params))
		buf = protocol.AppendFloats(buf[:0], params[off:end])
		if err := stream.Send(&cohortv1.ModelChunk{Offset: int64(off), Total: int64(len(params)), Values: buf}); err != nil {
			return err
		}
		if len(params) == 0 {
			break
		}
	}
	return nil
}

func (s *SiteServer) downloadBlob(req *cohortv1.DownloadModelRequest, stream cohortv1.SiteService_DownloadModelServer) error {
	b, err := s.engine.Blob(req.RunId, req.Blob)
	if err != nil {
		return status.Error(codes.NotFound, err.Error())
	}
	const chunk = 1 << 19
	for off := 0; off < len(b) || off == 0; off += chunk {
		end := min(off+chunk, len(b))
		if err := stream.Send(&cohortv1.ModelChunk{Offset: int64(off), Total: int64(len(b)), Values: b[off:end]}); err != nil {
			return err
		}
		if len(b) == 0 {
			break
		}
	}
	return nil
}

// UploadUpdate implements SiteService.
func (s *SiteServer) UploadUpdate(stream cohortv1.SiteService_UploadUpdateServer) error {
	return s.receive(stream, PhaseFit)
}

// SubmitStatistics implements SiteService.
func (s *SiteServer) SubmitStatistics(stream cohortv1.SiteService_SubmitStatisticsServer) error {
	return s.receive(stream, PhaseStatistics)
}

type uploadStream interface {
	Context() context.Context
	Recv() (*cohortv1.UploadChunk, error)
	SendAndClose(*cohortv1.UploadAck) error
}

// maxStatistics bounds a statistics vector (3 moments × features).
const maxStatistics = 3 << 20

func (s *SiteServer) receive(stream uploadStream, phase Phase) error {
	site, err := s.identity(stream.Context())
	if err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "upload: reading header: %v", err)
	}
	hdr := first.GetHeader()
	if hdr == nil {
		return status.Error(codes.InvalidArgument, "upload: the first message must be the header")
	}
	exp, err := s.engine.BeginResult(site, Upload{RunID: hdr.RunId, Round: int(hdr.Round), Phase: phase, Nonce: hdr.Nonce})
	if err != nil {
		return toStatus(err)
	}
	if hdr.Error != "" {
		reason := hdr.Error
		if len(reason) > 1024 {
			reason = reason[:1024] + "…"
		}
		s.log.Warn("site reported a failed task", "site", site, "round", hdr.Round, "reason", reason)
		s.engine.AbortResult(site, "site reported: "+reason)
		return stream.SendAndClose(&cohortv1.UploadAck{Accepted: false})
	}
	if exp.Sealed {
		return s.receiveSealed(stream, site, hdr)
	}
	if phase == 0 {
		err := fmt.Errorf("coordinator: site %q sent a secure-aggregation message but the run sums in the clear", site)
		s.engine.AbortResult(site, err.Error())
		return status.Error(codes.InvalidArgument, err.Error())
	}
	want := exp.Values
	n := int(hdr.PayloadBytes / 8)
	switch {
	case hdr.PayloadBytes%8 != 0 || hdr.PayloadBytes < 0:
		err = fmt.Errorf("payload of %d bytes is not a whole number of float64 values", hdr.PayloadBytes)
	case phase == PhaseFit && n != want:
		err = fmt.Errorf("%w: update has %d values, the model has %d parameters", aggregation.ErrWrongLength, n, want)
	case phase == PhaseStatistics && (n > maxStatistics || (want > 0 && n != want)):
		err = fmt.Errorf("%w: statistics have %d values, want %d", aggregation.ErrWrongLength, n, want)
	}
	if err != nil {
		s.engine.AbortResult(site, err.Error())
		return toStatus(fmt.Errorf("coordinator: upload from site %q, round %d: %w", site, hdr.Round, err))
	}
	select {
	case s.staging <- struct{}{}:
		defer func() { <-s.staging }()
	case <-stream.Context().Done():
		s.engine.AbortResult(site, "upload cancelled while waiting for a staging slot")
		return stream.Context().Err()
	}
	if phase == PhaseFit && hdr.PayloadBytes > spoolMinBytes {
		return s.receiveSpooled(stream, site, hdr, n)
	}
	buf := make([]float64, n)
	digest, err := readValues(stream, n, func(off int, data []byte) error {
		return protocol.DecodeFloats(buf[off:off+len(data)/8], data, off)
	})
	if err == nil {
		err = s.checkUpdateSignature(stream.Context(), hdr, digest)
	}
	if err != nil {
		s.engine.AbortResult(site, err.Error())
		return toStatus(fmt.Errorf("coordinator: upload from site %q, round %d: %w", site, hdr.Round, err))
	}
	s.engine.o.Metrics.UploadBytes.Add(float64(hdr.PayloadBytes))
	if phase == PhaseFit {
		err = s.engine.SubmitFit(site, FitResult{NumExamples: hdr.NumExamples, Delta: aggregation.Values(buf), Metrics: hdr.Metrics,
			Digest: &digest, Signature: hdr.Signature, Nonce: hdr.Nonce})
	} else {
		err = s.engine.SubmitStatistics(site, buf)
	}
	if err != nil {
		return toStatus(err)
	}
	return stream.SendAndClose(&cohortv1.UploadAck{Accepted: true})
}

// receiveSpooled reads a large fit upload into a spool file (see spool),
// verifies its signature, and submits it; the engine folds it from the file.
// The upload holds one chunk in memory at a time.
func (s *SiteServer) receiveSpooled(stream uploadStream, site string, hdr *cohortv1.UploadHeader, n int) error {
	fail := func(err error) error {
		s.engine.AbortResult(site, err.Error())
		return toStatus(fmt.Errorf("coordinator: upload from site %q, round %d: %w", site, hdr.Round, err))
	}
	sp, err := newSpool(s.spoolDir, n)
	if err != nil {
		s.log.Error("cannot spool an upload", "site", site, "err", err)
		return fail(err)
	}
	defer func() {
		if err := sp.Close(); err != nil {
			s.log.Warn("closing an upload's spool file", "site", site, "err", err)
		}
	}()
	digest, err := readValues(stream, n, func(off int, data []byte) error {
		if err := protocol.CheckFloats(data, off); err != nil {
			return err
		}
		return sp.write(data)
	})
	if err == nil {
		err = s.checkUpdateSignature(stream.Context(), hdr, digest)
	}
	if err != nil {
		return fail(err)
	}
	s.engine.o.Metrics.UploadBytes.Add(float64(hdr.PayloadBytes))
	err = s.engine.SubmitFit(site, FitResult{NumExamples: hdr.NumExamples, Delta: sp, Metrics: hdr.Metrics,
		Digest: &digest, Signature: hdr.Signature, Nonce: hdr.Nonce})
	if err != nil {
		return toStatus(err)
	}
	return stream.SendAndClose(&cohortv1.UploadAck{Accepted: true})
}

// ErrBadSignature reports a plaintext upload whose signature is missing or
// does not verify under the site's certificate.
var ErrBadSignature = errors.New("coordinator: update signature")

// checkUpdateSignature verifies a plaintext upload's signature with the
// peer's certificate key over its values' hash (with mTLS; insecure demos
// have no certificate and are not checked).
func (s *SiteServer) checkUpdateSignature(ctx context.Context, hdr *cohortv1.UploadHeader, digest [32]byte) error {
	if s.insecure {
		return nil
	}
	if len(hdr.Signature) == 0 {
		return fmt.Errorf("%w is missing: plaintext uploads must be signed with the site's certificate key", ErrBadSignature)
	}
	if !bytes.Equal(hdr.ValuesSha256, digest[:]) {
		if len(hdr.ValuesSha256) != len(digest) {
			return fmt.Errorf("%w: the header's values_sha256 has %d bytes, want %d", ErrBadSignature, len(hdr.ValuesSha256), len(digest))
		}
		return fmt.Errorf("%w: the header's values_sha256 %x is not the hash of the values received %x", ErrBadSignature, hdr.ValuesSha256, digest)
	}
	cert, err := tlsconf.PeerCertificate(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: the site's certificate key is %T, not ECDSA", ErrBadSignature, cert.PublicKey)
	}
	d := protocol.UpdateSigningDigest(hdr.RunId, hdr.Round, hdr.Nonce, hdr.NumExamples, digest)
	if !ecdsa.VerifyASN1(pub, d[:], hdr.Signature) {
		return fmt.Errorf("%w does not verify under the site's certificate", ErrBadSignature)
	}
	return nil
}

// receiveSealed reads a serialised secure-aggregation message and submits it.
func (s *SiteServer) receiveSealed(stream uploadStream, site string, hdr *cohortv1.UploadHeader) error {
	fail := func(err error) error {
		s.engine.AbortResult(site, err.Error())
		return toStatus(fmt.Errorf("coordinator: upload from site %q, round %d: %w", site, hdr.Round, err))
	}
	if hdr.PayloadBytes <= 0 || hdr.PayloadBytes > secwire.MaxMessageBytes {
		return fail(fmt.Errorf("%w: sealed payload of %d bytes", aggregation.ErrWrongLength, hdr.PayloadBytes))
	}
	buf := make([]byte, 0, hdr.PayloadBytes)
	for {
		c, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("reading payload after %d bytes: %w", len(buf), err))
		}
		if int64(len(buf)+len(c.GetData())) > hdr.PayloadBytes {
			return fail(fmt.Errorf("%w: payload continues past the %d announced bytes", aggregation.ErrWrongLength, hdr.PayloadBytes))
		}
		buf = append(buf, c.GetData()...)
	}
	if int64(len(buf)) != hdr.PayloadBytes {
		return fail(fmt.Errorf("%w: payload ended after %d of %d announced bytes", aggregation.ErrWrongLength, len(buf), hdr.PayloadBytes))
	}
	s.engine.o.Metrics.UploadBytes.Add(float64(len(buf)))
	var peer []byte
	if !s.insecure {
		if cert, err := tlsconf.PeerCertificate(stream.Context()); err == nil {
			peer = cert.Raw
		}
	}
	if err := s.engine.SubmitSealedFrom(site, buf, peer); err != nil {
		return toStatus(err)
	}
	return stream.SendAndClose(&cohortv1.UploadAck{Accepted: true})
}

// SubmitSecAgg implements SiteService: key-ceremony messages, sealed
// evaluation counts and decryption shares.
func (s *SiteServer) SubmitSecAgg(stream cohortv1.SiteService_SubmitSecAggServer) error {
	return s.receive(stream, 0)
}

// readValues reads an upload's data chunks, n float64 values in all, and
// passes each to sink with the index of its first value. It rejects
// chunks that are not whole float64s, NaN or Inf (sink's error), and extra
// or missing data, and returns the SHA-256 of the bytes received (the
// values' wire encoding, protocol.ValuesSHA256).
func readValues(stream uploadStream, n int, sink func(off int, data []byte) error) ([32]byte, error) {
	h := sha256.New()
	got := 0
	for {
		c, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return [32]byte{}, fmt.Errorf("reading payload after %d values: %w", got, err)
		}
		data := c.GetData()
		if data == nil || len(data)%8 != 0 {
			return [32]byte{}, fmt.Errorf("payload chunk after %d values is not float64 data", got)
		}
		k := len(data) / 8
		if got+k > n {
			return [32]byte{}, fmt.Errorf("%w: payload continues past the %d announced values", aggregation.ErrWrongLength, n)
		}
		if err := sink(got, data); err != nil {
			if errors.Is(err, protocol.ErrNotFinite) {
				return [32]byte{}, fmt.Errorf("%w: %w", aggregation.ErrNotFinite, err)
			}
			return [32]byte{}, err
		}
		h.Write(data)
		got += k
	}
	if got != n {
		return [32]byte{}, fmt.Errorf("%w: payload ended after %d of %d announced values", aggregation.ErrWrongLength, got, n)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d, nil
}

// SubmitEvaluation implements SiteService.
func (s *SiteServer) SubmitEvaluation(ctx context.Context, req *cohortv1.EvaluationResult) (*cohortv1.Ack, error) {
	site, err := s.identity(ctx)
	if err != nil {
		return nil, err
	}
	exp, err := s.engine.BeginResult(site, Upload{RunID: req.RunId, Round: int(req.Round), Phase: PhaseEvaluate, Nonce: req.Nonce})
	if err != nil {
		return nil, toStatus(err)
	}
	if exp.Sealed {
		err := fmt.Errorf("coordinator: site %q sent evaluation counts in the clear; this run uses secure aggregation", site)
		s.engine.AbortResult(site, err.Error())
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	c := model.Counts{N: req.NumExamples, LossSum: req.LossSum, Correct: req.Correct, PosHist: req.PosHist, NegHist: req.NegHist}
	if err := s.engine.SubmitEvaluation(site, c, req.Extra); err != nil {
		return nil, toStatus(err)
	}
	return &cohortv1.Ack{}, nil
}

// toStatus maps domain errors to gRPC status codes.
func toStatus(err error) error {
	code := codes.Internal
	switch {
	case errors.Is(err, ErrLate), errors.Is(err, ErrRoundClosed):
		code = codes.DeadlineExceeded
	case errors.Is(err, ErrBadNonce), errors.Is(err, ErrAlreadySent), errors.Is(err, ErrWrongRound):
		code = codes.FailedPrecondition
	case errors.Is(err, ErrNotSelected):
		code = codes.PermissionDenied
	case errors.Is(err, ErrNoActiveRun):
		code = codes.FailedPrecondition
	case errors.Is(err, aggregation.ErrWrongLength), errors.Is(err, aggregation.ErrNotFinite),
		errors.Is(err, aggregation.ErrBadWeight), errors.Is(err, aggregation.ErrDuplicate), errors.Is(err, protocol.ErrNotFinite),
		errors.Is(err, secagg.ErrBadSignature), errors.Is(err, secagg.ErrMalformed), errors.Is(err, secagg.ErrBinding),
		errors.Is(err, secagg.ErrBadInput), errors.Is(err, secwire.ErrBinding), errors.Is(err, ErrBadSignature):
		code = codes.InvalidArgument
	case errors.Is(err, secagg.ErrReplay):
		code = codes.AlreadyExists
	}
	return status.Error(code, err.Error())
}
