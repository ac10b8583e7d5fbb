package client

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/cohortfl/cohort/internal/secwire"
	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/registry"
)

// ErrCosignRefused reports a co-sign request the site would not sign.
var ErrCosignRefused = errors.New("client: refused to co-sign the model version")

// cosign checks a publication's model card against what this site knows —
// the parameters it downloads hash to the card's params_sha256, the site is
// listed, the gate passed, and the version hash is the card's — and signs
// the version hash with the site's certificate key (registry.CoSign).
func (x *Executor) cosign(t Task, params func() ([]float64, error), blob func() ([]byte, error)) (Result, error) {
	creds := x.sec.creds
	if creds.Signer == nil || len(creds.Certificate) == 0 {
		return Result{}, fmt.Errorf("%w: this site has no certificate key (insecure mode)", ErrCosignRefused)
	}
	in, err := blob()
	if err != nil {
		return Result{}, err
	}
	m, err := secwire.Unmarshal(in)
	if err != nil {
		return Result{}, err
	}
	req := m.GetCosignRequest()
	if req == nil {
		return Result{}, errors.New("client: the co-sign task carries no co-sign request")
	}
	card, err := registry.ParseCard(req.CardJson)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrCosignRefused, err)
	}
	p, err := params()
	if err != nil {
		return Result{}, err
	}
	refuse := func(format string, a ...any) (Result, error) {
		err := fmt.Errorf("%w %s %s: %s", ErrCosignRefused, card.Name, card.Version, fmt.Sprintf(format, a...))
		x.logger().Warn("refused to co-sign", "site", x.name, "run", t.RunID, "err", err)
		return Result{}, err
	}
	if card.RunID != t.RunID {
		return refuse("the card is for run %q, the task for run %q", card.RunID, t.RunID)
	}
	if c := t.Config; card.Model.Architecture != c.Model || card.Model.Features != c.Features || card.Model.Classes != c.Classes ||
		!slices.Equal(card.Model.Hidden, c.Hidden) {
		return refuse("the card describes %s (%d features, %d classes, hidden %v), the run trains %s (%d features, %d classes, hidden %v)",
			card.Model.Architecture, card.Model.Features, card.Model.Classes, card.Model.Hidden, c.Model, c.Features, c.Classes, c.Hidden)
	}
	if err := card.CheckParams(p); err != nil {
		return refuse("the card does not describe the model this site downloaded: %v", err)
	}
	if !slices.ContainsFunc(card.Sites, func(s registry.Site) bool { return s.Name == x.name }) {
		return refuse("site %q is not listed among the card's sites", x.name)
	}
	if card.FairnessGate == nil || !card.FairnessGate.Passed {
		return refuse("the card does not record a passed publish gate")
	}
	vh, err := card.VersionHash()
	if err != nil {
		return Result{}, err
	}
	if !bytes.Equal(vh[:], req.VersionHash) {
		return refuse("the version hash %x is not the card's %x", req.VersionHash, vh)
	}
	sig, err := registry.CoSign(creds.Signer, vh[:])
	if err != nil {
		return Result{}, err
	}
	out, err := secwire.Marshal(&cohortv1.SecAggMessage{Msg: &cohortv1.SecAggMessage_Cosignature{
		Cosignature: &cohortv1.CoSignature{VersionHash: vh[:], Signature: sig, Certificate: creds.Certificate}}})
	if err != nil {
		return Result{}, err
	}
	x.logger().Info("co-signed the model version", "site", x.name, "model", card.Name, "version", card.Version.String(), "run", t.RunID)
	return Result{Sealed: out}, nil
}

func (x *Executor) logger() *slog.Logger {
	if x.Logger != nil {
		return x.Logger
	}
	return slog.Default()
}
