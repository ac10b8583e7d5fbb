package secagg_test

import (
	"fmt"
	"math"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/hub"
	"github.com/cohortfl/cohort/secagg/site"
)

// Three hospitals, any two of which can decrypt, sum a 3-value vector.
func Example() {
	lit := secagg.DefaultCKKS()
	lit.Encoding = secagg.Encoding{MaxParties: 8, ClipBound: 10}
	params, _ := secagg.NewParams(lit)

	e := secagg.Epoch{RunID: "run-1", Epoch: 1, Threshold: 2, MinClients: 3}
	var ids []*site.Identity
	for _, name := range []string{"a", "b", "c"} {
		id, _ := site.NewIdentity()
		ids = append(ids, id)
		e.Members = append(e.Members, secagg.Member{ID: name, Public: id.Public()})
	}

	// Key ceremony.
	var parties []*site.Party
	var pkShares []secagg.PublicKeyShare
	for i, id := range ids {
		p, _ := site.NewParty(params, e, e.Members[i].ID, id)
		parties = append(parties, p)
		pkShares = append(pkShares, p.PublicKeyShare())
	}
	pk, _ := hub.AggregatePublicKey(params, e, pkShares)
	relay, _ := hub.NewRelay(e)
	for _, p := range parties {
		envs, _ := p.ShamirEnvelopes()
		_ = relay.Post(envs...)
	}
	for _, p := range parties {
		_ = p.OpenEnvelopes(relay.Inbox(p.ID()))
		_ = p.AcceptPublicKey(pk, pkShares)
	}

	// One round.
	acc, _ := hub.NewAccumulator(params, e, 1, 3)
	for i, p := range parties {
		c, _ := p.Seal([]float64{1, float64(i), -2.5}, 1)
		if err := acc.Add(p.ID(), c, e.Members[i].Public); err != nil {
			fmt.Println(err)
		}
	}
	active, _ := hub.ActiveSet(e, []string{"c", "a"})
	req, _ := acc.DecryptRequest(active)
	var shares []secagg.DecryptionShare
	for _, a := range active {
		s, err := parties[a].DecryptShare(req)
		if err != nil {
			fmt.Println(err)
		}
		shares = append(shares, s)
	}
	sum, _ := hub.Combine(params, e, req, shares)
	for _, v := range sum {
		fmt.Printf("%.6f ", math.Round(v*1e6)/1e6)
	}
	fmt.Println()
	// Output: 3.000000 3.000000 -7.500000
}
