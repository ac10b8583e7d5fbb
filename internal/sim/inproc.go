package sim

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"runtime"
	"sort"
	"time"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/model"
	"github.com/cohortfl/cohort/privacy"
)

// inproc is a coordinator.Dispatcher that runs sites in this process: a task
// becomes a call on the site's client.Executor (the same code a gRPC site
// runs) on a bounded worker pool, and the result goes through the engine's
// BeginResult/Submit* path exactly as a gRPC upload would, minus the wire.
type inproc struct {
	ctx    context.Context
	engine *coordinator.Engine
	names  []string
	execs  map[string]*client.Executor
	sem    chan struct{}
	roots  *x509.CertPool // the simulation CA, for site certificates and co-signatures
	caPEM  []byte
	sites  []coordinator.SiteStatus
}

func newInproc(ctx context.Context, sites []site, seed uint64) (*inproc, error) {
	d := &inproc{ctx: ctx, execs: map[string]*client.Executor{}, sem: make(chan struct{}, runtime.GOMAXPROCS(0))}
	// Sites have in-memory certificates from a throwaway CA: secure
	// aggregation binds each site's keys to its certificate, and sites
	// co-sign published models with their certificate keys.
	ca, err := pki.NewCA("cohort-sim-ca", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	d.roots, d.caPEM = roots, ca.CertPEM()
	for _, s := range sites {
		tr, err := client.NewModelTrainer(s.train, s.eval)
		if err != nil {
			return nil, err
		}
		if s.protTrain != nil {
			if err := tr.SetProtected(s.protTrain, s.protEval); err != nil {
				return nil, err
			}
		}
		// Reproducible DP noise in simulation; deployments draw from crypto/rand.
		siteSeed := seed ^ uint64(len(d.names)+1)*0x9e3779b97f4a7c15
		tr.Noise = model.NewSeededNoise(siteSeed)
		creds, err := simCredentials(ca, s.name)
		if err != nil {
			return nil, err
		}
		creds.Roots = roots
		d.sites = append(d.sites, coordinator.SiteStatus{Name: s.name, Connected: true, NumExamples: int64(s.train.N)})
		d.execs[s.name] = client.NewExecutor(s.name, tr, creds)
		d.execs[s.name].Noise = privacy.SeededNormal(siteSeed)
		d.names = append(d.names, s.name)
	}
	sort.Strings(d.names)
	return d, nil
}

func simCredentials(ca *pki.CA, name string) (client.Credentials, error) {
	certPEM, keyPEM, err := ca.Issue(name, pki.Client, nil, nil, 24*time.Hour)
	if err != nil {
		return client.Credentials{}, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return client.Credentials{}, fmt.Errorf("simulate: issued certificate for %q does not decode", name)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return client.Credentials{}, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return client.Credentials{}, fmt.Errorf("simulate: key of %q cannot sign", name)
	}
	return client.Credentials{Signer: signer, Certificate: cb.Bytes}, nil
}

func (d *inproc) Connected() []string { return d.names }

// Sites implements coordinator.SiteLister: every simulated site is connected.
func (d *inproc) Sites() []coordinator.SiteStatus { return d.sites }

func (d *inproc) Dispatch(name string, t coordinator.Task) error {
	if t.Done {
		return nil
	}
	go func() {
		select {
		case d.sem <- struct{}{}:
		case <-d.ctx.Done():
			return
		}
		defer func() { <-d.sem }()
		d.run(name, t)
	}()
	return nil
}

func (d *inproc) run(name string, t coordinator.Task) {
	e := d.engine
	var releases []func() // of the model references the task read under
	defer func() {
		for _, release := range releases {
			release()
		}
	}()
	res, err := d.execs[name].Execute(d.ctx, client.Task{RunID: t.RunID, Round: t.Round, Kind: t.Phase.Kind(), Config: t.Config},
		func() ([]float64, error) {
			p, release, err := e.Params(d.ctx, t.RunID, t.ModelVersion)
			if err == nil {
				releases = append(releases, release)
			}
			return p, err
		},
		func() ([]byte, error) { return e.Blob(t.RunID, t.Blob) })
	up := coordinator.Upload{RunID: t.RunID, Round: t.Round, Phase: t.Phase, Nonce: t.Nonce}
	if _, berr := e.BeginResult(name, up); berr != nil {
		return
	}
	switch {
	case err != nil:
		e.AbortResult(name, err.Error())
	case res.Sealed != nil:
		_ = e.SubmitSealed(name, res.Sealed)
	case res.Counts != nil:
		_ = e.SubmitEvaluation(name, *res.Counts, res.Extra)
	case t.Phase == coordinator.PhaseStatistics:
		_ = e.SubmitStatistics(name, res.Floats)
	default:
		_ = e.SubmitFit(name, coordinator.FitResult{NumExamples: res.NumExamples, Delta: aggregation.Values(res.Floats), Metrics: res.Metrics})
	}
}
