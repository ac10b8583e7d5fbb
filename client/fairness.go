package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/cohortfl/cohort/explain"
	"github.com/cohortfl/cohort/fairness"
	"github.com/cohortfl/cohort/model"
)

// FairnessProvider is an optional capability of a Trainer: it knows each
// local record's protected attributes, so it can take part in federated
// reweighing, fairness audits and global explanations. Every method returns
// a plain sum over local records in a layout fixed by the spec, so the
// coordinator only ever needs the element-wise sum over sites (which secure
// aggregation gives it without revealing any one site's vector).
type FairnessProvider interface {
	// LabelCounts returns the fairness.LabelLayout vector n(g, y) of the
	// training records over spec.Groups().
	LabelCounts(ctx context.Context, spec fairness.Spec) ([]float64, error)
	// Audit evaluates task.Params on the held-out records and returns the
	// fairness.Layout vector (confusion counts and calibration bins per
	// partition group, on the favourable outcome; see fairness.Spec).
	Audit(ctx context.Context, task EvalTask, spec fairness.Spec) ([]float64, error)
	// Explain explains up to rows held-out records against the global
	// feature means and returns the explain.Aggregate vector (per-feature
	// Σ|φ| and Σφ, overall and per partition group of spec, or overall only
	// when spec is nil) followed by the fairness.MomentLayout vector of the
	// training records over spec.Indicators() (none when spec is nil).
	Explain(ctx context.Context, task EvalTask, spec *fairness.Spec, rows int) ([]float64, error)
}

// ErrNoProtected reports a fairness task for a site whose Trainer was given
// no protected attributes.
var ErrNoProtected = errors.New("client: the run audits fairness but this site has no protected-attribute values")

