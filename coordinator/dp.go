package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	mrand "math/rand/v2"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/audit"
	"github.com/cohortfl/cohort/model"
	"github.com/cohortfl/cohort/privacy/accountant"
	"github.com/cohortfl/cohort/privacy/ledger"
)

// DP modes of client-level noise.
const (
	DPCentral     = "central"     // the coordinator adds N(0, σ²C²) to the sum
	DPDistributed = "distributed" // each site adds N(0, σ²C²/t_min) before sealing
)

// DPConfig configures differential privacy for a run. See
// docs/differential-privacy.md.
type DPConfig struct {
	Client *ClientDP `json:"client,omitempty"`
	Record *RecordDP `json:"record,omitempty"`
}

// ClientDP is client-level DP-FedAvg: each selected site's update is clipped
// to L2 norm Clip and weighted equally; Gaussian noise σ·Clip goes on the sum;
// sites are Poisson-sampled with rate SampleRate. The (ε, δ) budget covers
// the whole run for every client (add/remove one site's entire data).
type ClientDP struct {
	Epsilon         float64 `json:"epsilon"`
	Delta           float64 `json:"delta"`
	Clip            float64 `json:"clip"`
	NoiseMultiplier float64 `json:"noise_multiplier,omitempty"` // σ; 0 = the smallest σ that fits the budget over all rounds
	Mode            string  `json:"mode"`                       // central or distributed
	SampleRate      float64 `json:"sample_rate,omitempty"`      // q; 0 = fraction_fit
	Accountant      string  `json:"accountant,omitempty"`       // rdp (default) or pld

	// Adaptive clipping (Andrew et al. 2021): Clip is the initial bound; each
	// round sites also report whether their update was within it (as b − ½),
	// that count is noised with CountNoise and summed (securely, with
	// secure=he), and the bound moves geometrically towards the
	// TargetQuantile of update norms at rate ClipLR.
	Adaptive       bool    `json:"adaptive,omitempty"`
	TargetQuantile float64 `json:"target_quantile,omitempty"` // γ; 0 = 0.5
	ClipLR         float64 `json:"clip_lr,omitempty"`         // η_C; 0 = 0.2
	CountNoise     float64 `json:"count_noise,omitempty"`     // σ_b in count units; 0 = expected cohort / 20
}

// RecordDP is record-level DP-SGD inside every site: per-example clipping to
// Clip, noise multiplier σ, Poisson-sampled batches of expected size
// batch_size. The budget is per site over the run; a site's own policy may be
// stricter, and the site then refuses to train.
type RecordDP struct {
	Epsilon         float64 `json:"epsilon"`
	Delta           float64 `json:"delta"`
	Clip            float64 `json:"clip"`
	NoiseMultiplier float64 `json:"noise_multiplier,omitempty"` // 0 = derived from the budget
	SampleRate      float64 `json:"sample_rate,omitempty"`      // per-step Poisson rate q; 0 = 0.05
}

