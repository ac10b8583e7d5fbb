package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
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

// SecureResult is the outcome of MeasureSecure. Times are seconds of wall
// time; per-core rates come from steps run on one goroutine.
type SecureResult struct {
	Sites     int `json:"sites"`
	Threshold int `json:"threshold"`
	Params    int `json:"params"`
	Rounds    int `json:"rounds"`
	Dim       int `json:"dim"`         // values a site seals per fit: Params + 2
	Ciphertxt int `json:"ciphertexts"` // ciphertexts per sealed vector

	// KeygenSeconds is the in-process key ceremony of every party on one
	// goroutine (the coordinator's share of it is negligible).
	KeygenSeconds float64 `json:"keygen_seconds"`

	// SealSeconds is the median time of one site's Seal of Dim values
	// (check, encode, encrypt, hash, sign); SealMinSeconds the fastest.
	SealSeconds             float64 `json:"seal_seconds"`
	SealMinSeconds          float64 `json:"seal_min_seconds"`
	SealValuesPerSecPerCore float64 `json:"seal_values_per_sec_per_core"`

	// AddSeconds is hub.Accumulator.Add of the Sites contributions one after
	// another, as the coordinator does (it adds under its engine lock):
	// signature, binding, parsing and range checks, and the ring additions.
	AddSeconds      float64 `json:"add_seconds"`
	AddValuesPerSec float64 `json:"add_values_per_sec"` // Sites·Dim / AddSeconds
	// AddParallelValuesPerSec is the same with GOMAXPROCS goroutines adding
	// concurrently (Accumulator.Add verifies outside its lock).
	AddParallelValuesPerSec float64 `json:"add_parallel_values_per_sec"`
	// BareAddValuesPerSec is the bare ring addition without checks. It is
	// not measurable from outside package secagg (its HE context is
	// internal); 0 here, see `go test -bench BenchmarkAdd ./secagg/`.
	BareAddValuesPerSec float64 `json:"bare_add_values_per_sec"`

	// RequestSeconds is Accumulator.DecryptRequest (serialising the
	// aggregate, copying the contributions kept as evidence).
	RequestSeconds float64 `json:"request_seconds"`
	// ShareSeconds is the median of the Threshold DecryptShare calls, each
	// verifying Sites signatures, re-adding Sites contributions, comparing
	// with the aggregate and computing the smudged key-switch share.
	ShareSeconds             float64 `json:"share_seconds"`
	ShareMaxSeconds          float64 `json:"share_max_seconds"`
	ShareValuesPerSecPerCore float64 `json:"share_values_per_sec_per_core"`
	// KeySwitchValuesPerSecPerCore estimates the share without the
	// re-verification: Dim / (ShareSeconds − AddSeconds), since re-verifying
	// the Sites contributions is the same work as the coordinator's Adds.
	KeySwitchValuesPerSecPerCore float64 `json:"keyswitch_values_per_sec_per_core"`
	// CombineSeconds is hub.Combine of the Threshold shares (verify, aggregate,
	// decode).
	CombineSeconds float64 `json:"combine_seconds"`
	// DecryptSeconds is a round's decryption on its critical path, with the
	// decryptors on their own machines: request + slowest share + combine.
	// DecryptCPUSeconds adds every share instead: the work of the round.
	DecryptSeconds    float64 `json:"decrypt_seconds"`
	DecryptCPUSeconds float64 `json:"decrypt_cpu_seconds"`
	// MaxAbsError is the decrypted sum's largest deviation from the exact sum
	// (checked against secagg's error bound).
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

	// Round times over gRPC (mean per measured round, from the coordinator's
	// round records: fit phase, and for HE the decryption of the sum).
	HERoundSeconds    float64 `json:"he_round_seconds"`
	PlainRoundSeconds float64 `json:"plain_round_seconds"`
	RoundRatio        float64 `json:"round_ratio"` // HERoundSeconds / PlainRoundSeconds
	// HERunSeconds is the whole HE run's wall time: connection, key
	// ceremony, warm-up and measured rounds and their evaluations.
	HERunSeconds float64 `json:"he_run_seconds"`

	EncryptTarget   float64 `json:"encrypt_target_values_per_sec_per_core"`
	ShareTarget     float64 `json:"share_target_values_per_sec_per_core"`
	AddTarget       float64 `json:"add_target_values_per_sec"`
	ExpansionTarget float64 `json:"expansion_target"`
	MeetsEncrypt    bool    `json:"meets_encrypt"`
	MeetsShare      bool    `json:"meets_share"`
	MeetsAdd        bool    `json:"meets_add"` // by AddValuesPerSec, the checked add the coordinator runs
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

// secureSteps times each step of one secure sum in process.
func secureSteps(ctx context.Context, c SecureConfig, out *SecureResult, logf func(string, ...any)) error {
	lit := secagg.DefaultCKKS() // as the coordinator's key ceremony sets it
	lit.Encoding = secagg.Encoding{MaxParties: c.Sites, ClipBound: coordinator.DefaultClipBound}
	params, err := secagg.NewParams(lit)
	if err != nil {
		return err
	}
	out.Ciphertxt = params.Ciphertexts(out.Dim)
	e := secagg.Epoch{RunID: "bench-secure", Epoch: 1, Threshold: c.Threshold, MinClients: c.Sites}

	began := time.Now()
	parties, err := ceremony(params, &e, c.Sites)
	if err != nil {
		return fmt.Errorf("bench: key ceremony: %w", err)
	}
	out.KeygenSeconds = time.Since(began).Seconds()

	// What each site seals: its fit vector [n·Δ, n, n·loss], with a different
	// Δ per site so that the decrypted sum checks every coordinate.
	const round = 1
	exact := make([]float64, out.Dim)
	contribs := make([]secagg.Contribution, c.Sites)
	seals := make([]time.Duration, c.Sites)
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
		t0 := time.Now()
		if contribs[i], err = p.Seal(vec, round); err != nil {
			return fmt.Errorf("bench: seal at %s: %w", p.ID(), err)
		}
		seals[i] = time.Since(t0)
	}
	out.SealSeconds, out.SealMinSeconds = median(seals).Seconds(), slices.Min(seals).Seconds()
	out.SealValuesPerSecPerCore = float64(out.Dim) / out.SealSeconds
	b, err := secwire.Marshal(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_Contribution{Contribution: secwire.ContributionToProto(contribs[0])}})
	if err != nil {
		return err
	}
	out.UploadBytes = int64(len(b))
	out.Expansion = float64(out.UploadBytes) / float64(out.PlaintextBytes)
	b = nil
	logf("secure: seal %.3fs per site (%.2fM values/s/core), upload %.1f MB = %.2f× float32", out.SealSeconds,
		out.SealValuesPerSecPerCore/1e6, float64(out.UploadBytes)/1e6, out.Expansion)

	// The coordinator's additions, one after another as it runs them …
	acc, err := hub.NewAccumulator(params, e, round, out.Dim)
	if err != nil {
		return err
	}
	t0 := time.Now()
	for i, ct := range contribs {
		if err := acc.Add(ct.From, ct, e.Members[i].Public); err != nil {
			return fmt.Errorf("bench: Accumulator.Add: %w", err)
		}
	}
	add := time.Since(t0)
	out.AddSeconds = add.Seconds()
	out.AddValuesPerSec = float64(c.Sites*out.Dim) / out.AddSeconds
	// … and concurrently, into a second accumulator.
	par, err := hub.NewAccumulator(params, e, round, out.Dim)
	if err != nil {
		return err
	}
	t0 = time.Now()
	if err := addConcurrently(par, contribs, e); err != nil {
		return err
	}
	out.AddParallelValuesPerSec = float64(c.Sites*out.Dim) / time.Since(t0).Seconds()
	par = nil
	logf("secure: Accumulator.Add %.3fs for %d contributions (%.1fM values/s; %.1fM values/s with %d goroutines)",
		out.AddSeconds, c.Sites, out.AddValuesPerSec/1e6, out.AddParallelValuesPerSec/1e6, runtime.GOMAXPROCS(0))

	// Decryption: the request, t shares, the combination.
	active := make([]int, c.Threshold)
	for i := range active {
		active[i] = i
	}
	t0 = time.Now()
	req, err := acc.DecryptRequest(active)
	if err != nil {
		return err
	}
	request := time.Since(t0)
	out.RequestSeconds = request.Seconds()
	contribs, acc = nil, nil
	if b, err = secwire.Marshal(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_DecryptRequest{DecryptRequest: secwire.DecryptRequestToProto(req)}}); err != nil {
		return err
	}
	out.DecryptRequestBytes = int64(len(b))
	b = nil
	freeMemory()
	shares := make([]secagg.DecryptionShare, len(active))
	times := make([]time.Duration, len(active))
	for k, a := range active {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		if shares[k], err = parties[a].DecryptShare(req); err != nil {
			return fmt.Errorf("bench: decryption share of %s: %w", parties[a].ID(), err)
		}
		times[k] = time.Since(t0)
	}
	out.ShareSeconds, out.ShareMaxSeconds = median(times).Seconds(), slices.Max(times).Seconds()
	out.ShareValuesPerSecPerCore = float64(out.Dim) / out.ShareSeconds
	if ks := out.ShareSeconds - out.AddSeconds; ks > 0 {
		out.KeySwitchValuesPerSecPerCore = float64(out.Dim) / ks
	}
	if b, err = secwire.Marshal(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_DecryptionShare{DecryptionShare: secwire.DecryptionShareToProto(shares[0])}}); err != nil {
		return err
	}
	out.ShareBytes = int64(len(b))
	t0 = time.Now()
	sum, err := hub.Combine(params, e, req, shares)
	if err != nil {
		return fmt.Errorf("bench: Combine: %w", err)
	}
	combine := time.Since(t0)
	out.CombineSeconds = combine.Seconds()
	var cpu time.Duration
	for _, d := range times {
		cpu += d
	}
	out.DecryptSeconds = (request + slices.Max(times) + combine).Seconds()
	out.DecryptCPUSeconds = (request + cpu + combine).Seconds()
	for j, v := range sum {
		out.MaxAbsError = max(out.MaxAbsError, math.Abs(v-exact[j]))
	}
	if bound := params.ErrorBound(c.Sites, c.Threshold); !(out.MaxAbsError <= bound) {
		return fmt.Errorf("bench: the decrypted sum is off by %g, more than the bound %g", out.MaxAbsError, bound)
	}
	logf("secure: decryption share %.3fs each (%.2fM values/s/core), combine %.3fs; decryption %.3fs per round (%.3fs of CPU)",
		out.ShareSeconds, out.ShareValuesPerSecPerCore/1e6, out.CombineSeconds, out.DecryptSeconds, out.DecryptCPUSeconds)
	return nil
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
// "he" and compares their round times.
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
	d, _, err := serveRun(ctx, fed, filepath.Join(dir, "plain.db"), plain, c.Sites)
	if err != nil {
		return fmt.Errorf("bench: plaintext run: %w", err)
	}
	out.PlainRoundSeconds = d.Seconds() / float64(c.Rounds)
	logf("secure: plaintext round %.3fs over gRPC", out.PlainRoundSeconds)
	freeMemory()

	he := runConfig(fmt.Sprintf("bench-secure-he-%d", stamp), c.Sites, c.Params, c.Rounds+warmupRounds)
	he.Secure, he.Threshold = coordinator.SecureHE, c.Threshold
	began := time.Now()
	d, _, err = serveRun(ctx, fed, filepath.Join(dir, "he.db"), he, c.Sites)
	if err != nil {
		return fmt.Errorf("bench: HE run: %w", err)
	}
	out.HERunSeconds = time.Since(began).Seconds()
	out.HERoundSeconds = d.Seconds() / float64(c.Rounds)
	if out.PlainRoundSeconds > 0 {
		out.RoundRatio = out.HERoundSeconds / out.PlainRoundSeconds
	}
	logf("secure: HE round %.3fs over gRPC (%.1f× plaintext); HE run %.1fs", out.HERoundSeconds, out.RoundRatio, out.HERunSeconds)
	freeMemory()
	return nil
}

