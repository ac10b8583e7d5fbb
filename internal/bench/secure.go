package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/coordinator/store"
	"github.com/cohortfl/cohort/internal/secwire"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/hub"
	"github.com/cohortfl/cohort/secagg/site"
)

// Targets of secure aggregation (issue 3), per round of Sites sites.
const (
	// SecureEncryptTarget: values a site seals per second on one core.
	SecureEncryptTarget = 1e6
	// SecureShareTarget: values a decryptor turns into a decryption share per
	// second on one core (re-verification of the contributions included).
	SecureShareTarget = 1e6
	// SecureAddTarget: values the coordinator adds homomorphically per second.
	SecureAddTarget = 50e6
	// SecureExpansionTarget bounds a sealed upload's bytes ÷ the float32
	// plaintext's (4 bytes per parameter).
	SecureExpansionTarget = 8.5
)

// SecureConfig describes the secure-aggregation measurement: Sites sites,
// every one a key holder and a contributor (MinClients = Sites), any
// Threshold of which decrypt, on a logistic regression of Params parameters.
//
// The costs of each step are measured in process, one goroutine at a time
// (so per core), with secagg/site and secagg/hub directly: a key ceremony,
// one seal per site of the fit vector a site uploads ([n·Δ, n, n·loss],
// Params+2 values), the coordinator's Accumulator.Add of every contribution,
// Threshold decryption shares (each re-verifying every contribution) and the
// combination. The round time is measured over gRPC with mutual TLS on
// loopback: the real coordinator (coordinator.Serve) and sites (client.Run
// with a Trainer that returns at once), once with secure = "he" and once in
// the clear, with the same sites and model.
type SecureConfig struct {
	Sites     int
	Threshold int // t, 2 ≤ t ≤ Sites
	Params    int // model size: a logreg with Params−1 features
	Rounds    int // measured gRPC rounds of each run; one unmeasured warm-up round is played first
}

