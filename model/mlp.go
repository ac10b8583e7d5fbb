package model

import (
	"math"
	"math/rand/v2"
	"sync"
)

// mlp is a fully connected network: hidden layers with ReLU or tanh, then a
// softmax output over K classes.
//
// Parameter layout: layers in order from input to output. Layer l maps
// in = sizes[l] to out = sizes[l+1] (sizes = [D, Hidden..., K]) and occupies
// out·in weights stored output-major (W[o*in+i] multiplies input i into unit o)
// followed by out biases.
type mlp struct {
	spec    Spec
	sizes   []int // D, hidden..., K
	offsets []int // start of layer l in the parameter vector; offsets[L] = NumParams
	actOff  []int // start of layer l's outputs in the activation scratch
	maxW    int   // widest layer
	tanh    bool
	pool    sync.Pool // *mlpScratch
}

type mlpScratch struct {
	acts   []float64 // outputs of every layer (hidden activations, then output probabilities)
	d1, d2 []float64 // back-propagated deltas, len maxW
}

func newMLP(spec Spec) *mlp {
	m := &mlp{spec: spec, tanh: spec.Activation == Tanh}
	m.sizes = append(append([]int{spec.Features}, spec.Hidden...), spec.Classes)
	off, aoff := 0, 0
	for l := 0; l+1 < len(m.sizes); l++ {
		m.offsets = append(m.offsets, off)
		m.actOff = append(m.actOff, aoff)
		off += (m.sizes[l] + 1) * m.sizes[l+1]
		aoff += m.sizes[l+1]
	}
	m.offsets = append(m.offsets, off)
	m.actOff = append(m.actOff, aoff)
	for _, s := range m.sizes {
		m.maxW = max(m.maxW, s)
	}
	m.pool.New = func() any {
		return &mlpScratch{
			acts: make([]float64, aoff),
			d1:   make([]float64, m.maxW),
			d2:   make([]float64, m.maxW),
		}
	}
	return m
}

func (m *mlp) Name() string { return MLP }
func (m *mlp) Spec() Spec {
	s := m.spec
	s.Hidden = append([]int(nil), s.Hidden...)
	return s
}
func (m *mlp) NumParams() int   { return m.offsets[len(m.offsets)-1] }
func (m *mlp) NumFeatures() int { return m.sizes[0] }
func (m *mlp) NumClasses() int  { return m.sizes[len(m.sizes)-1] }
func (m *mlp) numLayers() int   { return len(m.sizes) - 1 }

// Init draws weights layer by layer in layout order: He normal N(0, 2/in) for
// ReLU hidden layers, Glorot uniform U(±√(6/(in+out))) for tanh hidden layers
// and for the output layer. Biases start at zero.
func (m *mlp) Init(rng *rand.Rand) []float64 {
	p := make([]float64, m.NumParams())
	for l := 0; l < m.numLayers(); l++ {
		in, out := m.sizes[l], m.sizes[l+1]
		w := p[m.offsets[l] : m.offsets[l]+in*out]
		hidden := l+1 < m.numLayers()
		if hidden && !m.tanh {
			sd := math.Sqrt(2 / float64(in))
			for i := range w {
				w[i] = sd * rng.NormFloat64()
			}
			continue
		}
		a := math.Sqrt(6 / float64(in+out))
		for i := range w {
			w[i] = a * (2*rng.Float64() - 1)
		}
	}
	return p
}

// forwardLogits fills s.acts for input x, leaving the raw output logits in the
// last layer's slice, which it returns.
func (m *mlp) forwardLogits(params, x []float64, s *mlpScratch) []float64 {
	in := x[:m.sizes[0]]
	L := m.numLayers()
	for l := 0; l < L; l++ {
		nIn, nOut := m.sizes[l], m.sizes[l+1]
		off := m.offsets[l]
		w := params[off : off+nIn*nOut]
		b := params[off+nIn*nOut : off+(nIn+1)*nOut]
		out := s.acts[m.actOff[l]:m.actOff[l+1]]
		for o := range out {
			row := w[o*nIn : o*nIn+nIn : o*nIn+nIn]
			v := b[o]
			for i, a := range in {
				v += row[i] * a
			}
			out[o] = v
		}
		if l+1 < L {
			if m.tanh {
				for o, v := range out {
					out[o] = math.Tanh(v)
				}
			} else {
				for o, v := range out {
					if v < 0 {
						out[o] = 0
					}
				}
			}
		}
		in = out
	}
	return in
}

// LossGrad implements Model: cross-entropy of the softmax output, gradient by
// back-propagation. Scratch comes from a per-model sync.Pool, so concurrent
// calls are safe and steady-state calls do not allocate.
func (m *mlp) LossGrad(params []float64, data Examples, idx []int, grad []float64) (lossSum, weightSum float64) {
	s := m.pool.Get().(*mlpScratch)
	defer m.pool.Put(s)
	d := m.sizes[0]
	L := m.numLayers()
	for _, i := range idx {
		x := data.X[i*d : i*d+d : i*d+d]
		z := m.forwardLogits(params, x, s)
		y := data.Y[i]
		zy := z[y]
		lse := softmaxInPlace(z)
		wt := 1.0
		if data.W != nil {
			wt = data.W[i]
		}
		lossSum += wt * (lse - zy)
		weightSum += wt
		if grad == nil {
			continue
		}
		// delta at the output: wt·(p − onehot(y)).
		delta := s.d1[:len(z)]
		for c, p := range z {
			delta[c] = wt * p
		}
		delta[y] -= wt
		next := s.d2
		for l := L - 1; l >= 0; l-- {
			nIn, nOut := m.sizes[l], m.sizes[l+1]
			off := m.offsets[l]
			w := params[off : off+nIn*nOut]
			gw := grad[off : off+nIn*nOut]
			gb := grad[off+nIn*nOut : off+(nIn+1)*nOut]
			var in []float64
			if l == 0 {
				in = x
			} else {
				in = s.acts[m.actOff[l-1]:m.actOff[l]]
			}
			var nd []float64
			if l > 0 {
				nd = next[:nIn]
				clear(nd)
			}
			for o, dl := range delta {
				gb[o] += dl
				if dl == 0 {
					continue
				}
				row := w[o*nIn : o*nIn+nIn : o*nIn+nIn]
				grow := gw[o*nIn : o*nIn+nIn : o*nIn+nIn]
				for i, a := range in {
					grow[i] += dl * a
				}
				if nd != nil {
					for i, wv := range row {
						nd[i] += dl * wv
					}
				}
			}
			if l == 0 {
				break
			}
			// Multiply by the activation derivative, expressed through the
			// stored post-activation a: ReLU' = [a > 0], tanh' = 1 − a².
			if m.tanh {
				for i, a := range in {
					nd[i] *= 1 - a*a
				}
			} else {
				for i, a := range in {
					if a <= 0 {
						nd[i] = 0
					}
				}
			}
			delta, next = nd, delta[:cap(delta)]
		}
	}
	return lossSum, weightSum
}

// PredictProba implements Model.
func (m *mlp) PredictProba(params, x, out []float64) {
	s := m.pool.Get().(*mlpScratch)
	defer m.pool.Put(s)
	z := m.forwardLogits(params, x, s)
	softmaxInPlace(z)
	copy(out[:len(z)], z)
}
