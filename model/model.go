package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned by this package wraps exactly one of them,
// so callers can branch with errors.Is.
var (
	ErrUnknownModel  = errors.New("model: unknown model name")
	ErrInvalidSpec   = errors.New("model: invalid model spec")
	ErrInvalidConfig = errors.New("model: invalid training config")
	ErrInvalidData   = errors.New("model: invalid data")
	ErrInvalidParams = errors.New("model: invalid parameters")
	ErrDiverged      = errors.New("model: training diverged")
)

// Model names accepted by Spec.Name.
const (
	LogReg  = "logreg"
	Softmax = "softmax"
	MLP     = "mlp"
)

// Hidden-layer activations accepted by Spec.Activation (MLP only).
const (
	ReLU = "relu"
	Tanh = "tanh"
)

// maxParams bounds the size of a model so that parameter counts never overflow
// and a typo in a spec cannot ask for terabytes of memory.
const maxParams = 1 << 28

// Model is a differentiable classifier whose parameters live in a flat []float64.
// The layout of that vector for each model is documented in doc.go.
//
// A Model value is immutable after New and holds no per-call state: every method
// may be called concurrently from many goroutines. Methods never retain or modify
// the slices they are given, except that LossGrad adds into grad and PredictProba
// overwrites out.
//
// Preconditions (checked by Train, Evaluate and Check, not by the methods
// themselves, to keep the hot path free of branches): len(params) == NumParams(),
// data.D == NumFeatures(), every label in [0, NumClasses()), every index in idx in
// [0, data.N). Violating them is a programming error and may panic.
type Model interface {
	// Name returns the model family: "logreg", "softmax" or "mlp".
	Name() string
	// Spec returns the validated spec the model was built from (a copy).
	Spec() Spec
	// NumParams is the length of the parameter vector.
	NumParams() int
	// NumFeatures is the number of input features D.
	NumFeatures() int
	// NumClasses is the number of output classes K (2 for logreg).
	NumClasses() int
	// Init returns a fresh parameter vector. The result depends only on the
	// state of rng, so a fixed seed gives bit-identical parameters.
	Init(rng *rand.Rand) []float64
	// LossGrad returns the weighted sum over the rows idx of data of the
	// per-example negative log-likelihood (no regularisation) and the sum of
	// the weights of those rows. If grad is non-nil (len NumParams) the gradient
	// of that weighted sum is ADDED into it; grad == nil computes the loss only.
	// Called with idx of length one (for example batch[j:j+1]) it yields the
	// per-example gradient w_i·∇ℓ_i that DP-SGD clips. Implementations do not
	// allocate per example.
	LossGrad(params []float64, data Examples, idx []int, grad []float64) (lossSum, weightSum float64)
	// PredictProba writes the class probabilities for the feature row x
	// (len NumFeatures) into out (len NumClasses). They sum to 1.
	PredictProba(params, x, out []float64)
}

// Spec describes a model architecture. The zero value is invalid.
type Spec struct {
	Name       string // LogReg, Softmax or MLP
	Features   int    // input dimension D, > 0
	Classes    int    // number of classes K: exactly 2 for logreg, >= 2 otherwise
	Hidden     []int  // MLP hidden layer widths (at least one); must be empty otherwise
	Activation string // MLP hidden activation, ReLU (default when empty) or Tanh
}

// Validate reports whether the spec describes a buildable model.
func (s Spec) Validate() error {
	switch s.Name {
	case LogReg, Softmax, MLP:
	default:
		return fmt.Errorf("%w %q (want %q, %q or %q)", ErrUnknownModel, s.Name, LogReg, Softmax, MLP)
	}
	if s.Features <= 0 {
		return fmt.Errorf("%w: %s needs features > 0, got %d", ErrInvalidSpec, s.Name, s.Features)
	}
	if s.Name == LogReg && s.Classes != 2 {
		return fmt.Errorf("%w: logreg requires exactly 2 classes, got %d (use softmax)", ErrInvalidSpec, s.Classes)
	}
	if s.Classes < 2 {
		return fmt.Errorf("%w: %s needs classes >= 2, got %d", ErrInvalidSpec, s.Name, s.Classes)
	}
	if s.Name != MLP {
		if len(s.Hidden) != 0 {
			return fmt.Errorf("%w: %s takes no hidden layers, got %v", ErrInvalidSpec, s.Name, s.Hidden)
		}
		if s.Activation != "" {
			return fmt.Errorf("%w: %s takes no activation, got %q", ErrInvalidSpec, s.Name, s.Activation)
		}
	} else {
		if len(s.Hidden) == 0 {
			return fmt.Errorf("%w: mlp needs at least one hidden layer", ErrInvalidSpec)
		}
		for i, h := range s.Hidden {
			if h <= 0 {
				return fmt.Errorf("%w: mlp hidden layer %d has width %d, want > 0", ErrInvalidSpec, i, h)
			}
		}
		switch s.Activation {
		case "", ReLU, Tanh:
		default:
			return fmt.Errorf("%w: unknown activation %q (want %q or %q)", ErrInvalidSpec, s.Activation, ReLU, Tanh)
		}
	}
	// Count parameters with an overflow guard: each layer is (in+1)*out.
	total := 0
	in := s.Features
	for _, out := range append(append([]int(nil), s.Hidden...), s.Classes) {
		if in > maxParams || out > maxParams {
			return fmt.Errorf("%w: %s with layer %d→%d exceeds %d parameters", ErrInvalidSpec, s.Name, in, out, maxParams)
		}
		total += (in + 1) * out
		if total > maxParams {
			return fmt.Errorf("%w: %s has more than %d parameters", ErrInvalidSpec, s.Name, maxParams)
		}
		in = out
	}
	return nil
}