// SecureResult is the outcome of MeasureSecure. Times are seconds. Each
// in-process step runs on one goroutine locked to its OS thread and is timed
// twice: wall clock (…Seconds) and the thread's CPU time (…CPUSeconds, equal
// to the wall time where the platform cannot read it). Per-core rates use
// the CPU time, so that a loaded machine does not halve them; it leaves out
// background GC work on other threads.
type SecureResult struct {
	Sites       int `json:"sites"`
	Threshold   int `json:"threshold"`
	Params      int `json:"params"`
	Rounds      int `json:"rounds"`
	Dim         int `json:"dim"`         // values a site seals per fit: Params + 2
	Ciphertexts int `json:"ciphertexts"` // per sealed vector (4,096 values each)

	// KeygenSeconds is the in-process key ceremony of every party on one
	// goroutine (the coordinator's share of it is negligible).
	KeygenSeconds float64 `json:"keygen_seconds"`

	// Seal: one site's Seal of Dim values (clip check, encode, encrypt,
	// hash, sign), the median over the Sites seals.
	SealSeconds             float64 `json:"seal_seconds"`
	SealCPUSeconds          float64 `json:"seal_cpu_seconds"`
	SealValuesPerSecPerCore float64 `json:"seal_values_per_sec_per_core"`

	// Add: hub.Accumulator.Add of the Sites contributions one after another,
	// as the coordinator runs them (under its engine lock): binding,
	// signature over the SHA-256 of the ciphertexts, parsing and range
	// checks, and the ring additions.
	AddSeconds    float64 `json:"add_seconds"`
	AddCPUSeconds float64 `json:"add_cpu_seconds"`
	// AddValuesPerSec is Sites·Dim / AddCPUSeconds: one core's rate of the
	// checked addition.
	AddValuesPerSec float64 `json:"add_values_per_sec"`
	// AddParallelValuesPerSec is the wall-clock rate with GOMAXPROCS
	// goroutines adding concurrently (Accumulator.Add verifies outside its
	// lock; the coordinator does not use this, see SubmitSealed).
	AddParallelValuesPerSec float64 `json:"add_parallel_values_per_sec"`
	// BareAddValuesPerSec is the bare ring addition without checks. It is
	// not measurable from outside package secagg (its HE context is
	// internal): always 0 here; see `go test -bench BenchmarkAdd ./secagg/`.
	BareAddValuesPerSec float64 `json:"bare_add_values_per_sec"`

	// RequestSeconds is Accumulator.DecryptRequest (serialising the
	// aggregate, copying the contributions kept as evidence).
	RequestSeconds float64 `json:"request_seconds"`
	// Share: one decryptor's DecryptShare, the median over the Threshold
	// decryptors: verify Sites signatures, re-add Sites contributions,
	// compare with the aggregate, compute the smudged key-switch share.
	ShareSeconds             float64 `json:"share_seconds"`
	ShareCPUSeconds          float64 `json:"share_cpu_seconds"`
	ShareValuesPerSecPerCore float64 `json:"share_values_per_sec_per_core"`
	// CombineSeconds is hub.Combine of the Threshold shares (verify,
	// aggregate, decode).
	CombineSeconds float64 `json:"combine_seconds"`
	// DecryptSeconds is a round's decryption on its critical path, with
	// every decryptor on its own machine: request + slowest share + combine
	// (wall clock). DecryptCPUSeconds is the work: request + every share +
	// combine (CPU time).
	DecryptSeconds    float64 `json:"decrypt_seconds"`
	DecryptCPUSeconds float64 `json:"decrypt_cpu_seconds"`
	// CombineFailures lists hub.Combine errors met before the decryption
	// that was timed (retried once with an active set without the site
	// whose share was rejected).
	CombineFailures []string `json:"combine_failures,omitempty"`
	// MaxAbsError is the decrypted sum's largest deviation from the exact
	// sum (checked against secagg's error bound).
	MaxAbsError float64 `json:"max_abs_error"`

	// Bytes on the wire: a sealed fit upload (the serialised SecAggMessage a
	// site sends), the float32 plaintext of the update (4·Params), the decrypt
	// request every decryptor downloads (the aggregate and the Sites
	// contributions) and one decryption share.
	UploadBytes         int64   `json:"upload_bytes"`
	PlaintextBytes      int64   `json:"plaintext_float32_bytes"`
	Expansion           float64 `json:"expansion"` // UploadBytes / PlaintextBytes
	DecryptRequestBytes int64   `json:"decrypt_request_bytes"`
	ShareBytes          int64   `json:"share_bytes"`

	// Round times over gRPC, the mean per measured round from the
	// coordinator's round records (fit phase; with HE also the decryption
	// of the sum).
	HERoundSeconds    float64 `json:"he_round_seconds"`
	PlainRoundSeconds float64 `json:"plain_round_seconds"`
	RoundRatio        float64 `json:"round_ratio"` // HERoundSeconds / PlainRoundSeconds
	// HERunSeconds is the whole HE run's wall time: connection, key
	// ceremony, warm-up and measured rounds and their evaluations.
	HERunSeconds float64 `json:"he_run_seconds"`
	// HERunError is why the HE run failed, if it did ("" otherwise); the
	// round figures then come from whatever rounds it committed, if any.
	HERunError string `json:"he_run_error,omitempty"`
	// HEFailedRoundSeconds is the mean time of the HE run's failed round
	// attempts, from their start to the failure (0 if none failed). When
	// every attempt failed while combining the decryption shares, the last
	// step of a round, it approximates the round time from below.
	HEFailedRoundSeconds float64 `json:"he_failed_round_seconds,omitempty"`

	EncryptTarget   float64 `json:"encrypt_target_values_per_sec_per_core"`
	ShareTarget     float64 `json:"share_target_values_per_sec_per_core"`
	AddTarget       float64 `json:"add_target_values_per_sec"`
	ExpansionTarget float64 `json:"expansion_target"`
	MeetsEncrypt    bool    `json:"meets_encrypt"`
	MeetsShare      bool    `json:"meets_share"`
	MeetsAdd        bool    `json:"meets_add"` // by AddValuesPerSec, the checked addition the coordinator runs
	MeetsExpansion  bool    `json:"meets_expansion"`
}

func (c SecureConfig) validate() error {
	switch {
	case c.Sites < 2 || c.Params < 2 || c.Rounds < 1:
		return fmt.Errorf("bench: secure needs at least 2 sites, 2 parameters and 1 round, got %d, %d and %d", c.Sites, c.Params, c.Rounds)
	case c.Threshold < 2 || c.Threshold > c.Sites:
		return fmt.Errorf("bench: secure threshold t=%d, want 2 ≤ t ≤ %d sites", c.Threshold, c.Sites)
	}
	return nil
}

// MeasureSecure measures the per-round costs of secure aggregation: each
// step in process, then the round time over gRPC against a plaintext run.
func MeasureSecure(ctx context.Context, c SecureConfig) (SecureResult, error) {
	return measureSecure(ctx, c, func(string, ...any) {})
}

