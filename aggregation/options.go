package aggregation

import (
	"fmt"
	"math"
	"slices"
)

// Strategy names accepted by New.
const (
	NameFedAvg      = "fedavg"
	NameFedProx     = "fedprox"
	NameFedAdam     = "fedadam"
	NameFedYogi     = "fedyogi"
	NameFedAdagrad  = "fedadagrad"
	NameMedian      = "median"
	NameTrimmedMean = "trimmedmean"
	NameKrum        = "krum"
	NameMultiKrum   = "multikrum"
)

// Names returns the strategy names New accepts, in a stable order.
func Names() []string {
	return []string{NameFedAvg, NameFedProx, NameFedAdam, NameFedYogi, NameFedAdagrad,
		NameMedian, NameTrimmedMean, NameKrum, NameMultiKrum}
}

// Options holds the hyperparameters of every strategy. A zero field means "the
// default for the strategy"; fields a strategy does not use are ignored, so one
// Options value can be stored with a run whatever its strategy.
//
//	field          used by                          default
//	ServerLR  η    all                              1 (fedavg, fedprox, robust rules),
//	                                                0.1 (fedadam, fedadagrad), 0.01 (fedyogi)
//	Beta1     β1   fedadam, fedyogi, fedadagrad     0.9
//	Beta2     β2   fedadam, fedyogi                 0.99
//	Tau       τ    fedadam, fedyogi, fedadagrad     1e-3
//	ProximalMu μ   fedprox                          0.01
//	TrimFraction β trimmedmean                      0.1
//	KrumByzantine f krum, multikrum                 0
//	KrumMulti m    krum, multikrum                  1 (krum), n−f (multikrum)
//
// Because zero means default, β1 = 0 (no server momentum) cannot be expressed;
// use a tiny value such as 1e-12 instead.
type Options struct {
	ServerLR      float64 `json:"server_lr,omitempty"`
	Beta1         float64 `json:"beta1,omitempty"`
	Beta2         float64 `json:"beta2,omitempty"`
	Tau           float64 `json:"tau,omitempty"`
	ProximalMu    float64 `json:"proximal_mu,omitempty"`
	TrimFraction  float64 `json:"trim_fraction,omitempty"`
	KrumByzantine int     `json:"krum_byzantine,omitempty"`
	KrumMulti     int     `json:"krum_multi,omitempty"`
}

// Literature defaults; see the table on Options and the references in doc.go.
const (
	defaultBeta1        = 0.9  // Reddi et al. 2021
	defaultBeta2        = 0.99 // Reddi et al. 2021
	defaultTau          = 1e-3 // Reddi et al. 2021
	defaultProximalMu   = 0.01 // Li et al. 2020 tune μ over {0.001, 0.01, 0.1, 1}
	defaultTrimFraction = 0.1  // Yin et al. 2018
)

// DefaultOptions returns the literature defaults for the fields that do not
// depend on the strategy. ServerLR is left 0 ("the strategy's default"), since
// FedAvg and the adaptive optimisers need learning rates an order of magnitude
// apart.
func DefaultOptions() Options {
	return Options{
		Beta1:        defaultBeta1,
		Beta2:        defaultBeta2,
		Tau:          defaultTau,
		ProximalMu:   defaultProximalMu,
		TrimFraction: defaultTrimFraction,
	}
}

// Validate checks that every field is in range, whatever the strategy: real
// values finite and non-negative, β1 and β2 below 1, TrimFraction below 0.5,
// integer fields non-negative. Errors wrap ErrInvalidOptions.
func (o Options) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s = %v, want %s", ErrInvalidOptions, field, v, want)
	}
	for _, f := range []struct {
		name  string
		v     float64
		below float64 // exclusive upper bound
	}{
		{"ServerLR", o.ServerLR, math.Inf(1)},
		{"Beta1", o.Beta1, 1},
		{"Beta2", o.Beta2, 1},
		{"Tau", o.Tau, math.Inf(1)},
		{"ProximalMu", o.ProximalMu, math.Inf(1)},
		{"TrimFraction", o.TrimFraction, 0.5},
	} {
		if !(f.v >= 0 && f.v < f.below) {
			return bad(f.name, f.v, fmt.Sprintf("a value in [0, %v)", f.below))
		}
	}
	if o.KrumByzantine < 0 {
		return bad("KrumByzantine", o.KrumByzantine, ">= 0")
	}
	if o.KrumMulti < 0 {
		return bad("KrumMulti", o.KrumMulti, ">= 0")
	}
	return nil
}

// withDefaults validates o and fills its zero fields with name's defaults.
func (o Options) withDefaults(name string) (Options, error) {
	if err := o.Validate(); err != nil {
		return Options{}, err
	}
	if o.ServerLR == 0 {
		switch name {
		case NameFedAdam, NameFedAdagrad:
			o.ServerLR = 0.1
		case NameFedYogi:
			o.ServerLR = 0.01
		default:
			o.ServerLR = 1
		}
	}
	if o.Beta1 == 0 {
		o.Beta1 = defaultBeta1
	}
	if o.Beta2 == 0 {
		o.Beta2 = defaultBeta2
	}
	if o.Tau == 0 {
		o.Tau = defaultTau
	}
	if o.ProximalMu == 0 {
		o.ProximalMu = defaultProximalMu
	}
	if o.TrimFraction == 0 {
		o.TrimFraction = defaultTrimFraction
	}
	if o.KrumMulti == 0 && name == NameKrum {
		o.KrumMulti = 1
	}
	return o, nil
}

// New returns the strategy called name configured by o (zero fields take the
// defaults listed on Options). It returns an error wrapping ErrUnknownStrategy
// or ErrInvalidOptions, and never a usable Strategy together with an error.
func New(name string, o Options) (Strategy, error) {
	if !slices.Contains(Names(), name) {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownStrategy, name, Names())
	}
	o, err := o.withDefaults(name)
	if err != nil {
		return nil, fmt.Errorf("aggregation: strategy %q: %w", name, err)
	}
	switch name {
	case NameFedAvg:
		return &fedAvg{name: name, lr: o.ServerLR}, nil
	case NameFedProx:
		return &fedAvg{name: name, lr: o.ServerLR, mu: o.ProximalMu}, nil
	case NameFedAdam:
		return newFedOpt(name, adam, o), nil
	case NameFedYogi:
		return newFedOpt(name, yogi, o), nil
	case NameFedAdagrad:
		return newFedOpt(name, adagrad, o), nil
	case NameMedian:
		return &robust{name: name, lr: o.ServerLR, rule: median}, nil
	case NameTrimmedMean:
		beta := o.TrimFraction
		return &robust{name: name, lr: o.ServerLR, rule: func(rows [][]float64, _ []string) ([]float64, error) {
			return trimmedMean(rows, beta), nil
		}}, nil
	default: // krum, multikrum
		f, m := o.KrumByzantine, o.KrumMulti
		return &robust{name: name, lr: o.ServerLR, rule: func(rows [][]float64, ids []string) ([]float64, error) {
			return krum(rows, ids, f, m)
		}}, nil
	}
}
