package secagg_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/hub"
	"github.com/cohortfl/cohort/secagg/internal/secaggtest"
)

// round seals one vector per party for round r and returns the
// contributions and an accumulator holding all of them.
func sealRound(t *testing.T, c *secaggtest.Cluster, r uint64, dim int) ([]secagg.Contribution, *hub.Accumulator) {
	t.Helper()
	vecs := secaggtest.RandomVectors(r, len(c.Parties), dim, c.Params.Encoding().ClipBound)
	acc, err := hub.NewAccumulator(c.Params, c.Epoch, r, dim)
	if err != nil {
		t.Fatal(err)
	}
	var out []secagg.Contribution
	for i, p := range c.Parties {
		ct, err := p.Seal(vecs[i], r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ct)
		if err := acc.Add(p.ID(), ct, c.Epoch.Members[i].Public); err != nil {
			t.Fatal(err)
		}
	}
	return out, acc
}

func clone(c secagg.Contribution) secagg.Contribution {
	c.Ciphertexts = append([][]byte(nil), c.Ciphertexts...)
	for i := range c.Ciphertexts {
		c.Ciphertexts[i] = bytes.Clone(c.Ciphertexts[i])
	}
	c.Signature = bytes.Clone(c.Signature)
	c.Nonce = bytes.Clone(c.Nonce)
	return c
}

func TestAccumulatorRejects(t *testing.T) {
	params := testParams(t, secagg.CKKS)
	c := secaggtest.NewCluster(t, params, 5, 3, 3)
	const dim = 16
	p0, pub0 := c.Parties[0], c.Epoch.Members[0].Public
	good, err := p0.Seal(make([]float64, dim), 1)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := hub.NewAccumulator(params, c.Epoch, 1, dim)
	if err != nil {
		t.Fatal(err)
	}
	flipCT := clone(good)
	flipCT.Ciphertexts[0][len(flipCT.Ciphertexts[0])/2] ^= 1
	flipSig := clone(good)
	flipSig.Signature[3] ^= 0x80
	otherRound, _ := p0.Seal(make([]float64, dim), 2)
	otherDim, _ := p0.Seal(make([]float64, dim+1), 1)
	tests := []struct {
		name string
		from string
		c    secagg.Contribution
		pub  secagg.PublicIdentity
		want error
	}{
		{"flipped ciphertext byte", "site-0", flipCT, pub0, secagg.ErrBadSignature},
		{"flipped signature bit", "site-0", flipSig, pub0, secagg.ErrBadSignature},
		{"wrong round", "site-0", otherRound, pub0, secagg.ErrBinding},
		{"wrong dimension", "site-0", otherDim, pub0, secagg.ErrMalformed},
		{"sender mismatch", "site-1", good, c.Epoch.Members[1].Public, secagg.ErrBinding},
		{"key not in roster", "site-0", good, c.Epoch.Members[1].Public, secagg.ErrBinding},
	}
	for _, tc := range tests {
		if err := acc.Add(tc.from, tc.c, tc.pub); !errors.Is(err, tc.want) {
			t.Errorf("%s: Add = %v, want %v", tc.name, err, tc.want)
		}
	}
	if acc.Len() != 0 {
		t.Fatalf("rejected contributions were accumulated: Len = %d", acc.Len())
	}
	if err := acc.Add("site-0", good, pub0); err != nil {
		t.Fatal(err)
	}
	if err := acc.Add("site-0", good, pub0); !errors.Is(err, secagg.ErrReplay) {
		t.Errorf("replayed contribution: Add = %v, want ErrReplay", err)
	}
	again, _ := p0.Seal(make([]float64, dim), 1)
	if err := acc.Add("site-0", again, pub0); !errors.Is(err, secagg.ErrReplay) {
		t.Errorf("second contribution of a sender: Add = %v, want ErrReplay", err)
	}
	// Another sender replaying site-0's nonce (re-signed is impossible, so
	// the signature fails or the nonce is caught first).
	p1 := c.Parties[1]
	c1, _ := p1.Seal(make([]float64, dim), 1)
	c1.Nonce = bytes.Clone(good.Nonce)
	if err := acc.Add("site-1", c1, c.Epoch.Members[1].Public); !errors.Is(err, secagg.ErrReplay) {
		t.Errorf("reused nonce: Add = %v, want ErrReplay", err)
	}
	if got := acc.Contributors(); len(got) != 1 || got[0] != "site-0" {
		t.Errorf("Contributors = %v, want [site-0]", got)
	}
	if r := acc.Receipts(); len(r) != 1 || r[0].CiphertextHash != good.CiphertextHash() {
		t.Errorf("Receipts do not record the accepted contribution")
	}
}

