package coordinator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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

	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/tlsconf"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/registry"
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
	MaxStaged    int    // uploads read at once (default 1)
	SpoolDir     string // where large uploads wait to be folded, and large rounds keep their running sum ("": the system's temporary directory)
	// OnRound, if set, is called after each committed round (in addition to logging).
	OnRound func(RoundReport)
	// Revocation, if set, is the revocation list checker also given to the
	// TLS configuration (tlsconf.WithRevocationChecker), which checks it on
	// every handshake. Serve re-reads the file every RevocationRefresh,
	// logs each new list, and re-checks callers on every call and while
	// their streams are open, so a revoked site is cut off without a
	// restart.
	Revocation *tlsconf.CRLChecker
	// RevocationRefresh is how often the revocation list file is checked
	// for changes between handshakes (default 2s).
	RevocationRefresh time.Duration
	// OnDenied, if set, is called for every call refused by the role check
	// or the revocation list (see Authorizer.OnDenied); for the audit log.
	OnDenied func(ctx context.Context, actor, role, method string)
	// Reporter renders reports for AdminService/GetReport (nil: not served).
	Reporter Reporter
	// Signer signs published model versions (see package registry); nil
	// records gate decisions without sealing signed artifacts. Site
	// co-signatures are checked against the TLS configuration's ClientCAs.
	Signer *registry.Signer
}

// defaultRevocationRefresh is ServeOptions.RevocationRefresh's default.
const defaultRevocationRefresh = 2 * time.Second

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
	var roots *x509.CertPool
	if o.TLS != nil {
		roots = o.TLS.ClientCAs
	}
	engine, err := NewEngine(Options{Store: o.DB, Dispatcher: registry, Logger: o.Logger, Metrics: metrics, Signer: o.Signer, Roots: roots, ScratchDir: o.SpoolDir,
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
	authz := &Authorizer{Insecure: o.Insecure, Logger: o.Logger, OnDenied: func(ctx context.Context, actor, role, method string) {
		engine.recordLimited(audit.Event{Kind: audit.KindRoleDenied, Actor: actor, Subject: method},
			map[string]any{"role": role, "method": method})
		if o.OnDenied != nil {
			o.OnDenied(ctx, actor, role, method)
		}
	}}
	if o.Revocation != nil {
		authz.Revocation = o.Revocation
	}
	opts = append(opts, grpc.ChainUnaryInterceptor(authz.Unary()), grpc.ChainStreamInterceptor(authz.Stream()))
	if !o.Insecure {
		opts = append(opts, grpc.Creds(newLoggingCreds(o.TLS, o.Logger, engine.recordRefusal)))
	} else {
		o.Logger.Warn("roles are not checked (--insecure): any caller may use the admin API")
	}
	if o.Revocation != nil {
		watchCtx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go watchRevocation(watchCtx, o.Revocation, o.RevocationRefresh, o.Logger)
	} else if !o.Insecure {
		o.Logger.Warn("no revocation list (--crl): revoked certificates are accepted until they expire")
	}
	srv := grpc.NewServer(opts...)
	cohortv1.RegisterSiteServiceServer(srv, NewSiteServer(engine, registry, SiteServerOptions{Insecure: o.Insecure, MaxStaged: o.MaxStaged, SpoolDir: o.SpoolDir, Logger: o.Logger}))
	runner := NewRunner(ctx, engine, o.DB)
	admin := NewAdminServer(runner)
	admin.Reporter = o.Reporter
	cohortv1.RegisterAdminServiceServer(srv, admin)

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

// watchRevocation re-reads the revocation list every interval until ctx
// ends, and logs each new list and each problem with the file. Handshakes
// also re-read it, so this matters for connections already open.
func watchRevocation(ctx context.Context, c *tlsconf.CRLChecker, interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		interval = defaultRevocationRefresh
	}
	logList := func(l *pki.RevocationList) {
		log.Info("revocation list in force", "file", c.Path(), "number", l.Number(), "revoked", len(l.Entries()),
			"next_update", l.NextUpdate().UTC().Format(time.RFC3339))
		if left := time.Until(l.NextUpdate()); left < 14*24*time.Hour {
			log.Warn("the revocation list expires soon; after that every connection is refused until it is re-signed (cohort provision crl)",
				"file", c.Path(), "next_update", l.NextUpdate().UTC().Format(time.RFC3339), "left", left.Round(time.Minute))
		}
	}
	if l := c.List(); l != nil {
		logList(l)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l, changed, err := c.Refresh()
		switch {
		case !changed:
		case err != nil:
			log.Error("revocation list unusable: refusing every new connection until it is fixed", "err", err)
		default:
			logList(l)
		}
	}
}

// ServerTLS loads the coordinator's mTLS configuration.
func ServerTLS(cert, key, ca string) (*tls.Config, error) { return tlsconf.ServerConfig(cert, key, ca) }
