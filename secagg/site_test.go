package secagg_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/site"
)

func TestEnvelopesAreAuthenticated(t *testing.T) {
	params := testParams(t, secagg.CKKS)
	e := secagg.Epoch{RunID: "r", Epoch: 1, Threshold: 2, MinClients: 2}
	var ids []*site.Identity
	for i := range 3 {
		id, err := site.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		e.Members = append(e.Members, secagg.Member{ID: fmt.Sprintf("s%d", i), Public: id.Public()})
	}
	var parties []*site.Party
	for i, id := range ids {
		p, err := site.NewParty(params, e, e.Members[i].ID, id)
		if err != nil {
			t.Fatal(err)
		}
		parties = append(parties, p)
	}
	if _, err := site.NewParty(params, e, "s0", ids[1]); !errors.Is(err, secagg.ErrBadEpoch) {
		t.Errorf("NewParty with another site's identity: %v", err)
	}
	if err := parties[1].OpenEnvelopes(nil); !errors.Is(err, secagg.ErrState) {
		t.Errorf("OpenEnvelopes before ShamirEnvelopes: %v", err)
	}
	env0, _ := parties[0].ShamirEnvelopes()
	env2, _ := parties[2].ShamirEnvelopes()
	if _, err := parties[1].ShamirEnvelopes(); err != nil {
		t.Fatal(err)
	}
	var to1 []secagg.Envelope
	for _, env := range append(env0, env2...) {
		if env.To == "s1" {
			to1 = append(to1, env)
		}
	}
	tampered := to1[0]
	tampered.Ciphertext = append([]byte(nil), to1[0].Ciphertext...)
	tampered.Ciphertext[40] ^= 1
	if err := parties[1].OpenEnvelopes([]secagg.Envelope{tampered}); !errors.Is(err, secagg.ErrBadSignature) {
		t.Errorf("tampered envelope: %v, want ErrBadSignature", err)
	}
	spoofed := to1[0]
	spoofed.From = "s2" // claims another sender: HPKE auth fails
	if err := parties[1].OpenEnvelopes([]secagg.Envelope{spoofed, to1[1]}); err == nil {
		t.Error("spoofed sender accepted")
	}
	if parties[1].ThresholdReady() {
		t.Error("threshold share complete after rejected envelopes")
	}
	if err := parties[1].OpenEnvelopes(to1); err != nil {
		t.Fatal(err)
	}
	if !parties[1].ThresholdReady() {
		t.Error("threshold share incomplete after all envelopes")
	}
	if _, err := parties[1].Seal([]float64{1}, 1); !errors.Is(err, secagg.ErrState) {
		t.Errorf("Seal before AcceptPublicKey: %v", err)
	}
}
