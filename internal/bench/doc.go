// Package bench measures Cohort's performance targets, each against a
// baseline measured in the same run, so that figures from a noisy shared
// machine are read as ratios rather than absolute numbers. It backs
// `cohort bench` and the package's Go benchmarks.
//
// The measurements (besides Secure, described on MeasureSecure):
//
//   - Sim (MeasureSim): in-process simulation throughput — the real engine,
//     SQLite store and FedAvg driving sites through internal/sim with the
//     "inproc" transport (logistic regression, one local epoch, IID shares of
//     an embedded dataset). The figure is accepted fit results per second of
//     fit-phase wall time, read from the coordinator's own round records
//     (task dispatch to round close). The baseline is a naive loop: the same
//     local training (model.Train on the same site data, GOMAXPROCS workers)
//     with an in-memory weighted mean and no coordinator.
//
//   - GRPC (MeasureGRPC): the real coordinator (coordinator.Serve) and sites
//     (client.Run) over gRPC with mutual TLS on 127.0.0.1, with a Trainer that
//     returns at once, so the fit phase is pure transfer, decoding and
//     aggregation. The figure is payload MB/s (a model download and an update
//     upload per site); the baseline is io.Copy of the same number of bytes
//     over one TLS connection with the same certificates.
//
//   - Memory (MeasureMemory): peak resident memory (VmHWM) of a coordinator
//     child process — `cohort coordinator serve`, started through a Launcher —
//     driving a run whose sites run in this process, less the peak of an idle
//     coordinator started the same way, in model sizes (8 bytes per
//     parameter). The child runs with GODEBUG=gctrace=1, so the report also
//     gives its Go heap peak and largest live heap. With Scaling it runs
//     again at twice the parameters and a tenth of the clients and reports
//     the growth per byte of model and per client.
//
//   - Shap (MeasureShap): KernelSHAP explanations per second (explain.Kernel,
//     one goroutine) for an MLP trained on the first 14 encoded columns of
//     hmda, with 100 background rows, in exact mode (all 2^14 coalitions)
//     and in sampled mode (2,048 coalitions in complementary pairs) on the
//     same rows. The baseline is the exact mode; the report also gives the
//     sampled values' error against the exact ones and how well the reported
//     standard errors cover it.
//
// Each round-based measurement plays one unmeasured warm-up round first (sites
// standardise their data and handshakes complete in round 1). Measurements
// run one after the other: run together they would compete for the cores.
//
// Usage:
//
//	launch, err := bench.SelfLauncher("coordinator", "serve") // in the cohort binary
//	...
//	rep, err := bench.Run(ctx, bench.DefaultConfig(launch))
package bench