func (d *DPConfig) validate(c RunConfig, bad func(string, ...any)) {
	if d == nil {
		return
	}
	check := func(what string, eps, delta, clip float64) {
		if !(eps > 0) || math.IsInf(eps, 0) {
			bad("dp.%s.epsilon = %v, want a positive finite budget", what, eps)
		}
		if !(delta > 0 && delta < 1) {
			bad("dp.%s.delta = %v, want a value in (0, 1)", what, delta)
		}
		if !(clip > 0) || math.IsInf(clip, 0) {
			bad("dp.%s.clip = %v, want a positive clipping norm", what, clip)
		}
	}
	if cd := d.Client; cd != nil {
		check("client", cd.Epsilon, cd.Delta, cd.Clip)
		switch cd.Mode {
		case DPCentral:
		case DPDistributed:
			if c.Secure != SecureHE {
				bad("dp.client.mode = distributed needs secure = he (otherwise the coordinator sees each site's noisy update)")
			}
		default:
			bad("dp.client.mode %q is unknown (want central or distributed)", cd.Mode)
		}
		if cd.TargetQuantile < 0 || cd.TargetQuantile >= 1 || cd.ClipLR < 0 || cd.CountNoise < 0 {
			bad("dp.client adaptive settings: target_quantile in [0, 1), clip_lr >= 0, count_noise >= 0")
		}
		if cd.SampleRate < 0 || cd.SampleRate > 1 {
			bad("dp.client.sample_rate = %v, want a value in (0, 1]", cd.SampleRate)
		}
		if cd.NoiseMultiplier < 0 {
			bad("dp.client.noise_multiplier = %v, want >= 0", cd.NoiseMultiplier)
		}
		switch cd.Accountant {
		case "", "rdp", "pld":
		default:
			bad("dp.client.accountant %q is unknown (want rdp or pld)", cd.Accountant)
		}
	}
	if rd := d.Record; rd != nil {
		check("record", rd.Epsilon, rd.Delta, rd.Clip)
		if rd.NoiseMultiplier < 0 {
			bad("dp.record.noise_multiplier = %v, want >= 0", rd.NoiseMultiplier)
		}
		if rd.SampleRate < 0 || rd.SampleRate > 1 {
			bad("dp.record.sample_rate = %v, want a value in (0, 1]", rd.SampleRate)
		}
	}
}

// dpState is a run's differential-privacy machinery.
type dpState struct {
	acc    accountant.Accountant
	ledger *ledger.Ledger
	sigma  float64 // client-level noise multiplier
	q      float64 // client sampling rate
	rq     float64 // record-level sampling rate
	rsigma float64 // record-level noise multiplier
	rsteps int     // record-level DP-SGD steps per round
	clip   float64 // current client clip bound C_t
	sigmaB float64 // adaptive clipping: count noise (count units)
	seff   float64 // noise multiplier of the joint (update, count) release
	unclip float64 // plaintext Σ(b − ½) of the open round
	noise  func() float64
	sum    *aggregation.WeightedSum // plaintext client-level sum (weights 1)
	cands  int                      // eligible sites when the round was sampled
	ids    []int64                  // ledger rows reserved for the open round
}

func newAccountant(name string) (accountant.Accountant, error) {
	if name == "pld" {
		return accountant.NewPLD(accountant.DefaultPLDConfig())
	}
	return accountant.NewRDP(accountant.DefaultOrders())
}

