package model

import (
	"fmt"
	"math"
)

// Optimizer names accepted by TrainConfig.Optimizer.
const (
	SGD  = "sgd"
	Adam = "adam"
)

// Adam defaults used when the corresponding TrainConfig field is zero.
const (
	DefaultBeta1   = 0.9
	DefaultBeta2   = 0.999
	DefaultEpsilon = 1e-8
)

// Optimizer applies first-order updates to a parameter vector. It is exported
// so that other trainers (record-level DP-SGD computes its own clipped, noised
// gradient) reuse the same update rules as Train.
//
// An Optimizer holds state (Adam moments) and is not safe for concurrent use;
// create one per training run. Step reads grad and never retains either slice.
type Optimizer interface {
	// Step moves params against grad (the gradient of the objective being
	// minimised). len(params) and len(grad) must equal the size given to
	// NewOptimizer.
	Step(params, grad []float64)
}

// NewOptimizer returns the optimizer selected by cfg for numParams parameters.
// The empty optimizer name means SGD.
func NewOptimizer(cfg TrainConfig, numParams int) (Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if numParams <= 0 {
		return nil, fmt.Errorf("%w: optimizer needs numParams > 0, got %d", ErrInvalidConfig, numParams)
	}
	switch cfg.Optimizer {
	case Adam:
		a := &adam{
			lr: cfg.LearningRate, b1: cfg.Beta1, b2: cfg.Beta2, eps: cfg.Epsilon,
			m: make([]float64, numParams), v: make([]float64, numParams),
		}
		if a.b1 == 0 {
			a.b1 = DefaultBeta1
		}
		if a.b2 == 0 {
			a.b2 = DefaultBeta2
		}
		if a.eps == 0 {
			a.eps = DefaultEpsilon
		}
		return a, nil
	default:
		return &sgd{lr: cfg.LearningRate}, nil
	}
}

// sgd is plain gradient descent: w ← w − η·g.
type sgd struct{ lr float64 }

func (o *sgd) Step(params, grad []float64) {
	g := grad[:len(params)]
	for i := range params {
		params[i] -= o.lr * g[i]
	}
}

// adam is Kingma & Ba (2015) with bias correction:
// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², w ← w − η·m̂/(√v̂ + ε),
// with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t).
type adam struct {
	lr, b1, b2, eps float64
	t               int
	m, v            []float64
}

func (o *adam) Step(params, grad []float64) {
	o.t++
	c1 := 1 - math.Pow(o.b1, float64(o.t))
	c2 := 1 - math.Pow(o.b2, float64(o.t))
	g := grad[:len(params)]
	m, v := o.m[:len(params)], o.v[:len(params)]
	for i := range params {
		m[i] = o.b1*m[i] + (1-o.b1)*g[i]
		v[i] = o.b2*v[i] + (1-o.b2)*g[i]*g[i]
		params[i] -= o.lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + o.eps)
	}
}
