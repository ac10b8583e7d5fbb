package accountant

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// RDP is a Rényi-DP accountant for the Poisson-subsampled Gaussian
// mechanism (Mironov, Talwar, Zhang 2019). Per-order divergences are exact
// (see doc.go); the conversion to (ε, δ) uses the bound of Canonne, Kamath
// and Steinke (2020, Prop. 12), also used by dp_accounting.
//
// An RDP caches the per-step RDP vector of each (q, σ) it has seen, so
// composing many events costs one vector per distinct (q, σ). It is safe for
// concurrent use.
type RDP struct {
	orders []float64

	mu    sync.Mutex
	cache map[mechanism][]float64
}

// rdpCacheLimit bounds the number of cached (q, σ) vectors; the cache is
// cleared when it is full.
const rdpCacheLimit = 4096

// MaxOrder is the largest Rényi order NewRDP accepts.
const MaxOrder = 1 << 16

var _ Accountant = (*RDP)(nil)

// DefaultOrders returns the default Rényi orders, in increasing order:
//
//   - dp_accounting's DEFAULT_RDP_ORDERS: 1.1, 1.2, …, 10.9 (step 0.1),
//     11, 12, …, 63, 128, 256, 512, 1024;
//   - 1.02, 1.04, 1.06, 1.08, 1.25, 1.75, for very long compositions;
//   - 64, 72, 80, 96, 112, 160, 192, 224, 320, 384, 448, 640, 768, 896, and
//     1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
//     so that large σ with few steps (whose optimal order is in the hundreds
//     or thousands) is not loose. Opacus stops at 63.
func DefaultOrders() []float64 {
	var o []float64
	for x := 1; x < 100; x++ {
		o = append(o, 1+float64(x)/10)
	}
	for a := 11; a < 64; a++ {
		o = append(o, float64(a))
	}
	o = append(o, 128, 256, 512, 1024)
	o = append(o, 1.02, 1.04, 1.06, 1.08, 1.25, 1.75)
	o = append(o, 64, 72, 80, 96, 112, 160, 192, 224, 320, 384, 448, 640, 768, 896)
	o = append(o, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192)
	slices.Sort(o)
	return slices.Compact(o)
}

// NewRDP returns an RDP accountant over the given orders; nil or empty
// means DefaultOrders. Every order must be finite, > 1 and ≤ MaxOrder.
// The orders are copied, sorted and de-duplicated.
func NewRDP(orders []float64) (*RDP, error) {
	if len(orders) == 0 {
		orders = DefaultOrders()
	} else {
		orders = slices.Clone(orders)
	}
	for i, a := range orders {
		if !(a > 1 && a <= MaxOrder) {
			return nil, &InputError{Op: "NewRDP", Param: fmt.Sprintf("orders[%d]", i), Value: a,
				Want: fmt.Sprintf("in (1, %d]", MaxOrder)}
		}
	}
	slices.Sort(orders)
	return &RDP{orders: slices.Compact(orders), cache: make(map[mechanism][]float64)}, nil
}

// Orders returns a copy of the accountant's orders.
func (r *RDP) Orders() []float64 { return slices.Clone(r.orders) }

// Curve returns the RDP of the composition of events at each of r.Orders():
// the per-order sum over events of Steps·RDP_α(Q, Sigma).
func (r *RDP) Curve(events []Event) ([]float64, error) {
	return r.curve("RDP.Curve", events)
}

func (r *RDP) curve(op string, events []Event) ([]float64, error) {
	groups, err := validateEvents(op, events)
	if err != nil {
		return nil, err
	}
	total := make([]float64, len(r.orders))
	for _, g := range groups {
		v := r.vector(g.mechanism)
		n := float64(g.count)
		for i := range total {
			total[i] += v[i] * n
		}
	}
	return total, nil
}

// vector returns the cached per-step RDP vector of m, computing it if
// needed. The lock is not held during the computation.
func (r *RDP) vector(m mechanism) []float64 {
	r.mu.Lock()
	v, ok := r.cache[m]
	r.mu.Unlock()
	if ok {
		return v
	}
	v = make([]float64, len(r.orders))
	for i, a := range r.orders {
		v[i] = sgmRDP(m.q, m.sigma, a)
	}
	r.mu.Lock()
	if len(r.cache) >= rdpCacheLimit {
		clear(r.cache)
	}
	r.cache[m] = v
	r.mu.Unlock()
	return v
}

