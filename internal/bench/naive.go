package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cohortfl/cohort/internal/sim"
	"github.com/cohortfl/cohort/model"
)

// naiveSites returns the simulated sites' standardised training rows, split
// exactly as the simulation splits them.
func naiveSites(c sim.Config) ([]model.Examples, error) { return sim.SiteTrainingSets(c) }

// naiveLoop is the baseline of MeasureSim: for each round, every site trains
// (model.Train from a copy of the global parameters) on GOMAXPROCS workers —
// the parallelism the in-process transport uses — and the example-weighted
// mean delta is applied. There is no coordinator: no tasks, nonces, round
// state, validation, store or evaluation. It plays c.Rounds rounds and times
// all but the warm-up rounds.
func naiveLoop(ctx context.Context, c sim.Config) (time.Duration, int, error) {
	sites, err := naiveSites(c)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: naive baseline: %w", err)
	}
	m, err := model.New(model.Spec{Name: c.Model, Features: sites[0].D, Classes: 2})
	if err != nil {
		return 0, 0, err
	}
	cfg := model.TrainConfig{Epochs: c.LocalEpochs, BatchSize: c.BatchSize, LearningRate: c.LearningRate,
		Optimizer: c.Optimizer, L2: c.L2}
	global := m.Init(rand.New(rand.NewPCG(c.Seed, 0)))
	workers := runtime.GOMAXPROCS(0)

	var elapsed time.Duration
	updates := 0
	for r := 1; r <= c.Rounds; r++ {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		began := time.Now()
		sum := make([]float64, len(global))
		var weight float64
		var mu sync.Mutex
		var next atomic.Int64
		var firstErr error
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := make([]float64, len(global))
				var w float64
				for {
					i := int(next.Add(1) - 1)
					if i >= len(sites) {
						break
					}
					params := slices.Clone(global)
					rng := rand.New(rand.NewPCG(c.Seed^uint64(r), uint64(i)))
					if _, err := model.Train(m, params, sites[i], cfg, rng); err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
					n := float64(sites[i].N)
					for j, p := range params {
						local[j] += n * (p - global[j])
					}
					w += n
				}
				mu.Lock()
				for j, v := range local {
					sum[j] += v
				}
				weight += w
				mu.Unlock()
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return 0, 0, fmt.Errorf("bench: naive baseline, round %d: %w", r, firstErr)
		}
		for j := range global {
			global[j] += sum[j] / weight
		}
		if r > warmupRounds {
			elapsed += time.Since(began)
			updates += len(sites)
		}
	}
	return elapsed, updates, nil
}
