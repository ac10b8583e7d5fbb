// Package model holds Cohort's learners: binary logistic regression, softmax
// regression and a multi-layer perceptron, all operating on flat []float64
// parameter vectors so that aggregation, secure summation, DP clipping and
// the model registry can treat every model as one vector.
//
// # Building and training
//
//	m, err := model.New(model.Spec{Name: model.LogReg, Features: 12, Classes: 2})
//	params := m.Init(rand.New(rand.NewPCG(seed, 0)))
//	cfg := model.DefaultTrainConfig()
//	stats, err := model.Train(m, params, data, cfg, rng) // updates params in place
//	met, err := model.Evaluate(m, params, test)
//
// Spec.Validate rejects unknown names, features <= 0, logreg with K != 2,
// K < 2, MLPs without hidden layers and models above 2^28 parameters.
//
// # Loss conventions
//
// Model.LossGrad returns the weighted SUM Σ w_i·ℓ_i of per-example negative
// log-likelihoods over the requested rows, plus Σ w_i, and ADDS the gradient
// of that sum into grad. No regularisation is included. Train divides by the
// batch weight sum and adds the penalties, minimising on each batch B
//
//	Σ_{i∈B} w_i·ℓ_i / Σ_{i∈B} w_i  +  L2/2·‖θ‖²  +  μ/2·‖θ − θ_center‖²
//
// where the L2 term covers every parameter (biases too) and the last term is
// FedProx. Losses use stable forms: log(1+e^z) = max(z,0) + log1p(e^−|z|) for
// logreg and a max-shifted log-sum-exp for softmax outputs, so they stay
// finite for any finite logits. Evaluate and EvalCounts ignore sample weights.
//
// # Parameter layouts
//
// D = features, K = classes.
//
//   - logreg (D+1 params): θ[0:D] = w, θ[D] = b; P(y=1|x) = σ(w·x + b).
//   - softmax ((D+1)·K params), class-major: θ[k(D+1) : k(D+1)+D] = w_k,
//     θ[k(D+1)+D] = b_k; P(y=k|x) ∝ exp(w_k·x + b_k). A 2-class softmax with
//     blocks (w_0,b_0), (w_1,b_1) predicts exactly like logreg with
//     (w_1−w_0, b_1−b_0).
//   - mlp: sizes = [D, Hidden..., K]; layer l maps in = sizes[l] to
//     out = sizes[l+1] and occupies out·in weights, output-major
//     (θ[off+o·in+i] multiplies input i into unit o), then out biases. Layers
//     are concatenated from input to output. Hidden units use ReLU (default)
//     or tanh; the output is a softmax.
//
// # Initialisation
//
// Linear models start at zero and do not consume the rng. MLP weights are He
// normal N(0, 2/in) for ReLU hidden layers and Glorot uniform U(±√(6/(in+out)))
// for tanh hidden layers and the output layer, drawn in layout order; biases
// are zero.
//
// # Determinism and concurrency
//
// Init, Train, Evaluate and EvalCounts are pure functions of their inputs and
// of the state of the *rand.Rand they are given: the same seed gives
// bit-identical parameters on every run of the same build and architecture
// (other architectures may differ in the last bits through fused
// multiply-adds and math.Exp). Train uses the rng only to shuffle
// rows each epoch. Model values are immutable and safe for concurrent use by
// any number of goroutines; per-call scratch is on the stack (logreg, softmax
// with K ≤ 32) or taken from a per-model sync.Pool (mlp), so LossGrad does not
// allocate in steady state. Optimizer values are stateful and single-goroutine.
//
// # Record-level DP-SGD hook
//
// Calling LossGrad with a one-row index slice (for example batch[j:j+1]) into
// a zeroed buffer yields the per-example gradient w_i·∇ℓ_i; PerExampleGrad
// wraps that. A DP-SGD trainer clips those, sums and noises them, adds
// TrainConfig.Penalty, and applies the same update rules through
// NewOptimizer. TrainDP (dpsgd.go) implements record-level DP-SGD on top of them: Poisson-sampled batches, per-example clipping and Gaussian noise.
//
// # Federated evaluation
//
// EvalCounts returns Counts whose fields are plain sums (rows, loss, correct
// predictions, and histograms of P(class 1) for positives and negatives), so
// sites can sum them securely; Counts.Add sums in the clear, and HistAUC turns
// summed histograms into an AUC that approaches ExactAUC as bins get finer.
package model
