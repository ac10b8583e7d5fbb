package aggregation_test

import (
	"strings"
	"testing"

	"github.com/cohortfl/cohort/aggregation"
	"github.com/cohortfl/cohort/aggregation/aggregationtest"
)

// TestConformance runs the shared contract checks over every strategy New knows,
// with default options and with some non-default ones.
func TestConformance(t *testing.T) {
	variants := map[string]aggregation.Options{}
	for _, name := range aggregation.Names() {
		variants[name+"/defaults"] = aggregation.Options{}
	}
	variants["fedavg/lr0.5"] = aggregation.Options{ServerLR: 0.5}
	variants["fedadam/tuned"] = aggregation.Options{ServerLR: 0.03, Beta1: 0.5, Beta2: 0.9, Tau: 1e-2}
	variants["trimmedmean/0.3"] = aggregation.Options{TrimFraction: 0.3}
	variants["krum/f3"] = aggregation.Options{KrumByzantine: 3}
	variants["multikrum/f2m4"] = aggregation.Options{KrumByzantine: 2, KrumMulti: 4}
	for label, o := range variants {
		name, _, _ := strings.Cut(label, "/")
		t.Run(label, func(t *testing.T) {
			if _, err := aggregation.New(name, o); err != nil {
				t.Fatalf("New(%q, %+v): %v", name, o, err)
			}
			aggregationtest.TestStrategy(t, func() aggregation.Strategy {
				s, _ := aggregation.New(name, o)
				return s
			})
		})
	}
}
