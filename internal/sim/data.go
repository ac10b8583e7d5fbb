package sim

import (
	"fmt"
	"os"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/dataset"
	"github.com/cohortfl/cohort/fairness"
	"github.com/cohortfl/cohort/model"
)

// site is one simulated participant's data.
type site struct {
	name                string
	train, eval         model.Examples
	trainRows, evalRows []int // row numbers in the dataset, for audits and tests
	protTrain, protEval map[string][]string
}

// prepared is a dataset split for simulation. Feature values are encoded but
// not standardised: standardisation uses federated moments, as in a deployment.
type prepared struct {
	features []string
	pooled   model.Examples // the union of the sites' training rows (centralised baseline)
	test     model.Examples // global held-out test set, never seen in training
	sites    []site
	rows     int
	testRows []int // row numbers of the held-out test set
	// testGroup is the value of the first protected attribute for each test
	// row (nil when the dataset has none), for the disparate-impact figure.
	testGroup     []string
	protectedName string

	spec     *fairness.Spec // nil when fairness is off
	testKeys []string       // partition key of each test row (with spec)
}

func loadTable(c Config) (*dataset.Table, error) {
	if c.Dataset != "" {
		b, err := dataset.Builtin(c.Dataset)
		if err != nil {
			return nil, err
		}
		s := b.Schema
		if c.Label != "" {
			s.Label, s.Positive = c.Label, c.Positive
		}
		return b.LoadWith(withProtectedSchema(s, protectedNames(c.Protected), c.ExcludeProtected))
	}
	f, err := os.Open(c.DataPath)
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	defer f.Close()
	return dataset.Load(f, c.DataPath, withProtectedSchema(dataset.Schema{Label: c.Label, Positive: c.Positive},
		protectedNames(c.Protected), c.ExcludeProtected))
}

func prepare(c Config) (*prepared, error) {
	t, err := loadTable(c)
	if err != nil {
		return nil, err
	}
	enc, err := dataset.NewEncoder(t)
	if err != nil {
		return nil, err
	}
	all, err := enc.Encode(t)
	if err != nil {
		return nil, err
	}
	trainIdx, testIdx, err := dataset.TrainTestSplit(all.Y, c.TestFraction, c.Seed)
	if err != nil {
		return nil, fmt.Errorf("simulate: test split: %w", err)
	}
	trainTable, err := t.Subset(trainIdx)
	if err != nil {
		return nil, err
	}
	parts, names, err := dataset.Partition(c.Partition, trainTable, c.Clients, c.Seed)
	if err != nil {
		return nil, err
	}
	p := &prepared{features: enc.FeatureNames(), test: all.Subset(testIdx), rows: t.Len(), testRows: testIdx}
	if names := t.ProtectedNames(); len(names) > 0 {
		vals, err := t.Protected(names[0])
		if err != nil {
			return nil, err
		}
		p.protectedName = names[0]
		for _, i := range testIdx {
			p.testGroup = append(p.testGroup, vals[i])
		}
	}
	if c.Fairness == "audit" || c.Fairness == "reweigh" {
		attrs, err := parseProtected(c.Protected, t)
		if err != nil {
			return nil, fmt.Errorf("simulate: %w", err)
		}
		p.spec = &fairness.Spec{Attributes: attrs, Favorable: favorable(c)}
		if err := p.spec.Validate(); err != nil {
			return nil, fmt.Errorf("simulate: --protected: %w", err)
		}
		prot, err := protectedOf(t, attrs, testIdx)
		if err != nil {
			return nil, err
		}
		if p.testKeys, err = client.GroupKeys(*p.spec, prot, len(testIdx)); err != nil {
			return nil, fmt.Errorf("simulate: test set: %w", err)
		}
	}
	var pooled []int
	for i, part := range parts {
		if len(part) == 0 {
			continue
		}
		rows := make([]int, len(part))
		for j, k := range part {
			rows[j] = trainIdx[k]
		}
		fit, ev := rows, []int(nil)
		if c.EvalFraction > 0 && len(rows) >= 2 {
			if fit, ev, err = dataset.LocalSplit(rows, c.EvalFraction, c.Seed+uint64(i)); err != nil {
				return nil, fmt.Errorf("simulate: site %s eval split: %w", names[i], err)
			}
		}
		if len(fit) == 0 {
			continue
		}
		st := site{name: names[i], train: all.Subset(fit), eval: all.Subset(ev), trainRows: fit, evalRows: ev}
		if p.spec != nil {
			if st.protTrain, err = protectedOf(t, p.spec.Attributes, fit); err != nil {
				return nil, err
			}
			if st.protEval, err = protectedOf(t, p.spec.Attributes, ev); err != nil {
				return nil, err
			}
		}
		p.sites = append(p.sites, st)
		pooled = append(pooled, fit...)
	}
	p.pooled = all.Subset(pooled)
	if len(p.sites) == 0 {
		return nil, fmt.Errorf("simulate: the partition left no site with training data")
	}
	return p, nil
}

// SiteTrainingSets returns each simulated site's training rows exactly as Run
// splits them (global test split, partition, local eval split), standardised
// with the pooled moments — which equal the federated sum the sites
// standardise with. Benchmarks use it to time local training without the
// coordinator.
func SiteTrainingSets(c Config) ([]model.Examples, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p, err := prepare(c)
	if err != nil {
		return nil, err
	}
	st, err := dataset.NewStandardizer(dataset.LocalMoments(p.pooled), p.pooled.D)
	if err != nil {
		return nil, err
	}
	out := make([]model.Examples, len(p.sites))
	for i, s := range p.sites {
		out[i] = s.train.Subset(seq(s.train.N))
		if err := st.Apply(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// favorable is the favourable label: the flag, else the embedded dataset's,
// else the positive class.
func favorable(c Config) int {
	if c.Favorable != nil {
		return *c.Favorable
	}
	if c.Dataset != "" {
		if b, err := dataset.Builtin(c.Dataset); err == nil {
			return b.Favorable
		}
	}
	return 1
}