// SetProtected gives the trainer the raw protected-attribute values of its
// training and held-out records, by attribute name, one value per record in
// the order of the examples passed to NewModelTrainer. The values are used
// only to choose each record's group; they need not be model features.
func (t *ModelTrainer) SetProtected(train, eval map[string][]string) error {
	for name, v := range train {
		if len(v) != t.train.N {
			return fmt.Errorf("client: protected attribute %q has %d training values for %d records", name, len(v), t.train.N)
		}
	}
	for name, v := range eval {
		if len(v) != t.eval.N {
			return fmt.Errorf("client: protected attribute %q has %d held-out values for %d records", name, len(v), t.eval.N)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.protTrain, t.protEval, t.keyCache = train, eval, nil
	t.protGen++
	return nil
}

// groupKeys returns the partition key of every record of one split.
func groupKeys(spec fairness.Spec, prot map[string][]string, n int, split string) ([]string, error) {
	if prot == nil {
		return nil, ErrNoProtected
	}
	cols := make([][]string, len(spec.Attributes))
	for i, a := range spec.Attributes {
		v, ok := prot[a.Name]
		if !ok {
			return nil, fmt.Errorf("client: the run's protected attribute %q is not among this site's (%d given)", a.Name, len(prot))
		}
		cols[i] = v
	}
	keys := make([]string, n)
	raw := make([]string, len(cols))
	for r := range n {
		for i := range cols {
			raw[i] = cols[i][r]
		}
		k, err := spec.KeyOf(raw)
		if err != nil {
			return nil, fmt.Errorf("client: %srecord %d: %w", split, r, err)
		}
		keys[r] = k
	}
	return keys, nil
}

// keys returns the partition key of every training (or held-out) record,
// computed once per spec: reweighing needs them in every fit task.
func (t *ModelTrainer) keys(spec fairness.Spec, eval bool) ([]string, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	ck := fmt.Sprintf("%t/%s", eval, b)
	t.mu.Lock()
	if k, ok := t.keyCache[ck]; ok {
		t.mu.Unlock()
		return k, nil
	}
	prot, n, split, gen := t.protTrain, t.train.N, "training ", t.protGen
	if eval {
		prot, n, split = t.protEval, t.eval.N, "held-out "
	}
	t.mu.Unlock()
	k, err := groupKeys(spec, prot, n, split)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if gen != t.protGen {
		return k, nil // SetProtected ran meanwhile: k is of the old values, not to be cached
	}
	if t.keyCache == nil {
		t.keyCache = map[string][]string{}
	}
	t.keyCache[ck] = k
	return k, nil
}

// LabelCounts implements FairnessProvider.
func (t *ModelTrainer) LabelCounts(_ context.Context, spec fairness.Spec) ([]float64, error) {
	keys, err := t.keys(spec, false)
	if err != nil {
		return nil, err
	}
	l, err := fairness.NewLabelLayout(spec.Groups())
	if err != nil {
		return nil, err
	}
	v := make([]float64, l.Dim())
	for i, k := range keys {
		if err := l.Add(v, k, t.train.Y[i]); err != nil {
			return nil, fmt.Errorf("client: label counts, record %d: %w", i, err)
		}
	}
	return v, nil
}

// reweigh returns the training sample weights for the task's w(g, y), or nil.
func (t *ModelTrainer) reweigh(spec *fairness.Spec, w map[string][2]float64) ([]float64, error) {
	if w == nil {
		return nil, nil
	}
	if spec == nil {
		return nil, errors.New("client: reweighing weights without a fairness spec")
	}
	keys, err := t.keys(*spec, false)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(keys))
	for i, k := range keys {
		wk, ok := w[k]
		if !ok {
			return nil, fmt.Errorf("client: reweighing has no weight for group %q (training record %d)", k, i)
		}
		out[i] = wk[t.train.Y[i]]
	}
	return out, nil
}

// Audit implements FairnessProvider.
func (t *ModelTrainer) Audit(ctx context.Context, task EvalTask, spec fairness.Spec) ([]float64, error) {
	_, ev, err := t.data(task.Config.Moments)
	if err != nil {
		return nil, err
	}
	m, err := t.evalModel(task, ev.D)
	if err != nil {
		return nil, err
	}
	keys, err := t.keys(spec, true)
	if err != nil {
		return nil, err
	}
	return AuditVector(m, task.Params, ev, keys, spec)
}

// AuditVector evaluates params on data, whose records have the partition
// keys keys, and returns the fairness.Layout vector of spec: per group the
// confusion counts at the spec's threshold and the calibration bins, on the
// favourable outcome (with Favorable = 0 the label and score are flipped).
func AuditVector(m model.Model, params []float64, data model.Examples, keys []string, spec fairness.Spec) ([]float64, error) {
	if len(keys) != data.N {
		return nil, fmt.Errorf("client: %d group keys for %d records", len(keys), data.N)
	}
	thr := spec.DecisionThreshold()
	stats := map[string]*fairness.GroupStats{}
	for _, k := range spec.Groups() {
		stats[k] = fairness.NewGroupStats(spec.Bins())
	}
	out := make([]float64, m.NumClasses())
	for i := range data.N {
		m.PredictProba(params, data.Row(i), out)
		y, s, th := data.Y[i], out[len(out)-1], thr
		if spec.Favorable == 0 {
			y, s, th = 1-y, 1-s, 1-thr
		}
		if err := fairness.Accumulate(stats, keys[i], y, min(max(s, 0), 1), th); err != nil {
			return nil, fmt.Errorf("client: fairness audit, record %d: %w", i, err)
		}
	}
	l, err := fairness.NewLayout(spec.Groups(), spec.Bins())
	if err != nil {
		return nil, err
	}
	vals := make(map[string]fairness.GroupStats, len(stats))
	for k, g := range stats {
		vals[k] = *g
	}
	return l.Encode(vals)
}

// GroupKeys returns the partition key of every record from its raw
// protected values by attribute name (one value per record).
func GroupKeys(spec fairness.Spec, prot map[string][]string, n int) ([]string, error) {
	return groupKeys(spec, prot, n, "")
}

func (t *ModelTrainer) evalModel(task EvalTask, d int) (model.Model, error) {
	m, err := buildModel(task.Config, d)
	if err != nil {
		return nil, err
	}
	if len(task.Params) != m.NumParams() {
		return nil, fmt.Errorf("client: model has %d parameters, want %d", len(task.Params), m.NumParams())
	}
	return m, nil
}

// Explain implements FairnessProvider. Records are standardised with the
// federated moments, so the global feature means (the background) are the
// zero vector. Linear models are explained exactly on the logit scale
// (explain.LinearSHAP); others with KernelSHAP on P(y=1), exact up to
// explain.DefaultKernelConfig().MaxExact features and sampled beyond. The
// rows are sampled with the task's seed.
func (t *ModelTrainer) Explain(ctx context.Context, task EvalTask, spec *fairness.Spec, rows int) ([]float64, error) {
	tr, ev, err := t.data(task.Config.Moments)
	if err != nil {
		return nil, err
	}
	m, err := t.evalModel(task, tr.D)
	if err != nil {
		return nil, err
	}
	data, useEval := ev, true
	if ev.N == 0 {
		data, useEval = tr, false
	}
	var keys, groups []string
	if spec != nil {
		if keys, err = t.keys(*spec, useEval); err != nil {
			return nil, err
		}
		groups = spec.Groups()
	}
	agg, err := explain.NewAggregate(data.D, len(groups))
	if err != nil {
		return nil, err
	}
	phiOf, err := explainer(m, task.Params, data.D)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(task.Config.Seed, 0xe4a1))
	idx := rng.Perm(data.N)
	if rows < len(idx) {
		idx = idx[:rows]
	}
	slices.Sort(idx)
	for _, i := range idx {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		phi, err := phiOf(data.Row(i), rng)
		if err != nil {
			return nil, fmt.Errorf("client: explaining record %d: %w", i, err)
		}
		g := explain.NoGroup
		if keys != nil {
			g = slices.Index(groups, keys[i])
		}
		if err := agg.Add(phi, g); err != nil {
			return nil, err
		}
	}
	v := agg.Encode()
	if spec == nil {
		return v, nil
	}
	return t.appendProxyMoments(v, tr, *spec)
}

