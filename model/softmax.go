package model

import (
	"math"
	"math/rand/v2"
)

// softmaxReg is multinomial logistic regression: P(y=k|x) ∝ exp(w_k·x + b_k).
// Parameter layout, class-major: params[k*(D+1) : k*(D+1)+D] = w_k and
// params[k*(D+1)+D] = b_k, for k = 0..K−1.
type softmaxReg struct {
	d, k int
}

// stackClasses is the largest K whose logits live in a stack array, so that
// LossGrad does not allocate at all for common class counts.
const stackClasses = 32

func (m *softmaxReg) Name() string     { return Softmax }
func (m *softmaxReg) Spec() Spec       { return Spec{Name: Softmax, Features: m.d, Classes: m.k} }
func (m *softmaxReg) NumParams() int   { return (m.d + 1) * m.k }
func (m *softmaxReg) NumFeatures() int { return m.d }
func (m *softmaxReg) NumClasses() int  { return m.k }

// Init returns the all-zero vector (uniform predictions; the loss is convex).
// It does not consume rng.
func (m *softmaxReg) Init(_ *rand.Rand) []float64 { return make([]float64, m.NumParams()) }

// logits writes z_k = w_k·x + b_k into z.
func (m *softmaxReg) logits(params, x, z []float64) {
	d := m.d
	for c := range z {
		row := params[c*(d+1) : c*(d+1)+d+1 : c*(d+1)+d+1]
		s := row[d]
		for j, xj := range x[:d] {
			s += row[j] * xj
		}
		z[c] = s
	}
}

// LossGrad implements Model. Per example the loss is logsumexp(z) − z_y and the
// gradient with respect to (w_k, b_k) is (p_k − [k=y])·(x, 1).
func (m *softmaxReg) LossGrad(params []float64, data Examples, idx []int, grad []float64) (lossSum, weightSum float64) {
	var buf [stackClasses]float64
	var z []float64
	if m.k <= stackClasses {
		z = buf[:m.k]
	} else {
		z = make([]float64, m.k)
	}
	d := m.d
	for _, i := range idx {
		x := data.X[i*d : i*d+d : i*d+d]
		m.logits(params, x, z)
		y := data.Y[i]
		zy := z[y]
		lse := softmaxInPlace(z) // z now holds probabilities
		wt := 1.0
		if data.W != nil {
			wt = data.W[i]
		}
		lossSum += wt * (lse - zy)
		weightSum += wt
		if grad == nil {
			continue
		}
		for c, p := range z {
			r := wt * p
			if c == y {
				r -= wt
			}
			g := grad[c*(d+1) : c*(d+1)+d+1 : c*(d+1)+d+1]
			for j, xj := range x {
				g[j] += r * xj
			}
			g[d] += r
		}
	}
	return lossSum, weightSum
}

// PredictProba implements Model.
func (m *softmaxReg) PredictProba(params, x, out []float64) {
	m.logits(params, x, out[:m.k])
	softmaxInPlace(out[:m.k])
}

// softmaxInPlace replaces z by softmax(z) and returns logsumexp(z), both
// computed stably by shifting by max(z) so no exponent exceeds 0.
func softmaxInPlace(z []float64) (lse float64) {
	mx := math.Inf(-1)
	for _, v := range z {
		if v > mx {
			mx = v
		}
	}
	s := 0.0
	for c, v := range z {
		e := math.Exp(v - mx)
		z[c] = e
		s += e
	}
	inv := 1 / s
	for c := range z {
		z[c] *= inv
	}
	return mx + math.Log(s)
}
