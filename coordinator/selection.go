package coordinator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// SelectCohort picks the sites for one round from the connected ones: a
// fraction of them, never fewer than minClients (or all, if fewer are
// connected). The choice is a deterministic function of (seed, round, attempt,
// the sorted set of available sites), so a simulation replays exactly and a
// resumed run makes the same choices.
func SelectCohort(available []string, fraction float64, minClients int, seed uint64, round, attempt int) ([]string, error) {
	if !(fraction > 0 && fraction <= 1) {
		return nil, fmt.Errorf("coordinator: fraction %v outside (0, 1]", fraction)
	}
	sites := append([]string(nil), available...)
	sort.Strings(sites)
	k := int(math.Ceil(fraction * float64(len(sites))))
	if k < minClients {
		k = minClients
	}
	if k > len(sites) {
		k = len(sites)
	}
	rng := rand.New(rand.NewPCG(seed, uint64(round)<<20|uint64(attempt)))
	rng.Shuffle(len(sites), func(i, j int) { sites[i], sites[j] = sites[j], sites[i] })
	out := sites[:k]
	sort.Strings(out)
	return out, nil
}
