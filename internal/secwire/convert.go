package secwire

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	cohortv1 "github.com/cohortfl/cohort/proto/cohort/v1"
	"github.com/cohortfl/cohort/secagg"
)

// MaxMessageBytes bounds a SecAggMessage a peer may send (1 GiB).
const MaxMessageBytes = 1 << 30

// Marshal encodes a SecAggMessage.
func Marshal(m *cohortv1.SecAggMessage) ([]byte, error) { return proto.Marshal(m) }

// Unmarshal decodes a SecAggMessage, naming what was expected on error.
func Unmarshal(b []byte) (*cohortv1.SecAggMessage, error) {
	if len(b) > MaxMessageBytes {
		return nil, fmt.Errorf("secwire: message of %d bytes exceeds %d", len(b), MaxMessageBytes)
	}
	m := &cohortv1.SecAggMessage{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("secwire: malformed secure-aggregation message: %w", err)
	}
	return m, nil
}

// ContributionToProto converts a contribution for the wire.
func ContributionToProto(c secagg.Contribution) *cohortv1.SecAggContribution {
	return &cohortv1.SecAggContribution{RunId: c.RunID, Epoch: c.Epoch, Round: c.Round, From: c.From,
		Dim: int64(c.Dim), Nonce: c.Nonce, Ciphertexts: c.Ciphertexts, Signature: c.Signature}
}

// ContributionFromProto converts a received contribution.
func ContributionFromProto(p *cohortv1.SecAggContribution) (secagg.Contribution, error) {
	if p == nil {
		return secagg.Contribution{}, fmt.Errorf("secwire: missing contribution")
	}
	if p.Dim < 0 || p.Dim > 1<<31 {
		return secagg.Contribution{}, fmt.Errorf("secwire: contribution dimension %d out of range", p.Dim)
	}
	return secagg.Contribution{RunID: p.RunId, Epoch: p.Epoch, Round: p.Round, From: p.From, Dim: int(p.Dim),
		Nonce: p.Nonce, Ciphertexts: p.Ciphertexts, Signature: p.Signature}, nil
}

// PublicKeyShareToProto converts a public-key share.
func PublicKeyShareToProto(s secagg.PublicKeyShare) *cohortv1.SecAggPublicKeyShare {
	return &cohortv1.SecAggPublicKeyShare{RunId: s.RunID, Epoch: s.Epoch, From: s.From, Share: s.Share, Signature: s.Signature}
}

// PublicKeyShareFromProto converts a public-key share.
func PublicKeyShareFromProto(p *cohortv1.SecAggPublicKeyShare) secagg.PublicKeyShare {
	return secagg.PublicKeyShare{RunID: p.GetRunId(), Epoch: p.GetEpoch(), From: p.GetFrom(), Share: p.GetShare(), Signature: p.GetSignature()}
}

// EnvelopeToProto converts an envelope.
func EnvelopeToProto(e secagg.Envelope) *cohortv1.SecAggEnvelope {
	return &cohortv1.SecAggEnvelope{RunId: e.RunID, Epoch: e.Epoch, From: e.From, To: e.To, Ciphertext: e.Ciphertext}
}

// EnvelopeFromProto converts an envelope.
func EnvelopeFromProto(p *cohortv1.SecAggEnvelope) secagg.Envelope {
	return secagg.Envelope{RunID: p.GetRunId(), Epoch: p.GetEpoch(), From: p.GetFrom(), To: p.GetTo(), Ciphertext: p.GetCiphertext()}
}

// DecryptRequestToProto converts a decrypt request.
func DecryptRequestToProto(r secagg.DecryptRequest) *cohortv1.SecAggDecryptRequest {
	out := &cohortv1.SecAggDecryptRequest{RunId: r.RunID, Epoch: r.Epoch, Round: r.Round, Dim: int64(r.Dim), Aggregate: r.Aggregate}
	for _, a := range r.Active {
		out.Active = append(out.Active, int32(a))
	}
	for _, c := range r.Contributions {
		out.Contributions = append(out.Contributions, ContributionToProto(c))
	}
	return out
}

// DecryptRequestFromProto converts a decrypt request.
func DecryptRequestFromProto(p *cohortv1.SecAggDecryptRequest) (secagg.DecryptRequest, error) {
	if p == nil {
		return secagg.DecryptRequest{}, fmt.Errorf("secwire: missing decrypt request")
	}
	r := secagg.DecryptRequest{RunID: p.RunId, Epoch: p.Epoch, Round: p.Round, Dim: int(p.Dim), Aggregate: p.Aggregate}
	for _, a := range p.Active {
		r.Active = append(r.Active, int(a))
	}
	for i, c := range p.Contributions {
		sc, err := ContributionFromProto(c)
		if err != nil {
			return secagg.DecryptRequest{}, fmt.Errorf("secwire: contribution %d: %w", i, err)
		}
		r.Contributions = append(r.Contributions, sc)
	}
	return r, nil
}

// DecryptionShareToProto converts a decryption share.
func DecryptionShareToProto(d secagg.DecryptionShare) *cohortv1.SecAggDecryptionShare {
	return &cohortv1.SecAggDecryptionShare{RunId: d.RunID, Epoch: d.Epoch, Round: d.Round, From: d.From,
		AggregateDigest: d.Aggregate[:], Shares: d.Shares, Signature: d.Signature}
}

// DecryptionShareFromProto converts a decryption share.
func DecryptionShareFromProto(p *cohortv1.SecAggDecryptionShare) (secagg.DecryptionShare, error) {
	if p == nil {
		return secagg.DecryptionShare{}, fmt.Errorf("secwire: missing decryption share")
	}
	d := secagg.DecryptionShare{RunID: p.RunId, Epoch: p.Epoch, Round: p.Round, From: p.From, Shares: p.Shares, Signature: p.Signature}
	if len(p.AggregateDigest) != len(d.Aggregate) {
		return secagg.DecryptionShare{}, fmt.Errorf("secwire: aggregate digest has %d bytes, want %d", len(p.AggregateDigest), len(d.Aggregate))
	}
	copy(d.Aggregate[:], p.AggregateDigest)
	return d, nil
}

// Params are the secure-aggregation parameter literals of a key epoch, sent
// to sites in the roster as JSON.
type Params struct {
	Literal secagg.ParametersLiteral `json:"literal"`
}
