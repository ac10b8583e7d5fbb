package aggregation

import "errors"

// Sentinel errors shared by every strategy.
var (
	ErrWrongLength = errors.New("aggregation: update has the wrong length")
	ErrNotFinite   = errors.New("aggregation: update contains NaN or Inf")
	ErrDuplicate   = errors.New("aggregation: client already contributed to this round")
	ErrNoUpdates   = errors.New("aggregation: no updates to aggregate")
	ErrBadWeight   = errors.New("aggregation: number of examples must be positive")
)

// Update is one client's fit result for one round.
//
// Delta is the client's new local parameters minus the global parameters it
// started from. The Aggregator that receives an Update must not retain Delta
// after Add returns (the caller reuses the buffer), unless it documents that it
// copies it (the robust aggregators do).
type Update struct {
	Client      string
	Delta       []float64
	NumExamples int64
}

// FitConfig is what a strategy asks clients to do locally in a round.
type FitConfig struct {
	// ProximalMu is FedProx's μ; 0 disables the proximal term.
	ProximalMu float64
}

// Strategy decides how client results become the next global model. It has the
// shape of Flower's Strategy (ConfigureFit / AggregateFit), adapted to streaming:
// AggregateFit is split into NewAggregator, Add and Result so that updates are
// folded into one running state as they arrive instead of being held in memory.
//
// A Strategy may keep server-side optimiser state across rounds (FedAdam's moments);
// it is used by one run at a time and is not safe for concurrent use.
type Strategy interface {
	// Name is the strategy's flag name, for example "fedavg" or "krum".
	Name() string
	// ConfigureFit returns the local-training settings for a round.
	ConfigureFit(round int) FitConfig
	// NewAggregator starts aggregation for a round whose global parameters are
	// global (len = the model's dimension). global must not be modified by the
	// strategy; Result returns a new slice.
	NewAggregator(round int, global []float64) Aggregator
}

// Aggregator folds one round's updates. Add is called once per accepted update,
// from one goroutine at a time; Result is called once, after the last Add.
type Aggregator interface {
	// Add validates u (length, finiteness, positive weight, distinct client) and
	// folds it in. On error the aggregator's state is unchanged.
	Add(u Update) error
	// Result returns the next global parameters. It returns ErrNoUpdates if no
	// update was added. A nil slice with a nil error means "keep the previous model".
	Result() ([]float64, error)
}

// MeanStrategy is an optional capability: a strategy whose new global model
// depends on the round's updates only through their example-weighted mean delta
// Σ n_k Δ_k / Σ n_k. Only such strategies can run under secure aggregation, where
// the coordinator learns nothing but that sum. FedAvg, FedProx and the server
// optimisers implement it; median, trimmed mean and Krum do not.
type MeanStrategy interface {
	Strategy
	// ApplyMean returns the next global parameters given the round's weighted mean
	// delta. It may update server optimiser state, so it is called once per round.
	//
	// It returns an error wrapping ErrWrongLength if meanDelta and global (or
	// the optimiser state) differ in length, or ErrNotFinite if meanDelta holds
	// NaN or ±Inf or the next model (or optimiser state) would not be finite.
	// On error the result is nil and the strategy's state is unchanged, so the
	// caller can keep the previous model and go on with the next round.
	ApplyMean(round int, global, meanDelta []float64) ([]float64, error)
}

// StatefulStrategy is implemented by strategies that keep state across rounds
// (the server optimisers' moments). The coordinator stores MarshalState's bytes
// in the same transaction that commits a round, and restores them with
// UnmarshalState when it resumes a run, so a crash does not reset the optimiser.
type StatefulStrategy interface {
	Strategy
	// MarshalState returns the state after the last successful round (nil if none).
	MarshalState() ([]byte, error)
	// UnmarshalState replaces the state; it validates the bytes and leaves the
	// state unchanged on error.
	UnmarshalState(b []byte) error
}

// BufferingStrategy is implemented by strategies that must hold every update of a
// round in memory (coordinate-wise median, trimmed mean, Krum). The coordinator
// uses it to warn about memory and to refuse secure aggregation with them.
type BufferingStrategy interface {
	Strategy
	// BuffersUpdates reports that the strategy keeps all K updates of a round.
	BuffersUpdates() bool
}
