package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/coordinator/store"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/report"
)

// AdminServer implements cohort.v1.AdminService. Who may call what is
// decided before a call reaches it, by the Authorizer (authz.go): admins may
// start and stop runs, admins and auditors may read runs and sites, and site
// certificates may not call it at all.
type AdminServer struct {
	cohortv1.UnimplementedAdminServiceServer
	runner *Runner
	// Reporter renders a run's report (nil: GetReport is Unimplemented).
	Reporter Reporter
}

// Reporter renders the auditor's report of a run in a format ("html", "md",
// "json"). It must return an error wrapping store.ErrNotFound for an
// unknown run.
type Reporter func(ctx context.Context, runID, format string) ([]byte, error)

// reportChunk is the size of GetReport's messages.
const reportChunk = 256 << 10

// GetReport implements AdminService: it renders the run's report and
// streams it in chunks.
func (s *AdminServer) GetReport(req *cohortv1.GetReportRequest, stream cohortv1.AdminService_GetReportServer) error {
	if s.Reporter == nil {
		return status.Error(codes.Unimplemented, "this coordinator does not render reports")
	}
	b, err := s.Reporter(stream.Context(), req.RunId, req.Format)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return status.Errorf(codes.NotFound, "run %q: %v", req.RunId, err)
	case errors.Is(err, report.ErrUnknownFormat):
		return status.Errorf(codes.InvalidArgument, "report of run %q: %v", req.RunId, err)
	case err != nil:
		return status.Errorf(codes.Internal, "report of run %q: %v", req.RunId, err)
	}
	for off := 0; off < len(b) || off == 0; off += reportChunk {
		if err := stream.Send(&cohortv1.ReportChunk{Data: b[off:min(off+reportChunk, len(b))]}); err != nil {
			return err
		}
	}
	return nil
}

// Runner starts runs in the background on an Engine, one at a time, and keeps
// their outcome.
type Runner struct {
	engine *Engine
	db     *store.DB
	ctx    context.Context

	mu      sync.Mutex
	cancel  context.CancelFunc
	running string
	done    chan struct{}
	lastErr map[string]error
}

// NewRunner returns a Runner whose runs live until ctx ends.
func NewRunner(ctx context.Context, e *Engine, db *store.DB) *Runner {
	return &Runner{engine: e, db: db, ctx: ctx, lastErr: map[string]error{}}
}

// Start launches (or resumes) the run in the background.
func (r *Runner) Start(cfg RunConfig) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running != "" {
		return fmt.Errorf("coordinator: run %q is in progress; one run at a time", r.running)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	r.cancel, r.running, r.done = cancel, cfg.RunID, make(chan struct{})
	go func() {
		res, err := r.engine.Run(ctx, cfg)
		switch {
		case err != nil:
			r.engine.log.Error("run ended with an error", "run", cfg.RunID, "err", err)
		default:
			r.engine.log.Info("run completed", "run", cfg.RunID, "rounds", res.RoundsCompleted, "model_version", res.Version,
				"stopped_early", res.StoppedEarly)
		}
		r.mu.Lock()
		r.lastErr[cfg.RunID] = err
		r.running, r.cancel = "", nil
		close(r.done)
		r.mu.Unlock()
		cancel()
	}()
	return nil
}

// Wait blocks until the current run (if any) ends and returns its error.
func (r *Runner) Wait() error {
	r.mu.Lock()
	done, id := r.done, r.running
	r.mu.Unlock()
	if done == nil {
		return nil
	}
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr[id]
}

// Stop cancels the run in progress and marks it stopped.
func (r *Runner) Stop(ctx context.Context, runID string) error {
	r.mu.Lock()
	cancel, running, done := r.cancel, r.running, r.done
	r.mu.Unlock()
	if running != runID || cancel == nil {
		return fmt.Errorf("coordinator: run %q is not in progress", runID)
	}
	cancel()
	<-done
	return r.db.SetRunState(ctx, runID, "stopped", "stopped by an operator")
}

// ResumeRunning resumes the first run the store still marks as running (after
// a crash or restart). It returns the run id, or "" if there is none.
func (r *Runner) ResumeRunning(ctx context.Context) (string, error) {
	runs, err := r.db.ListRuns(ctx)
	if err != nil {
		return "", err
	}
	for _, run := range runs {
		if run.State == "running" {
			return run.ID, r.Start(RunConfig{RunID: run.ID})
		}
	}
	return "", nil
}

