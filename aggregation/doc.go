// Package aggregation turns the clients' fit results of a round into the next
// global model.
//
// # Streaming contract
//
// A Strategy (Flower's shape: ConfigureFit, then AggregateFit split into
// NewAggregator / Add / Result) never needs the round's updates all at once.
// The coordinator creates one Aggregator per round, calls Add for each update as
// it arrives (one goroutine at a time) and Result once at the deadline. Add
// validates the update — client id present and distinct, len(Delta) equal to
// the model's dimension, every value finite, NumExamples > 0 — and on error
// leaves the aggregator exactly as it was, so one bad client cannot spoil a
// round. Errors are *UpdateError values wrapping the sentinels ErrWrongLength,
// ErrNotFinite, ErrBadWeight, ErrDuplicate or ErrNoClient; test them with
// errors.Is. Add never retains Delta; Result never modifies or aliases the
// global slice given to NewAggregator, which the caller must not modify while
// the aggregator is in use (it is read, not copied).
//
// The mean-based strategies fold each update into a WeightedSum, a compensated
// running sum Σ n_k·Δ_k and Σ n_k whose memory is O(dim) however many clients
// report. Their result does not depend on the arrival order beyond a few ulps
// (see WeightedSum).
//
// # Large models
//
// Optional interfaces let a caller keep model-sized data out of memory;
// the coordinator uses them for models of 1 MiB or more:
//
//   - Vector: an update read in chunks, any number of times (from a spool
//     file), folded with AddVector. A BoundedVector also knows that its
//     values are finite and bounded, which lets a WeightedSum skip its
//     validation read when no coordinate can overflow.
//   - Spiller: the mean aggregators' running state (two model-sized vectors)
//     moved to a Scratch, typically an unlinked file (NewWeightedSumIn).
//   - ResultWriter: the next model written into memory the caller provides
//     (the coordinator's model lives outside the Go heap).
//
// Each gives bit-identical results to the in-memory path.
//
// # Strategies
//
// New builds a strategy by name with Options (zero fields take defaults):
//
//	fedavg       x + η·mean                       McMahan et al. 2017
//	fedprox      as fedavg; clients get μ          Li et al. 2020
//	fedadam      server Adam on the mean delta     Reddi et al. 2021
//	fedyogi      server Yogi                       Reddi et al. 2021
//	fedadagrad   server Adagrad                    Reddi et al. 2021
//	median       coordinate-wise median            Yin et al. 2018
//	trimmedmean  coordinate-wise β-trimmed mean    Yin et al. 2018
//	krum         Krum (m = 1)                      Blanchard et al. 2017
//	multikrum    Multi-Krum (m = n−f by default)   Blanchard et al. 2017
//
// The server optimisers follow Algorithm 2 of Reddi et al. (m₀ = 0, v₀ = τ², no
// bias correction) and keep m and v across rounds. They implement
// StatefulStrategy: the coordinator stores MarshalState's bytes (a versioned,
// checksummed binary encoding of the strategy name, d, m and v) with every
// committed round and hands them back to UnmarshalState when it resumes a run,
// so a restarted coordinator continues with the same moments, bit for bit.
// UnmarshalState rejects a blob that is truncated, corrupted, of another
// version or written by another strategy with an error wrapping
// ErrInvalidState, and then leaves the state as it was. FedAvg, FedProx and the
// robust rules keep no state across rounds.
//
// # Which strategies buffer, and secure aggregation
//
// fedavg, fedprox, fedadam, fedyogi and fedadagrad depend on a round only
// through the example-weighted mean delta Σ n_kΔ_k / Σ n_k. They implement
// MeanStrategy, stream in O(dim) memory, and are the only strategies that can
// run under secure aggregation: the coordinator decrypts the two sums and calls
// ApplyMean. For those, ApplyMean(round, global, mean) and the Aggregator path
// give the same model. ApplyMean fails with an error wrapping ErrWrongLength
// (mean and global, or mean and optimiser state, differ in length) or
// ErrNotFinite (a NaN or ±Inf in the mean, or a step that would overflow); the
// strategy's state is then unchanged and the caller keeps the previous model.
//
// median, trimmedmean, krum and multikrum are non-linear in the individual
// updates: they must see every update in the clear, so their aggregators copy
// every delta and hold K·dim floats until Result (they implement
// BufferingStrategy). They are unweighted — every client counts once whatever
// its NumExamples, since example counts are self-reported and would otherwise
// let a Byzantine client buy influence. Krum needs n > 2f+2 updates and fails
// with ErrTooFewUpdates otherwise. All four are exactly independent of arrival
// order (ties in Krum scores are broken by client id).
//
// # Defaults
//
// η = 1 for fedavg, fedprox and the robust rules, 0.1 for fedadam and
// fedadagrad, 0.01 for fedyogi (Flower's defaults, inside the ranges Reddi et
// al. tune over); β1 = 0.9, β2 = 0.99, τ = 1e-3 (Reddi et al.); μ = 0.01 (Li et
// al. tune over {0.001, 0.01, 0.1, 1}); trim fraction 0.1; Krum f = 0, m = 1.
//
// # Usage
//
//	s, err := aggregation.New("fedavg", aggregation.DefaultOptions())
//	if err != nil { ... }
//	agg := s.NewAggregator(round, global)
//	for u := range updates {
//		if err := agg.Add(u); err != nil {
//			log.Printf("rejected: %v", err) // the round goes on without u
//		}
//	}
//	next, err := agg.Result()
//
// # References
//
//   - McMahan et al., Communication-Efficient Learning of Deep Networks from
//     Decentralized Data, AISTATS 2017.
//   - Li et al., Federated Optimization in Heterogeneous Networks, MLSys 2020.
//   - Reddi et al., Adaptive Federated Optimization, ICLR 2021.
//   - Yin et al., Byzantine-Robust Distributed Learning: Towards Optimal
//     Statistical Rates, ICML 2018.
//   - Blanchard et al., Machine Learning with Adversaries: Byzantine Tolerant
//     Gradient Descent, NeurIPS 2017.
package aggregation
