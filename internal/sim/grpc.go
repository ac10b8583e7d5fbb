package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/tlsconf"
)

// runGRPC runs the simulation over real gRPC with mutual TLS on 127.0.0.1: an
// ephemeral CA issues a server certificate and one client certificate per site,
// the coordinator serves on a loopback port and every site runs the client SDK.
func runGRPC(ctx context.Context, p *prepared, rc coordinator.RunConfig, db *store.DB, o Options) ([]float64, []byte, error) {
	dir, err := os.MkdirTemp("", "cohort-pki-*")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	ca, err := pki.NewCA("cohort-sim-ca", 24*time.Hour)
	if err != nil {
		return nil, nil, err
	}
	issue := func(name string, role pki.Role, ips []net.IP) error {
		return ca.IssueBundle(dir, name, role, ips, 24*time.Hour)
	}
	if err := issue("coordinator", pki.Server, []net.IP{net.IPv4(127, 0, 0, 1)}); err != nil {
		return nil, nil, err
	}
	caFile, certFile, keyFile := pki.BundleFiles(dir, "coordinator")
	srvTLS, err := tlsconf.ServerConfig(certFile, keyFile, caFile)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	for _, s := range p.sites {
		if err := issue(s.name, pki.Client, nil); err != nil {
			return nil, nil, fmt.Errorf("simulate: certificate for site %q: %w", s.name, err)
		}
		caF, certF, keyF := pki.BundleFiles(dir, s.name)
		cliTLS, err := tlsconf.ClientConfig(certF, keyF, caF, "127.0.0.1")
		if err != nil {
			return nil, nil, err
		}
		tr, err := client.NewModelTrainer(s.train, s.eval)
		if err != nil {
			return nil, nil, err
		}
		if s.protTrain != nil {
			if err := tr.SetProtected(s.protTrain, s.protEval); err != nil {
				return nil, nil, err
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := client.Run(ctx, client.Options{Address: ln.Addr().String(), TLS: cliTLS, Trainer: tr,
				Logger: o.Logger, ExitWhenDone: true, NumExamples: int64(s.train.N),
				InitialBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})
			if err != nil && !errors.Is(err, context.Canceled) {
				o.Logger.Error("site failed", "site", s.name, "err", err)
			}
		}()
	}
	serveErr := coordinator.Serve(ctx, coordinator.ServeOptions{Listener: ln, TLS: srvTLS, DB: db, Run: &rc,
		ExitWhenIdle: true, Logger: o.Logger, OnRound: o.OnRound, Signer: o.Signer})
	cancel()
	wg.Wait()
	if serveErr != nil {
		return nil, nil, serveErr
	}
	mv, err := db.LatestModel(context.Background(), rc.RunID)
	if err != nil {
		return nil, nil, err
	}
	return mv.Params, ca.CertPEM(), nil
}
