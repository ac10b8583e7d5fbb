package coordinator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/internal/tlsconf"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
)

// ServeOptions configure a coordinator process.
type ServeOptions struct {
	Listener     net.Listener // gRPC listener (required)
	TLS          *tls.Config  // server mTLS config; required unless Insecure
	Insecure     bool         // loopback demos only; the caller has checked the address
	DB           *store.DB
	MetricsAddr  string     // "" disables the Prometheus endpoint
	Run          *RunConfig // optional run to start (or resume) at once
	ExitWhenIdle bool       // return when the run ends instead of serving on
	Logger       *slog.Logger
	MaxStaged    int // uploads decoded at once (default 1)
	// OnRound, if set, is called after each committed round (in addition to logging).
	OnRound func(RoundReport)
}

// Serve runs a coordinator until ctx ends (or, with ExitWhenIdle, until the run
// ends). At start it resumes any run the database still marks as running, so a
// coordinator killed with kill -9 continues where its last committed round left off.
func Serve(ctx context.Context, o ServeOptions) error {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.TLS == nil && !o.Insecure {
		return errors.New("coordinator: no TLS configuration (give --cert, --key and --ca, or --insecure on loopback)")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := NewMetrics(reg)

	var engine *Engine
	registry := NewRegistry(func(site string) { engine.SiteGone(site) })
	registry.OnCount = func(n int) { metrics.ConnectedSites.Set(float64(n)) }
	engine, err := NewEngine(Options{Store: o.DB, Dispatcher: registry, Logger: o.Logger, Metrics: metrics,
		OnRound: func(r RoundReport) {
			o.Logger.Info("round committed", "round", r.Round, "accepted", r.Accepted, "selected", r.Selected,
				"eval_accuracy", r.Metrics["eval_accuracy"], "eval_loss", r.Metrics["eval_loss"])
			if o.OnRound != nil {
				o.OnRound(r)
			}
		}})
	if err != nil {
		return err
	}
	opts := []grpc.ServerOption{
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		// A fixed 64 KiB window bounds what each upload waiting for a staging
		// slot can buffer in the transport: with 100 sites, 6.4 MB in total.
		grpc.InitialWindowSize(64 << 10), grpc.InitialConnWindowSize(64 << 10),
	}
	if !o.Insecure {
		opts = append(opts, grpc.Creds(newLoggingCreds(o.TLS, o.Logger)))
	}
	srv := grpc.NewServer(opts...)
	cohortv1.RegisterSiteServiceServer(srv, NewSiteServer(engine, registry, o.Insecure, o.MaxStaged, o.Logger))
	runner := NewRunner(ctx, engine, o.DB)
	cohortv1.RegisterAdminServiceServer(srv, NewAdminServer(runner))

	var httpSrv *http.Server
	if o.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		httpSrv = &http.Server{Addr: o.MetricsAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		ln, err := net.Listen("tcp", o.MetricsAddr)
		if err != nil {
			return fmt.Errorf("coordinator: metrics endpoint %s: %w", o.MetricsAddr, err)
		}
		o.Logger.Info("metrics endpoint", "url", "http://"+ln.Addr().String()+"/metrics")
		go func() { _ = httpSrv.Serve(ln) }()
		defer httpSrv.Close()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(o.Listener) }()
	o.Logger.Info("coordinator listening", "address", o.Listener.Addr().String(), "mtls", !o.Insecure)

	resumed, err := runner.ResumeRunning(ctx)
	if err != nil {
		srv.Stop()
		return fmt.Errorf("coordinator: resuming runs: %w", err)
	}
	if resumed == "" && o.Run != nil {
		if err := runner.Start(*o.Run); err != nil {
			srv.Stop()
			return err
		}
	}
	if resumed != "" && o.Run != nil && o.Run.RunID != resumed {
		o.Logger.Warn("a previous run is being resumed first; the requested run was not started", "resumed", resumed, "requested", o.Run.RunID)
	}

	var runErr error
	if o.ExitWhenIdle {
		runErr = runner.Wait()
		// Give sites a moment to receive the DONE task before the streams close.
		time.Sleep(200 * time.Millisecond)
	} else {
		select {
		case <-ctx.Done():
		case err := <-serveErr:
			return err
		}
	}
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		srv.Stop()
	}
	return runErr
}

// ServerTLS loads the coordinator's mTLS configuration.
func ServerTLS(cert, key, ca string) (*tls.Config, error) { return tlsconf.ServerConfig(cert, key, ca) }