func measureSecure(ctx context.Context, c SecureConfig, logf func(string, ...any)) (SecureResult, error) {
	if err := c.validate(); err != nil {
		return SecureResult{}, err
	}
	out := SecureResult{Sites: c.Sites, Threshold: c.Threshold, Params: c.Params, Rounds: c.Rounds, Dim: c.Params + 2,
		PlaintextBytes: 4 * int64(c.Params), EncryptTarget: SecureEncryptTarget, ShareTarget: SecureShareTarget,
		AddTarget: SecureAddTarget, ExpansionTarget: SecureExpansionTarget}
	if err := secureSteps(ctx, c, &out, logf); err != nil {
		return SecureResult{}, err
	}
	freeMemory()
	if err := secureRounds(ctx, c, &out, logf); err != nil {
		return SecureResult{}, err
	}
	out.MeetsEncrypt = out.SealValuesPerSecPerCore >= SecureEncryptTarget
	out.MeetsShare = out.ShareValuesPerSecPerCore >= SecureShareTarget
	out.MeetsAdd = out.AddValuesPerSec >= SecureAddTarget
	out.MeetsExpansion = out.Expansion <= SecureExpansionTarget
	return out, nil
}

// freeMemory returns the previous step's ciphertexts to the OS, so that the
// next step does not run next to hundreds of megabytes of garbage.
func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// secureSteps times each step of one secure sum in process, on one locked
// OS thread so that its CPU time can be read.
func secureSteps(ctx context.Context, c SecureConfig, out *SecureResult, logf func(string, ...any)) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	lit := secagg.DefaultCKKS() // as the coordinator's key ceremony sets it
	lit.Encoding = secagg.Encoding{MaxParties: c.Sites, ClipBound: coordinator.DefaultClipBound}
	params, err := secagg.NewParams(lit)
	if err != nil {
		return err
	}
	out.Ciphertexts = params.Ciphertexts(out.Dim)
	e := secagg.Epoch{RunID: "bench-secure", Epoch: 1, Threshold: c.Threshold, MinClients: c.Sites}

	var parties []*site.Party
	keygen, err := timeStep(func() (err error) { parties, err = ceremony(params, &e, c.Sites); return err })
	if err != nil {
		return fmt.Errorf("bench: key ceremony: %w", err)
	}
	out.KeygenSeconds = keygen.wall.Seconds()

	// What each site seals: its fit vector [n·Δ, n, n·loss], with a different
	// Δ per site so that the decrypted sum checks every coordinate.
	const round = 1
	exact := make([]float64, out.Dim)
	contribs := make([]secagg.Contribution, c.Sites)
	seals := make([]step, c.Sites)
	for i, p := range parties {
		if err := ctx.Err(); err != nil {
			return err
		}
		delta := make([]float64, c.Params)
		for j := range delta {
			delta[j] = float64((j*7+i*13)%1000-500) * 1e-6
		}
		vec := secwire.FitVector(delta, siteExamples, 0.5)
		for j, v := range vec {
			exact[j] += v
		}
		if seals[i], err = timeStep(func() (err error) { contribs[i], err = p.Seal(vec, round); return err }); err != nil {
			return fmt.Errorf("bench: seal at %s: %w", p.ID(), err)
		}
	}
	sealWall, sealCPU := medians(seals)
	out.SealSeconds, out.SealCPUSeconds = sealWall.Seconds(), sealCPU.Seconds()
	out.SealValuesPerSecPerCore = float64(out.Dim) / out.SealCPUSeconds
	b, err := secwire.Marshal(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_Contribution{Contribution: secwire.ContributionToProto(contribs[0])}})
	if err != nil {
		return err
	}
	out.UploadBytes = int64(len(b))
	out.Expansion = float64(out.UploadBytes) / float64(out.PlaintextBytes)
	logf("secure: seal %.2fs per site (%.2fs CPU: %.2fM values/s/core), upload %.1f MB = %.2f× float32", out.SealSeconds,
		out.SealCPUSeconds, out.SealValuesPerSecPerCore/1e6, float64(out.UploadBytes)/1e6, out.Expansion)

	// The coordinator's additions, one after another as it runs them …
	acc, err := hub.NewAccumulator(params, e, round, out.Dim)
	if err != nil {
		return err
	}
	add, err := timeStep(func() error {
		for i, ct := range contribs {
			if err := acc.Add(ct.From, ct, e.Members[i].Public); err != nil {
				return fmt.Errorf("bench: Accumulator.Add: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	out.AddSeconds, out.AddCPUSeconds = add.wall.Seconds(), add.cpu.Seconds()
	out.AddValuesPerSec = float64(c.Sites*out.Dim) / out.AddCPUSeconds
	// … and concurrently, into a second accumulator.
	par, err := hub.NewAccumulator(params, e, round, out.Dim)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := addConcurrently(par, contribs, e); err != nil {
		return err
	}
	out.AddParallelValuesPerSec = float64(c.Sites*out.Dim) / time.Since(t0).Seconds()
	par = nil
	logf("secure: Accumulator.Add of %d contributions %.2fs (%.2fs CPU: %.1fM values/s; %.1fM values/s by wall clock with %d goroutines)",
		c.Sites, out.AddSeconds, out.AddCPUSeconds, out.AddValuesPerSec/1e6, out.AddParallelValuesPerSec/1e6, runtime.GOMAXPROCS(0))
	contribs = nil
	freeMemory()

	// Decryption: the request, t shares, the combination. A failed
	// combination is recorded and retried once with another active set
	// (a site answers up to site.MaxActiveSetsPerRound sets per aggregate).
	active := make([]int, c.Threshold)
	for i := range active {
		active[i] = i
	}
	for attempt := 0; ; attempt++ {
		sum, err := decryptOnce(ctx, params, e, acc, parties, active, out)
		if err == nil {
			for j, v := range sum {
				out.MaxAbsError = max(out.MaxAbsError, math.Abs(v-exact[j]))
			}
			break
		}
		var bad *combineError
		if !errors.As(err, &bad) || attempt > 0 {
			return err
		}
		out.CombineFailures = append(out.CombineFailures, bad.Error())
		logf("secure: %v; retrying with an active set without %s", bad.err, bad.site)
		if active, err = activeWithout(e, bad.site); err != nil {
			return err
		}
	}
	if bound := params.ErrorBound(c.Sites, c.Threshold); !(out.MaxAbsError <= bound) {
		return fmt.Errorf("bench: the decrypted sum is off by %g, more than the bound %g", out.MaxAbsError, bound)
	}
	logf("secure: decryption share %.2fs each (%.2fs CPU: %.2fM values/s/core), combine %.2fs; decryption %.2fs per round (%.2fs of CPU)",
		out.ShareSeconds, out.ShareCPUSeconds, out.ShareValuesPerSecPerCore/1e6, out.CombineSeconds, out.DecryptSeconds, out.DecryptCPUSeconds)
	return nil
}

// combineError is a hub.Combine failure, naming the share's site.
type combineError struct {
	site string
	err  error
}

func (e *combineError) Error() string { return e.err.Error() }

// shareFrom extracts the site a Combine error names ("share from "x" …").
var shareFrom = regexp.MustCompile(`share from "([^"]+)"`)

func activeWithout(e secagg.Epoch, skip string) ([]int, error) {
	var online []string
	for _, m := range e.Members {
		if m.ID != skip {
			online = append(online, m.ID)
		}
	}
	return hub.ActiveSet(e, online)
}

// decryptOnce times the decryption of acc by the active set and fills out's
// decryption figures.
func decryptOnce(ctx context.Context, params secagg.Params, e secagg.Epoch, acc *hub.Accumulator, parties []*site.Party, active []int, out *SecureResult) ([]float64, error) {
	var req secagg.DecryptRequest
	request, err := timeStep(func() (err error) { req, err = acc.DecryptRequest(active); return err })
	if err != nil {
		return nil, err
	}
	out.RequestSeconds = request.wall.Seconds()
	b, err := secwire.Marshal(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_DecryptRequest{DecryptRequest: secwire.DecryptRequestToProto(req)}})
	if err != nil {
		return nil, err
	}
	out.DecryptRequestBytes = int64(len(b))
	b = nil
	shares := make([]secagg.DecryptionShare, len(active))
	times := make([]step, len(active))
	for k, a := range active {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if times[k], err = timeStep(func() (err error) { shares[k], err = parties[a].DecryptShare(req); return err }); err != nil {
			return nil, fmt.Errorf("bench: decryption share of %s: %w", parties[a].ID(), err)
		}
	}
	shareWall, shareCPU := medians(times)
	out.ShareSeconds, out.ShareCPUSeconds = shareWall.Seconds(), shareCPU.Seconds()
	out.ShareValuesPerSecPerCore = float64(out.Dim) / out.ShareCPUSeconds
	if b, err = secwire.Marshal(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_DecryptionShare{DecryptionShare: secwire.DecryptionShareToProto(shares[0])}}); err != nil {
		return nil, err
	}
	out.ShareBytes = int64(len(b))
	var sum []float64
	combine, err := timeStep(func() (err error) { sum, err = hub.Combine(params, e, req, shares); return err })
	if err != nil {
		ce := &combineError{err: fmt.Errorf("bench: Combine: %w", err)}
		if m := shareFrom.FindStringSubmatch(err.Error()); m != nil {
			ce.site = m[1]
			return nil, ce
		}
		return nil, ce.err
	}
	out.CombineSeconds = combine.wall.Seconds()
	var slowest, cpu time.Duration
	for _, t := range times {
		slowest, cpu = max(slowest, t.wall), cpu+t.cpu
	}
	out.DecryptSeconds = (request.wall + slowest + combine.wall).Seconds()
	out.DecryptCPUSeconds = (request.cpu + cpu + combine.cpu).Seconds()
	return sum, nil
}

// step is the time one in-process step took: wall clock, and CPU time of
// the locked OS thread that ran it (the wall time where that is not
// available). CPU time is what a per-core rate needs on a loaded machine; it
// leaves out background GC work on other threads.
type step struct{ wall, cpu time.Duration }

func timeStep(f func() error) (step, error) {
	c0, ok0 := threadCPU()
	t0 := time.Now()
	err := f()
	s := step{wall: time.Since(t0)}
	s.cpu = s.wall
	if c1, ok1 := threadCPU(); ok0 && ok1 {
		s.cpu = c1 - c0
	}
	return s, err
}

func medians(steps []step) (wall, cpu time.Duration) {
	w, c := make([]time.Duration, len(steps)), make([]time.Duration, len(steps))
	for i, s := range steps {
		w[i], c[i] = s.wall, s.cpu
	}
	return median(w), median(c)
}

// ceremony runs the threshold key generation of n parties in process (as
// in secagg's example), filling e.Members.
func ceremony(params secagg.Params, e *secagg.Epoch, n int) ([]*site.Party, error) {
	ids := make([]*site.Identity, n)
	for i := range ids {
		id, err := site.NewIdentity()
		if err != nil {
			return nil, err
		}
		ids[i] = id
		e.Members = append(e.Members, secagg.Member{ID: fmt.Sprintf("site-%d", i), Public: id.Public()})
	}
	parties := make([]*site.Party, n)
	pkShares := make([]secagg.PublicKeyShare, n)
	for i, id := range ids {
		p, err := site.NewParty(params, *e, e.Members[i].ID, id)
		if err != nil {
			return nil, err
		}
		parties[i], pkShares[i] = p, p.PublicKeyShare()
	}
	pk, err := hub.AggregatePublicKey(params, *e, pkShares)
	if err != nil {
		return nil, err
	}
	relay, err := hub.NewRelay(*e)
	if err != nil {
		return nil, err
	}
	for _, p := range parties {
		envs, err := p.ShamirEnvelopes()
		if err != nil {
			return nil, err
		}
		if err := relay.Post(envs...); err != nil {
			return nil, err
		}
	}
	for _, p := range parties {
		if err := p.OpenEnvelopes(relay.Inbox(p.ID())); err != nil {
			return nil, err
		}
		if err := p.AcceptPublicKey(pk, pkShares); err != nil {
			return nil, err
		}
	}
	return parties, nil
}

// addConcurrently adds contribs into acc from GOMAXPROCS goroutines.
func addConcurrently(acc *hub.Accumulator, contribs []secagg.Contribution, e secagg.Epoch) error {
	workers := min(runtime.GOMAXPROCS(0), len(contribs))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(contribs); i += workers {
				if err := acc.Add(contribs[i].From, contribs[i], e.Members[i].Public); err != nil {
					errs[w] = fmt.Errorf("bench: concurrent Accumulator.Add: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// secureRounds plays the same run over gRPC in the clear and with secure =
// "he" and compares their round times. A failed HE run is recorded, not
// fatal: its failure is a finding of the measurement.
func secureRounds(ctx context.Context, c SecureConfig, out *SecureResult, logf func(string, ...any)) error {
	dir, err := os.MkdirTemp("", "cohort-bench-secure-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fed, err := newFederation(filepath.Join(dir, "pki"), c.Sites)
	if err != nil {
		return err
	}
	stamp := time.Now().UnixNano()

	plain := runConfig(fmt.Sprintf("bench-secure-plain-%d", stamp), c.Sites, c.Params, c.Rounds+warmupRounds)
	p, err := serveRun(ctx, fed, filepath.Join(dir, "plain.db"), plain, c.Sites)
	switch {
	case err != nil:
		return fmt.Errorf("bench: plaintext run: %w", err)
	case p.runErr != nil:
		return fmt.Errorf("bench: plaintext run: %w", p.runErr)
	case p.rounds < c.Rounds:
		return fmt.Errorf("bench: plaintext run committed %d of %d measured rounds", p.rounds, c.Rounds)
	}
	out.PlainRoundSeconds = p.fit.Seconds() / float64(p.rounds)
	logf("secure: plaintext round %.2fs over gRPC", out.PlainRoundSeconds)
	freeMemory()

	he := runConfig(fmt.Sprintf("bench-secure-he-%d", stamp), c.Sites, c.Params, c.Rounds+warmupRounds)
	he.Secure, he.Threshold = coordinator.SecureHE, c.Threshold
	began := time.Now()
	h, err := serveRun(ctx, fed, filepath.Join(dir, "he.db"), he, c.Sites)
	if err != nil {
		return fmt.Errorf("bench: HE run: %w", err)
	}
	out.HERunSeconds = time.Since(began).Seconds()
	if h.runErr != nil {
		out.HERunError = h.runErr.Error()
		logf("secure: the HE run failed after %.1fs: %v", out.HERunSeconds, h.runErr)
	}
	if h.failed > 0 {
		out.HEFailedRoundSeconds = h.failedTime.Seconds() / float64(h.failed)
		logf("secure: %d failed HE round attempts lasted %.2fs each (%.1f× a plaintext round)", h.failed,
			out.HEFailedRoundSeconds, out.HEFailedRoundSeconds/out.PlainRoundSeconds)
	}
	if h.rounds > 0 {
		out.HERoundSeconds = h.fit.Seconds() / float64(h.rounds)
		out.RoundRatio = out.HERoundSeconds / out.PlainRoundSeconds
		logf("secure: HE round %.2fs over gRPC (%.1f× plaintext) over %d rounds; HE run %.1fs", out.HERoundSeconds, out.RoundRatio, h.rounds, out.HERunSeconds)
	}
	freeMemory()
	return ctx.Err()
}

// served is what serveRun measured: the total round time of the measured
// rounds committed with every site accepted, how many there were, and the
// run's error if the coordinator stopped it.
type served struct {
	fit    time.Duration
	rounds int
	runErr error
	// failed round attempts (any round) and their total time
	failed     int
	failedTime time.Duration
}

// serveRun plays rc with the real coordinator and one client.Run per site
// of fed over gRPC with mutual TLS on loopback, and reads the round times
// of the measured rounds (after warmupRounds) from the coordinator's round
// records. It fails only if the measurement itself could not run.
func serveRun(ctx context.Context, fed *federation, dbPath string, rc coordinator.RunConfig, sites int) (served, error) {
	db, err := store.Open(dbPath)
	if err != nil {
		return served{}, err
	}
	defer db.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return served{}, err
	}
	sctx, cancel := context.WithCancel(ctx)
	wait := runSites(sctx, fed, ln.Addr().String())
	serveErr := coordinator.Serve(sctx, coordinator.ServeOptions{Listener: ln, TLS: fed.server, DB: db, Run: &rc,
		ExitWhenIdle: true, Logger: slog.New(slog.DiscardHandler)})
	cancel()
	wait()
	if err := ctx.Err(); err != nil {
		return served{}, err
	}
	out := served{runErr: serveErr} // the coordinator's errors name it
	recs, err := db.Rounds(ctx, rc.RunID)
	if err != nil {
		return served{}, fmt.Errorf("reading round records: %w", err)
	}
	for _, r := range recs {
		if r.Status == store.RoundFailed {
			out.failed++
			out.failedTime += r.EndedAt.Sub(r.StartedAt)
		}
		if r.Status != store.RoundCommitted || r.Round <= warmupRounds {
			continue
		}
		accepted := 0
		for _, p := range r.Participants {
			if p.Status == store.ParticipantAccepted {
				accepted++
			}
		}
		if accepted != sites {
			return served{}, fmt.Errorf("round %d accepted %d of %d sites", r.Round, accepted, sites)
		}
		out.fit += r.EndedAt.Sub(r.StartedAt)
		out.rounds++
	}
	return out, nil
}
