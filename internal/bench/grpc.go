package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
)

// GRPCConfig describes the gRPC loopback measurement: the real coordinator
// (coordinator.Serve with mutual TLS on 127.0.0.1) and Clients sites running
// client.Run with a Trainer that returns at once, on a logistic regression of
// Params parameters.
type GRPCConfig struct {
	Clients int
	Params  int // model size: a logreg with Params−1 features
	Rounds  int // measured rounds; one unmeasured warm-up round is played first
}

// GRPCResult is the outcome of MeasureGRPC. MB are 10⁶ bytes.
type GRPCResult struct {
	Clients int `json:"clients"`
	Params  int `json:"params"`
	Rounds  int `json:"rounds"` // measured rounds
	// BytesPerRound is the payload a fit phase moves: a model download and an
	// update upload, 8 bytes per parameter each, per accepted site.
	BytesPerRound int64   `json:"bytes_per_round"`
	FitSeconds    float64 `json:"fit_seconds"` // fit-phase wall time of the measured rounds
	MBPerSec      float64 `json:"mb_per_sec"`
	// TLSCopyMBPerSec is the baseline: io.Copy of the same number of bytes
	// over one TLS connection on loopback with the same certificates.
	TLSCopyMBPerSec float64 `json:"tls_copy_mb_per_sec"`
	// Ratio is MBPerSec / TLSCopyMBPerSec.
	Ratio float64 `json:"ratio"`
}

func (c GRPCConfig) validate() error {
	if c.Clients < 1 || c.Params < 2 || c.Rounds < 1 {
		return fmt.Errorf("bench: grpc needs at least 1 client, 2 parameters and 1 round, got %d, %d and %d", c.Clients, c.Params, c.Rounds)
	}
	return nil
}

// runConfig is the run both gRPC measurements drive: a logreg of n parameters
// whose features are fixed, so there is no statistics phase (see
// coordinator.Engine openRun: Standardize false and Features > 0).
func runConfig(id string, clients, params, rounds int) coordinator.RunConfig {
	rc := coordinator.DefaultRunConfig()
	rc.RunID = id
	rc.Model, rc.Classes, rc.Features = "logreg", 2, params-1
	rc.Standardize = false
	rc.Rounds, rc.FractionFit, rc.MinClients = rounds, 1, clients
	rc.OnFailure, rc.MaxRetries = coordinator.OnFailureStop, 0
	rc.RoundTimeout = coordinator.Duration(5 * time.Minute)
	rc.WaitForClients = coordinator.Duration(time.Minute)
	return rc
}

// siteExamples is what every benchmark site reports training on.
const siteExamples = 100

// runSites starts one client.Run per site of fed against addr and returns a
// function that waits for them all to return.
func runSites(ctx context.Context, fed *federation, addr string) (wait func()) {
	var wg sync.WaitGroup
	quiet := slog.New(slog.DiscardHandler)
	for _, name := range fed.sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = client.Run(ctx, client.Options{Address: addr, TLS: fed.client[name], Trainer: instantTrainer{examples: siteExamples},
				Logger: quiet, ExitWhenDone: true, NumExamples: siteExamples,
				InitialBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
		}()
	}
	return wg.Wait
}

// MeasureGRPC runs the coordinator and the sites in this process over gRPC
// with mutual TLS on loopback and compares the fit phase's transfer rate with
// a bare TLS copy.
func MeasureGRPC(ctx context.Context, c GRPCConfig) (GRPCResult, error) {
	if err := c.validate(); err != nil {
		return GRPCResult{}, err
	}
	dir, err := os.MkdirTemp("", "cohort-bench-grpc-*")
	if err != nil {
		return GRPCResult{}, err
	}
	defer os.RemoveAll(dir)
	fed, err := newFederation(filepath.Join(dir, "pki"), c.Clients)
	if err != nil {
		return GRPCResult{}, err
	}
	db, err := store.Open(filepath.Join(dir, "cohort.db"))
	if err != nil {
		return GRPCResult{}, err
	}
	defer db.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return GRPCResult{}, err
	}
	rc := runConfig(fmt.Sprintf("bench-grpc-%d", time.Now().UnixNano()), c.Clients, c.Params, c.Rounds+warmupRounds)

	sctx, cancel := context.WithCancel(ctx)
	wait := runSites(sctx, fed, ln.Addr().String())
	serveErr := coordinator.Serve(sctx, coordinator.ServeOptions{Listener: ln, TLS: fed.server, DB: db, Run: &rc,
		ExitWhenIdle: true, Logger: slog.New(slog.DiscardHandler)})
	cancel()
	wait()
	if serveErr != nil {
		return GRPCResult{}, fmt.Errorf("bench: coordinator: %w", serveErr)
	}
	fit, accepted, err := fitPhasesDB(ctx, db, rc.RunID, warmupRounds)
	if err != nil {
		return GRPCResult{}, err
	}
	payload := int64(2*8*c.Params) * int64(accepted) // bytes moved by the measured fit phases
	out := GRPCResult{Clients: c.Clients, Params: c.Params, Rounds: c.Rounds,
		BytesPerRound: payload / int64(c.Rounds), FitSeconds: fit.Seconds(), MBPerSec: mbPerSec(payload, fit)}

	copied, err := tlsCopy(ctx, fed, payload)
	if err != nil {
		return GRPCResult{}, fmt.Errorf("bench: TLS copy baseline: %w", err)
	}
	out.TLSCopyMBPerSec = mbPerSec(payload, copied)
	if out.TLSCopyMBPerSec > 0 {
		out.Ratio = out.MBPerSec / out.TLSCopyMBPerSec
	}
	return out, nil
}

func mbPerSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / 1e6 / d.Seconds()
}

// tlsCopy is MeasureGRPC's baseline: it sends n bytes with io.Copy from a
// site to the coordinator's certificate over one mutually authenticated TLS
// connection on loopback, and returns the time from the first byte written
// (after the handshake) until the receiver has read the last one.
func tlsCopy(ctx context.Context, fed *federation, n int64) (time.Duration, error) {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", fed.server)
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	type received struct {
		n   int64
		at  time.Time
		err error
	}
	done := make(chan received, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- received{err: err}
			return
		}
		defer conn.Close()
		got, err := io.Copy(io.Discard, conn)
		done <- received{n: got, at: time.Now(), err: err}
	}()
	d := tls.Dialer{Config: fed.client[fed.sites[0]]}
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	if err := conn.(*tls.Conn).HandshakeContext(ctx); err != nil {
		conn.Close()
		return 0, err
	}
	began := time.Now()
	sent, err := io.Copy(conn, io.LimitReader(zeros{}, n))
	if cerr := conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	r := <-done
	switch {
	case r.err != nil:
		return 0, r.err
	case r.n != sent || sent != n:
		return 0, errors.New("short copy")
	}
	return r.at.Sub(began), nil
}

// zeros is an endless reader of zero bytes. (TLS encrypts every byte, so the
// content does not change the cost.)
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
