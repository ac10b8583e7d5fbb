package sim

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/coordinator"
	"github.com/cohortfl/cohort/dataset"
	"github.com/cohortfl/cohort/fairness"
	"github.com/cohortfl/cohort/model"
)

// parseProtected turns --protected entries ("afam", "Age<=25") into the
// attributes of a fairness spec, taking categorical levels from the schema or,
// failing that, from the data.
func parseProtected(specs []string, t *dataset.Table) ([]fairness.Attribute, error) {
	var out []fairness.Attribute
	for _, s := range specs {
		name, cutS, hasCut := strings.Cut(s, "<=")
		name = strings.TrimSpace(name)
		a := fairness.Attribute{Name: name}
		typ, err := t.Type(name)
		if err != nil {
			return nil, fmt.Errorf("--protected %q: %w", s, err)
		}
		switch {
		case hasCut:
			c, err := strconv.ParseFloat(strings.TrimSpace(cutS), 64)
			if err != nil {
				return nil, fmt.Errorf("--protected %q: the cut %q is not a number", s, cutS)
			}
			if typ != dataset.Numeric {
				return nil, fmt.Errorf("--protected %q: column %q is categorical; give it without a cut", s, name)
			}
			a.Cut = &c
		case typ == dataset.Numeric:
			return nil, fmt.Errorf("--protected %q: column %q is numeric; split it into two groups with NAME<=VALUE, for example %q", s, name, name+"<=25")
		default:
			if lv := t.Schema().Levels[name]; len(lv) > 0 {
				a.Levels = lv
			} else {
				vals, err := t.Column(name)
				if err != nil {
					return nil, err
				}
				slices.Sort(vals)
				a.Levels = slices.Compact(vals)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// protectedOf returns the raw protected values of the given table rows, by
// attribute name.
func protectedOf(t *dataset.Table, attrs []fairness.Attribute, rows []int) (map[string][]string, error) {
	return t.ProtectedRows(fairness.Spec{Attributes: attrs}.Names(), rows)
}

// testAudit audits params on the global test set with the same group keys
// and layout the sites use, pooled in one place.
func testAudit(spec fairness.Spec, m model.Model, params []float64, test model.Examples, keys []string) ([]coordinator.FamilyReport, error) {
	v, err := client.AuditVector(m, params, test, keys, spec)
	if err != nil {
		return nil, err
	}
	return coordinator.AuditReports(spec, v)
}

// withProtectedSchema makes the chosen attributes the schema's protected
// columns (so their values are kept, and excluded from the features with
// exclude).
func withProtectedSchema(s dataset.Schema, names []string, exclude bool) dataset.Schema {
	if len(names) == 0 {
		return s
	}
	s.Protected = slices.Clone(names)
	sort.Strings(s.Protected)
	s.Protected = slices.Compact(s.Protected)
	s.ExcludeProtected = exclude
	return s
}

// protectedNames returns the column names of --protected entries.
func protectedNames(specs []string) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		n, _, _ := strings.Cut(s, "<=")
		out[i] = strings.TrimSpace(n)
	}
	return out
}
