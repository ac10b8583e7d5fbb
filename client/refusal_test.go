package client_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cohortfl/cohort/client"
	"github.com/cohortfl/cohort/internal/pki"
	"github.com/cohortfl/cohort/internal/protocol"
	"github.com/cohortfl/cohort/internal/secwire"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/secagg"
	"github.com/cohortfl/cohort/secagg/hub"
)

func creds(t *testing.T, ca *pki.CA, roots *x509.CertPool, name string) client.Credentials {
	certPEM, keyPEM, err := ca.Issue(name, pki.Client, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return client.Credentials{Signer: k.(crypto.Signer), Certificate: cb.Bytes, Roots: roots}
}

func mustMarshal(t *testing.T, m *cohortv1.SecAggMessage) []byte {
	b, err := secwire.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSiteRefusesToDecryptASingleContribution plays a curious coordinator: it
// runs a real key ceremony with three sites' Executors, then asks a site to
// decrypt one site's own ciphertext as if it were an aggregate. The site
// refuses (secagg.ErrRefused) and logs the refusal; a genuine sum of two
// contributions is decrypted.
func TestSiteRefusesToDecryptASingleContribution(t *testing.T) {
	ctx := context.Background()
	ca, err := pki.NewCA("ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	var logs bytes.Buffer
	names := []string{"a", "b", "c"}
	execs := map[string]*client.Executor{}
	for _, n := range names {
		tr, err := client.NewModelTrainer(exampleData(50, 1), exampleData(10, 2))
		if err != nil {
			t.Fatal(err)
		}
		execs[n] = client.NewExecutor(n, tr, creds(t, ca, roots, n))
		execs[n].Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}
	const run = "curious"
	cfg := protocol.TaskConfig{Model: "logreg", Classes: 2, Features: 1, Epochs: 1, BatchSize: 8, LearningRate: 0.1,
		Optimizer: "sgd", Secure: true, SecAggEpoch: 1}
	exec := func(n string, kind cohortv1.TaskKind, blob []byte, round uint64) *cohortv1.SecAggMessage {
		t.Helper()
		c := cfg
		c.SecAggRound = round
		res, err := execs[n].Execute(ctx, client.Task{RunID: run, Round: int(round), Kind: kind, Config: c},
			func() ([]float64, error) { return []float64{0, 0}, nil },
			func() ([]byte, error) { return blob, nil })
		if err != nil {
			t.Fatalf("%s %v: %v", n, kind, err)
		}
		m, err := secwire.Unmarshal(res.Sealed)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	// Key ceremony, driven as the coordinator drives it.
	lit := secagg.DefaultCKKS()
	lit.Encoding = secagg.Encoding{MaxParties: 3, ClipBound: 1 << 20}
	params, err := secagg.NewParams(lit)
	if err != nil {
		t.Fatal(err)
	}
	pj, _ := json.Marshal(secwire.Params{Literal: params.Literal()})
	roster := &cohortv1.SecAggRoster{RunId: run, Epoch: 1, Threshold: 2, MinClients: 2, ParamsJson: string(pj)}
	e := secagg.Epoch{RunID: run, Epoch: 1, Threshold: 2, MinClients: 2}
	for _, n := range names {
		id := exec(n, cohortv1.TaskKind_TASK_KIND_KEYGEN_REGISTER, nil, 0).GetIdentity()
		roster.Members = append(roster.Members, &cohortv1.SecAggMember{Id: n, Identity: id})
		e.Members = append(e.Members, secagg.Member{ID: n, Public: secagg.PublicIdentity{KEM: id.KemPublic, Verify: id.VerifyPublic}})
	}
	rblob := mustMarshal(t, &cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_Roster{Roster: roster}})
	relay, err := hub.NewRelay(e)
	if err != nil {
		t.Fatal(err)
	}
	var pkShares []secagg.PublicKeyShare
	for _, n := range names {
		sh := exec(n, cohortv1.TaskKind_TASK_KIND_KEYGEN_SHARES, rblob, 0).GetShares()
		pkShares = append(pkShares, secwire.PublicKeyShareFromProto(sh.PublicKeyShare))
		for _, env := range sh.Envelopes {
			if err := relay.Post(secwire.EnvelopeFromProto(env)); err != nil {
				t.Fatal(err)
			}
		}
	}
	pk, err := hub.AggregatePublicKey(params, e, pkShares)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		fin := &cohortv1.SecAggFinishMsg{PublicKey: pk.Key}
		for _, s := range pkShares {
			fin.PublicKeyShares = append(fin.PublicKeyShares, secwire.PublicKeyShareToProto(s))
		}
		for _, env := range relay.Inbox(n) {
			fin.Envelopes = append(fin.Envelopes, secwire.EnvelopeToProto(env))
		}
		ack := exec(n, cohortv1.TaskKind_TASK_KIND_KEYGEN_FINISH, mustMarshal(t, &cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_Finish{Finish: fin}}), 0).GetAck()
		if !ack.GetThresholdReady() {
			t.Fatalf("site %s not ready after the ceremony", n)
		}
	}

	// Round 1: a and b contribute; the curious coordinator asks b to decrypt
	// a's ciphertext alone.
	contrib := func(n string, round uint64) secagg.Contribution {
		c, err := secwire.ContributionFromProto(exec(n, cohortv1.TaskKind_TASK_KIND_FIT, nil, round).GetContribution())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca1 := contrib("a", 1)
	forged := secagg.DecryptRequest{RunID: run, Epoch: 1, Round: 1, Dim: ca1.Dim, Active: []int{1, 2},
		Aggregate: ca1.Ciphertexts, Contributions: []secagg.Contribution{ca1}}
	blob := mustMarshal(t, &cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_DecryptRequest{DecryptRequest: secwire.DecryptRequestToProto(forged)}})
	c := cfg
	c.SecAggRound = 1
	_, err = execs["b"].Execute(ctx, client.Task{RunID: run, Round: 1, Kind: cohortv1.TaskKind_TASK_KIND_DECRYPT, Config: c}, nil,
		func() ([]byte, error) { return blob, nil })
	if !errors.Is(err, secagg.ErrRefused) {
		t.Fatalf("decrypting a single contribution: err = %v, want ErrRefused", err)
	}
	if !strings.Contains(logs.String(), "refused to help decrypt") || !strings.Contains(logs.String(), "site=b") {
		t.Fatalf("refusal not logged; log:\n%s", logs.String())
	}

	// Round 2: a genuine sum of two contributions decrypts.
	acc, err := hub.NewAccumulator(params, e, 2, ca1.Dim)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []string{"a", "c"} {
		if err := acc.Add(n, contrib(n, 2), e.Members[[]int{0, 2}[i]].Public); err != nil {
			t.Fatal(err)
		}
	}
	req, err := acc.DecryptRequest([]int{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	blob = mustMarshal(t, &cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_DecryptRequest{DecryptRequest: secwire.DecryptRequestToProto(req)}})
	c.SecAggRound = 2
	var shares []secagg.DecryptionShare
	for _, n := range []string{"b", "c"} {
		res, err := execs[n].Execute(ctx, client.Task{RunID: run, Round: 2, Kind: cohortv1.TaskKind_TASK_KIND_DECRYPT, Config: c}, nil,
			func() ([]byte, error) { return blob, nil })
		if err != nil {
			t.Fatalf("%s refused a genuine sum: %v", n, err)
		}
		m, _ := secwire.Unmarshal(res.Sealed)
		d, err := secwire.DecryptionShareFromProto(m.GetDecryptionShare())
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, d)
	}
	sum, err := hub.Combine(params, e, req, shares)
	if err != nil {
		t.Fatal(err)
	}
	// The last-but-one coordinate is Σ n_k: both sites trained on 50 rows.
	if got := sum[len(sum)-2]; got < 100-1e-6 || got > 100+1e-6 {
		t.Fatalf("decrypted example count = %v, want 100", got)
	}
}
