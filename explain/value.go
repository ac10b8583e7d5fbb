package explain

import (
	"fmt"
	"math"

	"github.com/cohortfl/cohort/model"
)

// ValueFunc is the scalar function of one feature row that an explanation
// decomposes. It must be deterministic, must not retain or modify x, and must
// be safe for concurrent use if the same ValueFunc is shared by concurrent
// Explain calls. A NaN or infinite result makes Explain fail.
type ValueFunc func(x []float64) float64

// ProbaFunc returns f(x) = P(class | x) under m with params, the value function
// Cohort uses for KernelSHAP on any model. params is copied, so later changes
// to the caller's slice do not affect f. The returned function checks nothing
// per call beyond what Explain checks (len(x) == NumFeatures()) and is safe
// for concurrent use.
func ProbaFunc(m model.Model, params []float64, class int) (ValueFunc, error) {
	if err := checkModel(m, params, class); err != nil {
		return nil, fmt.Errorf("proba value function: %w", err)
	}
	p := append([]float64(nil), params...)
	k := m.NumClasses()
	return func(x []float64) float64 {
		out := make([]float64, k)
		m.PredictProba(p, x, out)
		return out[class]
	}, nil
}

// LogitFunc returns the linear score of class under a logreg or softmax model:
//
//   - logreg: f(x) = w·x + b for class 1 and −(w·x + b) for class 0, so
//     P(class|x) = σ(f(x));
//   - softmax: f(x) = w_k·x + b_k for class k (the un-normalised class score).
//
// This is the value function on which LinearSHAP is exact. MLPs are rejected
// with ErrNotLinear. params is copied; the result is safe for concurrent use.
func LogitFunc(m model.Model, params []float64, class int) (ValueFunc, error) {
	w, b, err := linearBlock(m, params, class)
	if err != nil {
		return nil, fmt.Errorf("logit value function: %w", err)
	}
	return func(x []float64) float64 {
		s := b
		for j, wj := range w {
			s += wj * x[j]
		}
		return s
	}, nil
}

// linearBlock returns copies of the weights and bias whose affine function is
// the logit of class (see LogitFunc).
func linearBlock(m model.Model, params []float64, class int) (w []float64, b float64, err error) {
	if err := checkModel(m, params, class); err != nil {
		return nil, 0, err
	}
	d := m.NumFeatures()
	switch m.Name() {
	case model.LogReg:
		w = append([]float64(nil), params[:d]...)
		b = params[d]
		if class == 0 {
			for j := range w {
				w[j] = -w[j]
			}
			b = -b
		}
	case model.Softmax:
		off := class * (d + 1)
		w = append([]float64(nil), params[off:off+d]...)
		b = params[off+d]
	default:
		return nil, 0, fmt.Errorf("%w: %s has no per-class linear score (use KernelSHAP)", ErrNotLinear, m.Name())
	}
	return w, b, nil
}

func checkModel(m model.Model, params []float64, class int) error {
	if m == nil {
		return fmt.Errorf("%w: nil model", ErrInvalidInput)
	}
	if len(params) != m.NumParams() {
		return fmt.Errorf("%w: %s has %d parameters, got %d", ErrInvalidInput, m.Name(), m.NumParams(), len(params))
	}
	if i := firstNonFinite(params); i >= 0 {
		return fmt.Errorf("%w: parameter %d is %v", ErrInvalidInput, i, params[i])
	}
	if class < 0 || class >= m.NumClasses() {
		return fmt.Errorf("%w: class %d outside [0,%d)", ErrInvalidInput, class, m.NumClasses())
	}
	return nil
}

// firstNonFinite returns the index of the first NaN or ±Inf in v, or −1.
func firstNonFinite(v []float64) int {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return i
		}
	}
	return -1
}

// checkRow validates one feature row of length d.
func checkRow(what string, x []float64, d int) error {
	if len(x) != d {
		return fmt.Errorf("%w: %s has %d features, want %d", ErrInvalidInput, what, len(x), d)
	}
	if i := firstNonFinite(x); i >= 0 {
		return fmt.Errorf("%w: %s feature %d is %v", ErrInvalidInput, what, i, x[i])
	}
	return nil
}

// BackgroundMean returns the column means of a row-major background matrix of
// n = len(background)/d rows, the reference point of LinearSHAP. In a
// federation it is usually the global feature mean obtained from a secure sum
// of per-site column sums and counts.
func BackgroundMean(background []float64, d int) ([]float64, error) {
	n, err := checkBackground(background, d)
	if err != nil {
		return nil, fmt.Errorf("background mean: %w", err)
	}
	mean := make([]float64, d)
	for r := 0; r < n; r++ {
		for j, v := range background[r*d : (r+1)*d] {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	return mean, nil
}

func checkBackground(bg []float64, d int) (n int, err error) {
	if d <= 0 {
		return 0, fmt.Errorf("%w: %d features", ErrInvalidInput, d)
	}
	if len(bg) == 0 || len(bg)%d != 0 {
		return 0, fmt.Errorf("%w: background has %d values, want a positive multiple of %d features", ErrInvalidInput, len(bg), d)
	}
	if i := firstNonFinite(bg); i >= 0 {
		return 0, fmt.Errorf("%w: background row %d feature %d is %v", ErrInvalidInput, i/d, i%d, bg[i])
	}
	return len(bg) / d, nil
}