// NumParams returns the parameter count of a valid spec (logreg: D+1;
// softmax: (D+1)·K; mlp: Σ (in+1)·out over layers). It returns 0 for an invalid spec.
func (s Spec) NumParams() int {
	if s.Validate() != nil {
		return 0
	}
	if s.Name == LogReg {
		return s.Features + 1
	}
	total, in := 0, s.Features
	for _, out := range append(append([]int(nil), s.Hidden...), s.Classes) {
		total += (in + 1) * out
		in = out
	}
	return total
}

// String renders the spec compactly, e.g. "mlp(12→32→16→2 relu)".
func (s Spec) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s(%d", s.Name, s.Features)
	for _, h := range s.Hidden {
		fmt.Fprintf(&b, "→%d", h)
	}
	fmt.Fprintf(&b, "→%d", s.Classes)
	if s.Name == MLP {
		act := s.Activation
		if act == "" {
			act = ReLU
		}
		b.WriteString(" " + act)
	}
	b.WriteString(")")
	return b.String()
}

// New builds the model described by spec. The spec is copied, so later changes
// to spec.Hidden do not affect the model.
func New(spec Spec) (Model, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec.Hidden = append([]int(nil), spec.Hidden...)
	switch spec.Name {
	case LogReg:
		return &logReg{d: spec.Features}, nil
	case Softmax:
		return &softmaxReg{d: spec.Features, k: spec.Classes}, nil
	default:
		if spec.Activation == "" {
			spec.Activation = ReLU
		}
		return newMLP(spec), nil
	}
}

// ParseHidden parses a comma-separated list of hidden-layer widths such as
// "32,16". Spaces are ignored; the empty string gives nil.
func ParseHidden(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]int, 0, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("%w: hidden layer %d of %q: %w", ErrInvalidSpec, i, s, err)
		}
		if n <= 0 {
			return nil, fmt.Errorf("%w: hidden layer %d of %q has width %d, want > 0", ErrInvalidSpec, i, s, n)
		}
		out = append(out, n)
	}
	return out, nil
}

// Check verifies that params and data fit m: parameter length and finiteness,
// data shape and labels (Examples.Validate), and finite features. Train and
// Evaluate call it; code that calls Model methods directly on untrusted input
// should too.
func Check(m Model, params []float64, data Examples) error {
	if err := checkParams(m, params); err != nil {
		return err
	}
	return checkData(m, data)
}

func checkParams(m Model, params []float64) error {
	if len(params) != m.NumParams() {
		return fmt.Errorf("%w: %s has %d parameters, got a vector of %d", ErrInvalidParams, m.Name(), m.NumParams(), len(params))
	}
	for i, p := range params {
		if math.IsNaN(p) || math.IsInf(p, 0) {
			return fmt.Errorf("%w: parameter %d is %v", ErrInvalidParams, i, p)
		}
	}
	return nil
}

func checkData(m Model, data Examples) error {
	if data.D != m.NumFeatures() {
		return fmt.Errorf("%w: data has %d features, %s expects %d", ErrInvalidData, data.D, m.Name(), m.NumFeatures())
	}
	if err := data.Validate(m.NumClasses()); err != nil {
		return fmt.Errorf("%w: %s", ErrInvalidData, strings.TrimPrefix(err.Error(), "model: "))
	}
	for k, v := range data.X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: feature %d of row %d is %v", ErrInvalidData, k%data.D, k/data.D, v)
		}
	}
	return nil
}

// PerExampleGrad overwrites grad (len m.NumParams()) with the gradient of the
// weighted loss of row i alone, w_i·∇ℓ_i(params), and returns w_i·ℓ_i and w_i.
// It is the building block for record-level DP-SGD (clip each per-example
// gradient, then sum and add noise). It performs no input validation (see the
// Model preconditions). Hot loops should instead call m.LossGrad with a
// length-one subslice of an index slice they already own, which avoids the
// small allocation made here.
func PerExampleGrad(m Model, params []float64, data Examples, i int, grad []float64) (loss, weight float64) {
	clear(grad)
	idx := []int{i}
	return m.LossGrad(params, data, idx, grad)
}
