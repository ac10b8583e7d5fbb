package registry

import (
	"bytes"
	"errors"
	"testing"
)

// TestDetachedArtifact: an artifact sealed without its parameters and
// re-formed with AttachParams is byte for byte the one Seal writes
// (Ed25519 signatures are deterministic), and with the hybrid suite it
// verifies. The detached file itself is refused by Verify, and the wrong
// parameters are refused by AttachParams.
func TestDetachedArtifact(t *testing.T) {
	for _, hybrid := range []bool{false, true} {
		p := publish(t, hybrid)
		cosigs := p.fed.cosign(t, &p.card, threeSites...)
		d, err := SealDetached(&p.card, p.signer, cosigs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Marshal(); !errors.Is(err, ErrMalformedArtifact) {
			t.Errorf("Marshal of a detached artifact: %v, want ErrMalformedArtifact", err)
		}
		if d.Params() != nil {
			t.Errorf("a detached artifact has params")
		}
		full, err := Seal(&p.card, p.params, p.signer, cosigs) // the same (randomised ECDSA) co-signatures
		if err != nil {
			t.Fatal(err)
		}
		fullData, err := full.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if d.VersionHash() != full.VersionHash() {
			t.Fatalf("hybrid=%v: detached version hash %x, sealed %x", hybrid, d.VersionHash(), full.VersionHash())
		}
		det, err := d.MarshalDetached()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(det, []byte(`"params"`)) || !bytes.Contains(det, []byte(DetachedFormat)) {
			t.Errorf("detached file:\n%s", det)
		}
		pd, err := ParseArtifact(det) // for a registry's lineage
		if err != nil || pd.VersionHash() != full.VersionHash() || pd.Params() != nil || pd.Card().Version != p.card.Version {
			t.Errorf("ParseArtifact(detached): %v", err)
		}
		if rep, err := Verify(det, p.trust); err == nil && rep.Err() == nil {
			t.Error("Verify accepted a detached artifact")
		}
		back, err := AttachParams(det, p.params)
		if err != nil {
			t.Fatal(err)
		}
		if !hybrid && !bytes.Equal(back, fullData) {
			i := 0
			for i < min(len(back), len(fullData)) && back[i] == fullData[i] {
				i++
			}
			t.Errorf("re-attached artifact differs from the sealed one at byte %d: %q vs %q", i, back[max(0, i-40):min(len(back), i+40)], fullData[max(0, i-40):min(len(fullData), i+40)])
		}
		rep, err := Verify(back, p.trust)
		if err != nil || rep.Err() != nil {
			t.Errorf("hybrid=%v: re-attached artifact does not verify: %v %v", hybrid, err, rep.Err())
		}
		wrong := append([]float64(nil), p.params...)
		wrong[3] += 1e-12
		if _, err := AttachParams(det, wrong); !errors.Is(err, ErrInvalidCard) {
			t.Errorf("attaching other params: %v, want ErrInvalidCard", err)
		}
		if _, err := AttachParams(det, p.params[:len(p.params)-1]); !errors.Is(err, ErrInvalidCard) {
			t.Errorf("attaching fewer params: %v, want ErrInvalidCard", err)
		}
		if _, err := AttachParams(p.data, p.params); !errors.Is(err, ErrMalformedArtifact) {
			t.Errorf("attaching to a full artifact: %v, want ErrMalformedArtifact", err)
		}
	}
	bad := testCard(testParams(5), threeSites...)
	bad.ParamsSHA256 = "zz"
	signer, _ := GenerateSigner(nil, false)
	if _, err := SealDetached(&bad, signer, nil); !errors.Is(err, ErrInvalidCard) {
		t.Errorf("SealDetached with a bad params hash: %v, want ErrInvalidCard", err)
	}
}