// Epsilon implements Accountant.
func (r *RDP) Epsilon(events []Event, delta float64) (float64, error) {
	eps, _, err := r.EpsilonOrder(events, delta)
	return eps, err
}

// EpsilonOrder is Epsilon that also reports the optimal order (NaN when the
// composition leaks nothing).
func (r *RDP) EpsilonOrder(events []Event, delta float64) (eps, order float64, err error) {
	const op = "RDP.Epsilon"
	if err := checkDelta(op, delta); err != nil {
		return 0, 0, err
	}
	curve, err := r.curve(op, events)
	if err != nil {
		return 0, 0, err
	}
	eps, order = epsilonFromRDP(r.orders, curve, delta)
	return eps, order, nil
}

// Delta implements Accountant.
func (r *RDP) Delta(events []Event, eps float64) (float64, error) {
	const op = "RDP.Delta"
	if err := checkEpsilon(op, "eps", eps); err != nil {
		return 0, err
	}
	curve, err := r.curve(op, events)
	if err != nil {
		return 0, err
	}
	d, _ := deltaFromRDP(r.orders, curve, eps)
	return d, nil
}

// SampledGaussianRDP returns the exact Rényi divergence of order alpha of
// one step of the Poisson-subsampled Gaussian mechanism with sampling
// probability q and noise multiplier sigma (remove direction, which
// dominates; Mironov et al. 2019, Thm. 5).
func SampledGaussianRDP(q, sigma, alpha float64) (float64, error) {
	const op = "SampledGaussianRDP"
	if err := checkQ(op, "q", q); err != nil {
		return 0, err
	}
	if err := checkSigma(op, "sigma", sigma); err != nil {
		return 0, err
	}
	if !(alpha > 1 && alpha <= MaxOrder) {
		return 0, &InputError{Op: op, Param: "alpha", Value: alpha, Want: fmt.Sprintf("in (1, %d]", MaxOrder)}
	}
	return sgmRDP(q, sigma, alpha), nil
}

// epsilonFromRDP converts an RDP curve to the smallest certified ε at δ:
//
//	ε = min_α  rdp(α) + log(1-1/α) - (log δ + log α)/(α-1)
//
// (Canonne, Kamath, Steinke 2020, Prop. 12; Asoodeh et al. 2020), restricted
// to α > 1.01 where it is numerically stable, and ε = 0 whenever
// sqrt(1-e^{-rdp(α)}) < δ (total variation bound via KL ≤ D_α).
func epsilonFromRDP(orders, rdp []float64, delta float64) (eps, order float64) {
	best, bestOrder := math.Inf(1), math.NaN()
	logDelta := math.Log(delta)
	for i, a := range orders {
		r := rdp[i]
		var e float64
		switch {
		case math.IsInf(r, 1) || math.IsNaN(r):
			continue
		case delta*delta+math.Expm1(-r) > 0:
			e = 0
		case a > 1.01:
			e = r + math.Log1p(-1/a) - (logDelta+math.Log(a))/(a-1)
		default:
			continue
		}
		if e < best {
			best, bestOrder = e, a
		}
	}
	return math.Max(best, 0), bestOrder
}

// deltaFromRDP converts an RDP curve to the smallest certified δ at ε:
//
//	δ = min_α  min( sqrt(1-e^{-rdp(α)}),  e^{(α-1)(rdp(α)-ε+log(1-1/α))}/α ),
//
// the same bounds as epsilonFromRDP, solved for δ.
func deltaFromRDP(orders, rdp []float64, eps float64) (delta, order float64) {
	best, bestOrder := 0.0, math.NaN() // log δ ≤ 0
	for i, a := range orders {
		r := rdp[i]
		if math.IsInf(r, 1) || math.IsNaN(r) {
			continue
		}
		ld := math.Inf(-1)
		if r > 0 {
			ld = 0.5 * math.Log(-math.Expm1(-r))
		}
		if a > 1.01 {
			ld = math.Min(ld, (a-1)*(r-eps+math.Log1p(-1/a))-math.Log(a))
		}
		if ld < best {
			best, bestOrder = ld, a
		}
	}
	return math.Exp(best), bestOrder
}