// setupDP prepares client-level DP for a run: the accountant, the ledger and
// the noise multiplier (derived from the budget when not given).
func (e *Engine) setupDP(ctx context.Context, ar *activeRun) error {
	cd := ar.cfg.DP.clientDP()
	if ar.cfg.DP == nil {
		return nil
	}
	l, err := ledger.Open(ctx, e.o.Store)
	if err != nil {
		return err
	}
	name := ""
	if cd != nil {
		name = cd.Accountant
	}
	acc, err := newAccountant(name)
	if err != nil {
		return err
	}
	st := &dpState{acc: acc, ledger: l, noise: e.o.Noise}
	if cd != nil {
		st.q = cd.SampleRate
		if st.q == 0 {
			st.q = ar.cfg.FractionFit
		}
		st.seff = cd.NoiseMultiplier
		if st.seff == 0 {
			if st.seff, err = accountant.SigmaFor(acc, st.q, ar.cfg.Rounds, cd.Epsilon, cd.Delta); err != nil {
				return fmt.Errorf("coordinator: noise multiplier for ε=%v, δ=%v over %d rounds at q=%v: %w", cd.Epsilon, cd.Delta, ar.cfg.Rounds, st.q, err)
			}
		}
		st.sigma, st.clip = st.seff, cd.Clip
		if cd.Adaptive {
			// The update (sensitivity C, noise σ_Δ·C) and the centred count
			// (sensitivity ½, noise σ_b) form one Gaussian mechanism with
			// σ_eff⁻² = σ_Δ⁻² + (2σ_b)⁻² (Andrew et al. 2021, Thm 1): the
			// ledger records σ_eff and the update gets σ_Δ.
			st.sigmaB = cd.CountNoise
			if st.sigmaB == 0 {
				st.sigmaB = st.q * float64(len(e.o.Dispatcher.Connected())) / 20
			}
			rest := 1/(st.seff*st.seff) - 1/(4*st.sigmaB*st.sigmaB)
			if !(rest > 0) {
				return fmt.Errorf("coordinator: adaptive clipping: count noise σ_b=%g is too small for the joint noise multiplier %g (need 2σ_b > σ_eff); raise dp.client.count_noise or the cohort", st.sigmaB, st.seff)
			}
			st.sigma = 1 / math.Sqrt(rest)
			if c, ok := e.lastMetric(ctx, ar, "dp_next_clip"); ok {
				st.clip = c // resumed: continue from the bound the last committed round chose
			}
		}
		e.log.Info("client-level DP", "run", ar.cfg.RunID, "epsilon", cd.Epsilon, "delta", cd.Delta, "sigma", st.sigma,
			"q", st.q, "clip", cd.Clip, "mode", cd.Mode)
	}
	if rd := ar.cfg.DP.Record; rd != nil {
		st.rq = rd.SampleRate
		if st.rq == 0 {
			st.rq = 0.05
		}
		st.rsteps = model.DPSteps(ar.cfg.LocalEpochs, st.rq) // exactly the steps the site takes
		st.rsigma = rd.NoiseMultiplier
		if st.rsigma == 0 {
			if st.rsigma, err = accountant.SigmaFor(acc, st.rq, ar.cfg.Rounds*st.rsteps, rd.Epsilon, rd.Delta); err != nil {
				return fmt.Errorf("coordinator: record-level noise multiplier for ε=%v, δ=%v: %w", rd.Epsilon, rd.Delta, err)
			}
		}
		e.log.Info("record-level DP", "run", ar.cfg.RunID, "epsilon", rd.Epsilon, "delta", rd.Delta, "sigma", st.rsigma,
			"q", st.rq, "steps_per_round", st.rsteps, "clip", rd.Clip)
	}
	ar.dp = st
	return nil
}

func (d *DPConfig) clientDP() *ClientDP {
	if d == nil {
		return nil
	}
	return d.Client
}

func (d *DPConfig) recordDP() *RecordDP {
	if d == nil {
		return nil
	}
	return d.Record
}

// poissonSample selects each eligible site independently with probability q.
// Privacy amplification by sampling assumes nobody can predict the draw, so
// in a deployment the bits come from crypto/rand (uniform == nil); a
// simulation passes a source seeded from (seed, round, attempt) to replay.
func poissonSample(sites []string, q float64, uniform func() float64) []string {
	if uniform == nil {
		uniform = cryptoUniform
	}
	var out []string
	for _, s := range sites {
		if uniform() < q {
			out = append(out, s)
		}
	}
	return out
}

// seededUniform is the reproducible sampling source of simulations.
func seededUniform(seed uint64, round, attempt int) func() float64 {
	return mrand.New(mrand.NewPCG(seed^0x9e3779b97f4a7c15, uint64(round)<<20|uint64(attempt))).Float64
}

// cryptoUniform draws a uniform [0, 1) value from crypto/rand.
func cryptoUniform() float64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("coordinator: crypto/rand failed: %v", err)) // broken invariant: the OS RNG does not fail
	}
	return float64(binary.LittleEndian.Uint64(b[:])>>11) / (1 << 53)
}