// serveRun plays rc with the real coordinator and one client.Run per site
// of fed over gRPC with mutual TLS on loopback, and returns the total round
// time of the measured rounds (after warmupRounds) from the coordinator's
// round records, checking that every site was accepted in each.
func serveRun(ctx context.Context, fed *federation, dbPath string, rc coordinator.RunConfig, sites int) (time.Duration, int, error) {
	db, err := store.Open(dbPath)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	sctx, cancel := context.WithCancel(ctx)
	wait := runSites(sctx, fed, ln.Addr().String())
	serveErr := coordinator.Serve(sctx, coordinator.ServeOptions{Listener: ln, TLS: fed.server, DB: db, Run: &rc,
		ExitWhenIdle: true, Logger: slog.New(slog.DiscardHandler)})
	cancel()
	wait()
	if serveErr != nil {
		return 0, 0, fmt.Errorf("coordinator: %w", serveErr)
	}
	d, accepted, err := fitPhasesDB(ctx, db, rc.RunID, warmupRounds)
	if err != nil {
		return 0, 0, err
	}
	if want := sites * (rc.Rounds - warmupRounds); accepted != want {
		return 0, 0, fmt.Errorf("%d fit results accepted in the measured rounds, want %d", accepted, want)
	}
	return d, accepted, nil
}
