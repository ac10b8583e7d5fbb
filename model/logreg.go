package model

import (
	"math"
	"math/rand/v2"
)

// logReg is binary logistic regression: P(y=1|x) = σ(w·x + b).
// Parameter layout: params[0:D] = w, params[D] = b.
type logReg struct {
	d int
}

func (m *logReg) Name() string     { return LogReg }
func (m *logReg) Spec() Spec       { return Spec{Name: LogReg, Features: m.d, Classes: 2} }
func (m *logReg) NumParams() int   { return m.d + 1 }
func (m *logReg) NumFeatures() int { return m.d }
func (m *logReg) NumClasses() int  { return 2 }

// Init returns the all-zero vector (the loss is convex, so zero is the
// canonical start). It does not consume rng.
func (m *logReg) Init(_ *rand.Rand) []float64 { return make([]float64, m.d+1) }

// LossGrad implements Model. Per example with z = w·x+b the loss is
// softplus(z) − y·z = log(1+e^z) − y·z and its gradient is (σ(z) − y)·(x, 1).
func (m *logReg) LossGrad(params []float64, data Examples, idx []int, grad []float64) (lossSum, weightSum float64) {
	d := m.d
	w := params[:d:d]
	b := params[d]
	var gw []float64
	if grad != nil {
		gw = grad[: d+1 : d+1]
	}
	for _, i := range idx {
		x := data.X[i*d : i*d+d : i*d+d]
		z := b
		for j, xj := range x {
			z += w[j] * xj
		}
		sp, p := softplusSigmoid(z)
		wt := 1.0
		if data.W != nil {
			wt = data.W[i]
		}
		y := float64(data.Y[i])
		lossSum += wt * (sp - y*z)
		weightSum += wt
		if gw != nil {
			r := wt * (p - y)
			for j, xj := range x {
				gw[j] += r * xj
			}
			gw[d] += r
		}
	}
	return lossSum, weightSum
}

// PredictProba implements Model: out = [1−σ(z), σ(z)].
func (m *logReg) PredictProba(params, x, out []float64) {
	z := params[m.d]
	for j, xj := range x[:m.d] {
		z += params[j] * xj
	}
	_, p := softplusSigmoid(z)
	out[0], out[1] = 1-p, p
}

// softplusSigmoid returns log(1+e^z) and σ(z) = 1/(1+e^−z) using one exp and
// one log1p, without overflow for any finite z: with e = e^−|z| ∈ (0,1],
// softplus(z) = max(z,0) + log1p(e), and σ(z) = 1/(1+e) for z ≥ 0, e/(1+e) otherwise.
func softplusSigmoid(z float64) (softplus, sigmoid float64) {
	e := math.Exp(-math.Abs(z))
	if z >= 0 {
		return z + math.Log1p(e), 1 / (1 + e)
	}
	return math.Log1p(e), e / (1 + e)
}