func TestSealRefusesUnclipped(t *testing.T) {
	params := testParams(t, secagg.CKKS)
	c := secaggtest.NewCluster(t, params, 3, 2, 2)
	clip := params.Encoding().ClipBound
	for _, v := range []float64{clip * 1.0001, -clip - 1, math.NaN(), math.Inf(1)} {
		vec := []float64{0, 0.5, v}
		_, err := c.Parties[0].Seal(vec, 1)
		if !errors.Is(err, secagg.ErrBadInput) || !strings.Contains(err.Error(), "index 2") {
			t.Errorf("Seal(%v) = %v, want ErrBadInput naming index 2", v, err)
		}
	}
	if _, err := c.Parties[0].Seal([]float64{clip, -clip}, 1); err != nil {
		t.Errorf("values at the clip bound: %v", err)
	}
}

func TestDecryptRefusals(t *testing.T) {
	params := testParams(t, secagg.CKKS)
	c := secaggtest.NewCluster(t, params, 5, 3, 3)
	const dim = 8
	contribs, acc := sealRound(t, c, 1, dim)
	full, err := acc.DecryptRequest([]int{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(r *secagg.DecryptRequest)) secagg.DecryptRequest {
		r := full
		r.Active = append([]int(nil), full.Active...)
		r.Contributions = append([]secagg.Contribution(nil), full.Contributions...)
		r.Aggregate = append([][]byte(nil), full.Aggregate...)
		f(&r)
		return r
	}
	// Sum of the first two contributions only, computed honestly.
	two, err := hub.NewAccumulator(params, c.Epoch, 1, dim)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := two.Add(contribs[i].From, contribs[i], c.Epoch.Members[i].Public); err != nil {
			t.Fatal(err)
		}
	}
	twoAgg, _ := two.Aggregate()
	tests := map[string]secagg.DecryptRequest{
		"fewer than MinClients": mutate(func(r *secagg.DecryptRequest) {
			r.Contributions, r.Aggregate = r.Contributions[:2], twoAgg
		}),
		"aggregate is one site's ciphertext": mutate(func(r *secagg.DecryptRequest) {
			r.Aggregate = contribs[0].Ciphertexts
		}),
		"duplicated contributor": mutate(func(r *secagg.DecryptRequest) {
			r.Contributions = []secagg.Contribution{contribs[0], contribs[0], contribs[1]}
		}),
		"forged contribution": mutate(func(r *secagg.DecryptRequest) {
			f := clone(r.Contributions[4])
			f.Ciphertexts[0][100] ^= 4
			r.Contributions[4] = f
		}),
		"active set too small":  mutate(func(r *secagg.DecryptRequest) { r.Active = []int{0, 1} }),
		"active set unsorted":   mutate(func(r *secagg.DecryptRequest) { r.Active = []int{1, 0, 2} }),
		"wrong run":             mutate(func(r *secagg.DecryptRequest) { r.RunID = "other" }),
		"contribution of round": mutate(func(r *secagg.DecryptRequest) { r.Round = 2 }),
	}
	for name, req := range tests {
		_, err := c.Parties[0].DecryptShare(req)
		var ref *secagg.RefusalError
		if !errors.Is(err, secagg.ErrRefused) || !errors.As(err, &ref) {
			t.Errorf("%s: DecryptShare = %v, want a RefusalError", name, err)
		}
	}
	// A site outside the active set refuses.
	if _, err := c.Parties[4].DecryptShare(full); !errors.Is(err, secagg.ErrRefused) {
		t.Errorf("non-active site: %v, want refusal", err)
	}
	// The honest request is answered, and answered identically when repeated
	// (no fresh smudging noise on the same ciphertext).
	s1, err := c.Parties[0].DecryptShare(full)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := c.Parties[0].DecryptShare(full)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s1.Shares[0], s2.Shares[0]) {
		t.Error("repeated request produced a fresh share")
	}
	// After decrypting the full sum, a different aggregate of the same round
	// (here: all but site-4, which would reveal site-4's input by difference)
	// is refused even though it is honestly formed.
	four, _ := hub.NewAccumulator(params, c.Epoch, 1, dim)
	for i := range 4 {
		if err := four.Add(contribs[i].From, contribs[i], c.Epoch.Members[i].Public); err != nil {
			t.Fatal(err)
		}
	}
	req4, err := four.DecryptRequest([]int{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parties[0].DecryptShare(req4); !errors.Is(err, secagg.ErrRefused) {
		t.Errorf("second aggregate in one round: %v, want refusal", err)
	}
	if _, err := c.Parties[1].DecryptShare(req4); err != nil {
		t.Errorf("a site that has not decrypted this round yet should accept: %v", err)
	}
}

func TestCombineRejectsForeignShares(t *testing.T) {
	params := testParams(t, secagg.CKKS)
	c := secaggtest.NewCluster(t, params, 4, 2, 2)
	_, acc := sealRound(t, c, 3, 8)
	req, _ := acc.DecryptRequest([]int{1, 3})
	s1, err := c.Parties[1].DecryptShare(req)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := c.Parties[3].DecryptShare(req)
	if err != nil {
		t.Fatal(err)
	}
	bad := s3
	bad.Shares = [][]byte{bytes.Clone(s3.Shares[0])}
	bad.Shares[0][50] ^= 1
	other := req
	other.Active = []int{0, 1}
	cases := map[string]struct {
		req    secagg.DecryptRequest
		shares []secagg.DecryptionShare
		want   error
	}{
		"one share":            {req, []secagg.DecryptionShare{s1}, secagg.ErrNotEnoughShares},
		"duplicate share":      {req, []secagg.DecryptionShare{s1, s1}, secagg.ErrReplay},
		"tampered share":       {req, []secagg.DecryptionShare{s1, bad}, secagg.ErrBadSignature},
		"shares for other set": {other, []secagg.DecryptionShare{s1, s3}, secagg.ErrBinding},
	}
	for name, tc := range cases {
		if _, err := hub.Combine(params, c.Epoch, tc.req, tc.shares); !errors.Is(err, tc.want) {
			t.Errorf("%s: Combine = %v, want %v", name, err, tc.want)
		}
	}
	if _, err := hub.Combine(params, c.Epoch, req, []secagg.DecryptionShare{s3, s1}); err != nil {
		t.Errorf("shares in any order: %v", err)
	}
}

func TestCeremonyRejects(t *testing.T) {
	params := testParams(t, secagg.CKKS)
	c := secaggtest.NewCluster(t, params, 3, 2, 2)
	// A public key the hub substituted (here: another epoch's key) is refused.
	c2 := secaggtest.NewCluster(t, params, 3, 2, 2)
	forged := c.PublicKey
	forged.Key = c2.PublicKey.Key
	if err := c.Parties[0].AcceptPublicKey(forged, c.PublicKeyShares); !errors.Is(err, secagg.ErrBinding) {
		t.Errorf("substituted public key: %v, want ErrBinding", err)
	}
	if _, err := hub.AggregatePublicKey(params, c.Epoch, c.PublicKeyShares[:2]); err == nil {
		t.Error("AggregatePublicKey with a missing share succeeded")
	}
	pk, err := hub.AggregatePublicKey(params, c.Epoch, c.PublicKeyShares)
	if err != nil || !bytes.Equal(pk.Key, c.PublicKey.Key) {
		t.Errorf("hub and sites disagree on the public key: %v", err)
	}
	// Relay routing checks.
	relay, err := hub.NewRelay(c.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	env := secagg.Envelope{RunID: c.Epoch.RunID, Epoch: c.Epoch.Epoch, From: "site-0", To: "site-1", Ciphertext: []byte{1}}
	if err := relay.Post(env); err != nil {
		t.Fatal(err)
	}
	if err := relay.Post(env); !errors.Is(err, secagg.ErrReplay) {
		t.Errorf("duplicate envelope: %v", err)
	}
	self := env
	self.To = "site-0"
	if err := relay.Post(self); !errors.Is(err, secagg.ErrBinding) {
		t.Errorf("self-addressed envelope: %v", err)
	}
	if relay.Complete() || len(relay.Inbox("site-1")) != 1 {
		t.Error("relay bookkeeping wrong")
	}
}

func TestAccumulatorConcurrentAdd(t *testing.T) {
	params := testParams(t, secagg.CKKS)
	c := secaggtest.NewCluster(t, params, 5, 3, 5)
	const dim = 32
	vecs := secaggtest.RandomVectors(9, 5, dim, 1)
	acc, err := hub.NewAccumulator(params, c.Epoch, 4, dim)
	if err != nil {
		t.Fatal(err)
	}
	cs := make([]secagg.Contribution, 5)
	for i, p := range c.Parties {
		if cs[i], err = p.Seal(vecs[i], 4); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 10)
	for i := range 10 { // every contribution twice: exactly one copy must win
		go func() { errs <- acc.Add(cs[i%5].From, cs[i%5], c.Epoch.Members[i%5].Public) }()
	}
	replays := 0
	for range 10 {
		if err := <-errs; errors.Is(err, secagg.ErrReplay) {
			replays++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if replays != 5 || acc.Len() != 5 {
		t.Fatalf("replays = %d, Len = %d; want 5, 5", replays, acc.Len())
	}
	req, _ := acc.DecryptRequest([]int{1, 2, 3})
	var shares []secagg.DecryptionShare
	for _, a := range req.Active {
		s, err := c.Parties[a].DecryptShare(req)
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, s)
	}
	got, err := hub.Combine(params, c.Epoch, req, shares)
	if err != nil {
		t.Fatal(err)
	}
	want := secaggtest.PlainSum(vecs)
	for i := range want {
		if math.Abs(got[i]-want[i]) > params.ErrorBound(5, 3) {
			t.Fatalf("coordinate %d: got %g want %g", i, got[i], want[i])
		}
	}
}