// reserve writes the round's releases to the ledger as pending, after the
// budget check; a release that would exceed a budget stops the run here,
// before it happens.
func (e *Engine) reserve(ctx context.Context, ar *activeRun, r, attempt int, selected []string) error {
	st := ar.dp
	if st == nil {
		return nil
	}
	var entries []ledger.Entry
	budgets := map[string]ledger.Budget{}
	if cd := ar.cfg.DP.Client; cd != nil {
		purpose := "update"
		if cd.Adaptive {
			purpose = "update+clip_count"
		}
		entries = append(entries, ledger.Entry{RunID: ar.cfg.RunID, Party: ledger.ClientParty, Round: r, Attempt: attempt,
			Purpose: purpose, Mechanism: ledger.SubsampledGaussian, Q: st.q, Sigma: st.seff, Steps: 1})
		budgets[ledger.ClientParty] = ledger.Budget{Epsilon: cd.Epsilon, Delta: cd.Delta}
	}
	if rd := ar.cfg.DP.Record; rd != nil {
		for _, s := range selected {
			entries = append(entries, ledger.Entry{RunID: ar.cfg.RunID, Party: s, Round: r, Attempt: attempt,
				Purpose: "dpsgd", Mechanism: ledger.SubsampledGaussian, Q: st.rq, Sigma: st.rsigma, Steps: st.rsteps})
			budgets[s] = ledger.Budget{Epsilon: rd.Epsilon, Delta: rd.Delta}
		}
	}
	ids, err := st.ledger.Reserve(ctx, st.acc, budgets, entries...)
	if err != nil {
		return err
	}
	st.ids = ids
	for i, en := range entries {
		e.noteLedger(en, ids[i])
	}
	return nil
}

// spent returns ε spent so far from the full ledger: "epsilon_client" for
// client-level DP and "epsilon_record_max" (the largest over sites) for
// record-level DP, each at its budget's δ.
func (e *Engine) spent(ctx context.Context, ar *activeRun) map[string]float64 {
	out := map[string]float64{}
	if ar.dp == nil {
		return out
	}
	entries, err := ar.dp.ledger.Entries(ctx, ar.cfg.RunID, "")
	if err != nil {
		e.log.Warn("reading the privacy ledger", "err", err)
		return out
	}
	byParty := map[string][]ledger.Entry{}
	for _, en := range entries {
		byParty[en.Party] = append(byParty[en.Party], en)
	}
	if cd := ar.cfg.DP.clientDP(); cd != nil {
		if eps, err := ledger.Spent(ar.dp.acc, byParty[ledger.ClientParty], cd.Delta); err == nil {
			out["epsilon_client"] = eps
		}
	}
	if rd := ar.cfg.DP.recordDP(); rd != nil {
		worst := 0.0
		for party, es := range byParty {
			if party == ledger.ClientParty {
				continue
			}
			if eps, err := ledger.Spent(ar.dp.acc, es, rd.Delta); err == nil && eps > worst {
				worst = eps
			}
		}
		out["epsilon_record_max"] = worst
	}
	return out
}

// lastMetric returns a metric of the last committed round of the run.
func (e *Engine) lastMetric(ctx context.Context, ar *activeRun, name string) (float64, bool) {
	rounds, err := e.o.Store.Rounds(ctx, ar.cfg.RunID)
	if err != nil {
		return 0, false
	}
	for i := len(rounds) - 1; i >= 0; i-- {
		if rounds[i].Status == "committed" {
			v, ok := rounds[i].Metrics[name]
			return v, ok && !math.IsNaN(v)
		}
	}
	return 0, false
}

// adaptClip applies Andrew et al.'s geometric update from the noisy
// fraction of sites whose update was within the bound.
func (st *dpState) adaptClip(cd *ClientDP, centredCount float64) (used, next float64) {
	gamma, eta := cd.TargetQuantile, cd.ClipLR
	if gamma == 0 {
		gamma = 0.5
	}
	if eta == 0 {
		eta = 0.2
	}
	frac := centredCount/(st.q*float64(st.cands)) + 0.5
	used = st.clip
	st.clip = used * math.Exp(-eta*(frac-gamma))
	return used, st.clip
}

// noteLedger records a reserved ledger row in the audit log.
func (e *Engine) noteLedger(en ledger.Entry, id int64) {
	e.noteDetail(audit.KindLedgerEntry, en.RunID, en.Round, audit.ActorCoordinator, en.Party, map[string]any{
		"ledger_id": id, "party": en.Party, "attempt": en.Attempt, "purpose": en.Purpose, "mechanism": en.Mechanism,
		"q": en.Q, "sigma": en.Sigma, "steps": en.Steps})
}