// NewAdminServer returns the admin service.
func NewAdminServer(r *Runner) *AdminServer { return &AdminServer{runner: r} }

// StartRun implements AdminService.
func (a *AdminServer) StartRun(ctx context.Context, req *cohortv1.StartRunRequest) (*cohortv1.RunStatus, error) {
	cfg := DefaultRunConfig()
	dec := json.NewDecoder(strings.NewReader(req.ConfigJson))
	dec.DisallowUnknownFields() // a misspelt key (a policy threshold, say) must not be dropped silently
	if err := dec.Decode(&cfg); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "run config is not valid: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := a.runner.Start(cfg); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	a.logCall(ctx, "run started through the admin API", cfg.RunID)
	return &cohortv1.RunStatus{RunId: cfg.RunID, State: "running", RoundsTotal: uint64(cfg.Rounds)}, nil
}

// GetRun implements AdminService.
func (a *AdminServer) GetRun(ctx context.Context, req *cohortv1.GetRunRequest) (*cohortv1.RunStatus, error) {
	run, err := a.runner.db.GetRun(ctx, req.RunId)
	if errors.Is(err, store.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "run %q not found", req.RunId)
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return a.runStatus(ctx, run)
}

func (a *AdminServer) runStatus(ctx context.Context, run store.Run) (*cohortv1.RunStatus, error) {
	st := &cohortv1.RunStatus{RunId: run.ID, State: string(run.State), Error: run.Error, RoundsTotal: uint64(run.RoundsTotal)}
	last, err := a.runner.db.LastCommittedRound(ctx, run.ID)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	st.RoundsCompleted, st.LatestModelVersion = uint64(last), uint64(last)
	if rounds, err := a.runner.db.Rounds(ctx, run.ID); err == nil {
		for i := len(rounds) - 1; i >= 0; i-- {
			if rounds[i].Status == "committed" {
				st.LastMetrics = rounds[i].Metrics
				break
			}
		}
	}
	return st, nil
}

// ListRuns implements AdminService.
func (a *AdminServer) ListRuns(ctx context.Context, _ *cohortv1.ListRunsRequest) (*cohortv1.ListRunsResponse, error) {
	runs, err := a.runner.db.ListRuns(ctx)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	out := &cohortv1.ListRunsResponse{}
	for _, run := range runs {
		st, err := a.runStatus(ctx, run)
		if err != nil {
			return nil, err
		}
		out.Runs = append(out.Runs, st)
	}
	return out, nil
}

// StopRun implements AdminService.
func (a *AdminServer) StopRun(ctx context.Context, req *cohortv1.StopRunRequest) (*cohortv1.RunStatus, error) {
	if err := a.runner.Stop(ctx, req.RunId); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	a.logCall(ctx, "run stopped through the admin API", req.RunId)
	return a.GetRun(ctx, &cohortv1.GetRunRequest{RunId: req.RunId})
}

// ListSites implements AdminService.
func (a *AdminServer) ListSites(context.Context, *cohortv1.ListSitesRequest) (*cohortv1.ListSitesResponse, error) {
	out := &cohortv1.ListSitesResponse{}
	for _, s := range a.runner.engine.registrySites() {
		out.Sites = append(out.Sites, &cohortv1.SiteInfo{Name: s.Name, Connected: s.Connected,
			NumExamples: s.NumExamples, LastSeenUnixMs: s.LastSeen.UnixMilli()})
	}
	return out, nil
}

func (e *Engine) registrySites() []SiteStatus {
	if r, ok := e.o.Dispatcher.(*Registry); ok {
		return r.Sites()
	}
	var out []SiteStatus
	for _, s := range e.o.Dispatcher.Connected() {
		out = append(out, SiteStatus{Name: s, Connected: true})
	}
	return out
}

// logCall logs a state-changing admin call with the caller the Authorizer
// admitted.
func (a *AdminServer) logCall(ctx context.Context, msg, runID string) {
	c, _ := CallerFromContext(ctx)
	a.runner.engine.log.Info(msg, "run", runID, "by", c.Name, "role", c.Role.String())
	a.runner.engine.Record(ctx, audit.Event{Kind: audit.KindAdminAction, RunID: runID, Actor: c.Name, Subject: runID,
		Detail: mustJSON(map[string]any{"action": msg, "role": c.Role.String()})})
}
