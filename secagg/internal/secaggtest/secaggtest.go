// Package secaggtest runs a complete in-memory key ceremony for tests and
// benchmarks. It deliberately does not import secagg/hub, so that hub's
// own tests can use it.
package secaggtest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/internal/he"
	"github.com/cohortfl/cohort/secagg/internal/verify"
	"github.com/cohortfl/cohort/secagg/site"
)

// Cluster is n sites that completed a key ceremony.
type Cluster struct {
	Params  secagg.Params
	Epoch   secagg.Epoch
	Parties []*site.Party
	// PublicKey and PublicKeyShares are what the hub would distribute.
	PublicKey       secagg.PublicKey
	PublicKeyShares []secagg.PublicKeyShare
}

// NewCluster runs the ceremony for n sites with threshold t.
func NewCluster(tb testing.TB, params secagg.Params, n, t, minClients int) *Cluster {
	tb.Helper()
	c := &Cluster{Params: params}
	ids := make([]*site.Identity, n)
	e := secagg.Epoch{RunID: "run-test", Epoch: 1, Threshold: t, MinClients: minClients}
	for i := range ids {
		id, err := site.NewIdentity()
		if err != nil {
			tb.Fatal(err)
		}
		ids[i] = id
		e.Members = append(e.Members, secagg.Member{ID: fmt.Sprintf("site-%d", i), Public: id.Public()})
	}
	c.Epoch = e
	for i, id := range ids {
		p, err := site.NewParty(params, e, e.Members[i].ID, id)
		if err != nil {
			tb.Fatal(err)
		}
		c.Parties = append(c.Parties, p)
		c.PublicKeyShares = append(c.PublicKeyShares, p.PublicKeyShare())
	}
	ctx, err := he.Of(params)
	if err != nil {
		tb.Fatal(err)
	}
	pk, err := verify.PublicKey(ctx, e, c.PublicKeyShares)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := pk.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	c.PublicKey = secagg.PublicKey{RunID: e.RunID, Epoch: e.Epoch, Key: b}
	inbox := map[string][]secagg.Envelope{}
	for _, p := range c.Parties {
		envs, err := p.ShamirEnvelopes()
		if err != nil {
			tb.Fatal(err)
		}
		for _, env := range envs {
			inbox[env.To] = append(inbox[env.To], env)
		}
	}
	for _, p := range c.Parties {
		if err := p.OpenEnvelopes(inbox[p.ID()]); err != nil {
			tb.Fatal(err)
		}
		if !p.ThresholdReady() {
			tb.Fatalf("%s: threshold share incomplete", p.ID())
		}
		if err := p.AcceptPublicKey(c.PublicKey, c.PublicKeyShares); err != nil {
			tb.Fatal(err)
		}
	}
	return c
}

// RandomVectors returns k vectors of dimension dim with entries uniform in
// [-clip, clip], from a fixed seed.
func RandomVectors(seed uint64, k, dim int, clip float64) [][]float64 {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([][]float64, k)
	for i := range out {
		out[i] = make([]float64, dim)
		for j := range out[i] {
			out[i][j] = (2*r.Float64() - 1) * clip
		}
	}
	return out
}

// PlainSum adds vectors in float64, independently of any HE code.
func PlainSum(vecs [][]float64) []float64 {
	out := make([]float64, len(vecs[0]))
	for _, v := range vecs {
		for i, x := range v {
			out[i] += x
		}
	}
	return out
}
