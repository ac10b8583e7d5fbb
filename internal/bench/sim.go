package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/internal/sim"
)

// SimTarget is the in-process throughput the platform aims for on two cores,
// in client updates per second of fit-phase wall time.
const SimTarget = 5000

// SimConfig describes the in-process simulation throughput measurement:
// FedAvg logistic regression with one local epoch, sites given IID shares of
// an embedded dataset.
type SimConfig struct {
	Dataset string // embedded dataset (default "fertility")
	Clients int    // simulated sites
	Rounds  int    // measured rounds; one unmeasured warm-up round is played first
	Seed    uint64
}

// SimResult is the outcome of MeasureSim. Rates are client updates (accepted
// fit results) per second.
type SimResult struct {
	Dataset string `json:"dataset"`
	Clients int    `json:"clients"`
	Rounds  int    `json:"rounds"`  // measured rounds (after the warm-up round)
	Updates int    `json:"updates"` // accepted fit results in the measured rounds
	// FitSeconds is the fit-phase wall time of the measured rounds, from the
	// coordinator's round records (task dispatch to the round closing).
	FitSeconds    float64 `json:"fit_seconds"`
	UpdatesPerSec float64 `json:"updates_per_sec"`
	// RoundUpdatesPerSec counts whole rounds instead: fit, aggregation,
	// commit to the store and federated evaluation.
	RoundUpdatesPerSec float64 `json:"round_updates_per_sec"`
	// The naive baseline: the same local training (same data, model and
	// hyperparameters, same number of workers) in a bare loop with an
	// in-memory FedAvg and no coordinator.
	NaiveSeconds       float64 `json:"naive_seconds"`
	NaiveUpdatesPerSec float64 `json:"naive_updates_per_sec"`
	// Ratio is UpdatesPerSec / NaiveUpdatesPerSec: the share of the bare
	// loop's throughput Cohort keeps (1 means no coordinator overhead).
	Ratio float64 `json:"ratio"`
	// OverheadMicros is the coordinator's cost per update:
	// 1/UpdatesPerSec − 1/NaiveUpdatesPerSec, in microseconds of wall time.
	OverheadMicros float64 `json:"overhead_us_per_update"`
	Target         float64 `json:"target_updates_per_sec"`
	MeetsTarget    bool    `json:"meets_target"`
}

func (c SimConfig) validate() error {
	if c.Clients < 1 || c.Rounds < 1 {
		return fmt.Errorf("bench: sim needs at least 1 client and 1 round, got %d and %d", c.Clients, c.Rounds)
	}
	return nil
}

func (c SimConfig) simConfig() sim.Config {
	sc := sim.DefaultConfig()
	sc.Dataset = c.Dataset
	if sc.Dataset == "" {
		sc.Dataset = "fertility"
	}
	sc.Clients, sc.Rounds, sc.Seed = c.Clients, c.Rounds+warmupRounds, c.Seed
	sc.Partition, sc.Model, sc.Strategy, sc.Transport = "iid", "logreg", "fedavg", "inproc"
	sc.LocalEpochs = 1
	return sc
}

// warmupRounds are played before the measured rounds: the first round also
// pays one-off costs (sites standardising their data, gRPC handshakes).
const warmupRounds = 1

// MeasureSim runs an in-process simulation (internal/sim, transport
// "inproc") and the naive baseline, and compares their throughput.
func MeasureSim(ctx context.Context, c SimConfig) (SimResult, error) {
	if err := c.validate(); err != nil {
		return SimResult{}, err
	}
	sc := c.simConfig()
	dir, err := os.MkdirTemp("", "cohort-bench-sim-*")
	if err != nil {
		return SimResult{}, err
	}
	defer os.RemoveAll(dir)
	dbPath := filepath.Join(dir, "cohort.db")

	var reports []coordinator.RoundReport
	res, err := sim.Run(ctx, sc, sim.Options{DBPath: dbPath,
		OnRound: func(r coordinator.RoundReport) { reports = append(reports, r) }})
	if err != nil {
		return SimResult{}, fmt.Errorf("bench: simulation: %w", err)
	}
	fit, updates, err := fitPhases(ctx, dbPath, res.RunID, warmupRounds)
	if err != nil {
		return SimResult{}, err
	}
	var whole time.Duration
	for _, r := range reports {
		if r.Round > warmupRounds {
			whole += r.Duration
		}
	}
	out := SimResult{Dataset: sc.Dataset, Clients: res.Sites, Rounds: sc.Rounds - warmupRounds, Updates: updates,
		FitSeconds: fit.Seconds(), UpdatesPerSec: rate(updates, fit), RoundUpdatesPerSec: rate(updates, whole),
		Target: SimTarget}
	out.MeetsTarget = out.UpdatesPerSec >= SimTarget

	naive, naiveUpdates, err := naiveLoop(ctx, sc)
	if err != nil {
		return SimResult{}, err
	}
	out.NaiveSeconds, out.NaiveUpdatesPerSec = naive.Seconds(), rate(naiveUpdates, naive)
	if out.UpdatesPerSec > 0 && out.NaiveUpdatesPerSec > 0 {
		out.Ratio = out.UpdatesPerSec / out.NaiveUpdatesPerSec
		out.OverheadMicros = 1e6 * (1/out.UpdatesPerSec - 1/out.NaiveUpdatesPerSec)
	}
	return out, nil
}

// fitPhases sums the fit-phase wall time and the accepted results of the
// committed rounds after the first skip rounds, as the coordinator recorded
// them in its store.
func fitPhases(ctx context.Context, dbPath, runID string, skip int) (time.Duration, int, error) {
	db, err := store.Open(dbPath)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	return fitPhasesDB(ctx, db, runID, skip)
}

func fitPhasesDB(ctx context.Context, db *store.DB, runID string, skip int) (time.Duration, int, error) {
	recs, err := db.Rounds(ctx, runID)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: reading round records: %w", err)
	}
	var total time.Duration
	accepted, rounds := 0, 0
	for _, r := range recs {
		if r.Status != store.RoundCommitted || r.Round <= skip {
			continue
		}
		rounds++
		total += r.EndedAt.Sub(r.StartedAt)
		for _, p := range r.Participants {
			if p.Status == store.ParticipantAccepted {
				accepted++
			}
		}
	}
	if rounds == 0 || total <= 0 {
		return 0, 0, errors.New("bench: the run committed no measured round")
	}
	return total, accepted, nil
}

// rate returns n per second of d (0 if d is not positive).
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