// explainer returns the attribution function for m against the zero
// (global-mean) background.
func explainer(m model.Model, params []float64, d int) (func(x []float64, rng *rand.Rand) ([]float64, error), error) {
	zero := make([]float64, d)
	if m.Name() == "logreg" {
		return func(x []float64, _ *rand.Rand) ([]float64, error) {
			e, err := explain.LinearSHAP(m, params, 1, x, zero)
			return e.Phi, err
		}, nil
	}
	f, err := explain.ProbaFunc(m, params, m.NumClasses()-1)
	if err != nil {
		return nil, err
	}
	k, err := explain.NewKernel(f, zero, d, explain.DefaultKernelConfig())
	if err != nil {
		return nil, err
	}
	return func(x []float64, rng *rand.Rand) ([]float64, error) {
		e, err := k.Explain(x, rng)
		return e.Phi, err
	}, nil
}

// appendProxyMoments appends the proxy-check moments of the (standardised)
// training records to v.
func (t *ModelTrainer) appendProxyMoments(v []float64, tr model.Examples, spec fairness.Spec) ([]float64, error) {
	keys, err := t.keys(spec, false)
	if err != nil {
		return nil, err
	}
	names := make([]string, tr.D)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	l, err := fairness.NewMomentLayout(names, spec.Indicators())
	if err != nil {
		return nil, err
	}
	mv := make([]float64, l.Dim())
	for i, k := range keys {
		a, err := spec.IndicatorValues(k)
		if err != nil {
			return nil, err
		}
		if err := l.Add(mv, tr.Row(i), a); err != nil {
			return nil, fmt.Errorf("client: proxy moments, training record %d: %w", i, err)
		}
	}
	return append(v, mv...), nil
}
