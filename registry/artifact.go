package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// ArtifactFormat is the "format" of every artifact file this package writes
// and the only one it reads.
const ArtifactFormat = "cohort.model-artifact/v1"

// DetachedFormat is the "format" of an artifact stored without its
// parameters (MarshalDetached), which a registry keeps next to the model
// version it signs. Verify and ParseArtifact refuse it; AttachParams turns
// it back into the artifact file.
const DetachedFormat = "cohort.model-artifact-detached/v1"

// DefaultFileName is the conventional name of an exported artifact.
const DefaultFileName = "model.cohort.json"

// artifactJSON is the artifact file. Field order is the file's key order.
type artifactJSON struct {
	Format       string          `json:"format"`
	VersionHash  string          `json:"version_hash"`
	Card         json.RawMessage `json:"card"`
	Coordinator  coordinatorJSON `json:"coordinator"`
	CoSignatures []coSigJSON     `json:"cosignatures"`
	Params       []byte          `json:"params,omitempty"` // absent only in DetachedFormat
}

type coordinatorJSON struct {
	Suite            string `json:"suite"`
	Ed25519PublicKey []byte `json:"ed25519_public_key"`
	Ed25519Signature []byte `json:"ed25519_signature"`
	MLDSA65PublicKey []byte `json:"ml_dsa_65_public_key,omitempty"`
	MLDSA65Signature []byte `json:"ml_dsa_65_signature,omitempty"`
}

type coSigJSON struct {
	Site        string `json:"site"`
	Certificate string `json:"certificate"` // PEM
	Signature   []byte `json:"signature"`
}

// encodeArtifact is the one encoder of artifact files: indented JSON and a
// final newline. Verify requires a file to be exactly what it produces for
// the file's own parsed contents.
func encodeArtifact(aj *artifactJSON) ([]byte, error) {
	b, err := json.MarshalIndent(aj, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// decodeArtifact parses an artifact file strictly and checks its format.
func decodeArtifact(data []byte) (*artifactJSON, error) {
	return decodeArtifactAs(data, ArtifactFormat)
}

// decodeArtifactAs is decodeArtifact accepting any of formats.
func decodeArtifactAs(data []byte, formats ...string) (*artifactJSON, error) {
	var aj artifactJSON
	if err := decodeStrict(data, &aj); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedArtifact, err)
	}
	if !slices.Contains(formats, aj.Format) {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrMalformedArtifact, aj.Format, formats[0])
	}
	if len(aj.Card) == 0 || string(aj.Card) == "null" {
		return nil, fmt.Errorf("%w: no card", ErrMalformedArtifact)
	}
	return &aj, nil
}

// parseEmbeddedCard parses the card embedded in an artifact and returns it
// with its canonical form, and whether the embedded bytes (with the file's
// indentation removed) are exactly that canonical form.
func parseEmbeddedCard(raw json.RawMessage) (card *Card, canon []byte, canonical bool, err error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, nil, false, fmt.Errorf("%w: %w", ErrInvalidCard, err)
	}
	card, err = ParseCard(compact.Bytes())
	if err != nil {
		return nil, nil, false, err
	}
	canon, err = card.Canonical()
	if err != nil {
		return nil, nil, false, err
	}
	return card, canon, bytes.Equal(canon, compact.Bytes()), nil
}

// Artifact is a signed model version: the card, the parameters, the
// coordinator's signature and every site's co-signature. Seal makes one;
// ParseArtifact reads one back. An Artifact is immutable and safe for
// concurrent use; its accessors return copies.
type Artifact struct {
	cardJSON    []byte // canonical
	params      []byte // EncodeParams; nil when detached (SealDetached)
	versionHash [32]byte
	suite       string
	coord       PublicKey
	edSig       []byte
	mlSig       []byte
	cosigs      []CoSignature // in card site order when sealed
}

// Seal signs a model version and returns its artifact. card must be valid
// and bound to params (Card.SetParams); cosigs must hold exactly one
// co-signature per card site, each made with CoSign over card.VersionHash
// by the key of a certificate whose common name is the site. Seal checks
// each co-signature against its certificate but not the certificate chain
// (the coordinator may not hold the CA pool); call VerifyCoSignature when
// collecting them, or Verify on the result, for that. The artifact stores
// the co-signatures in the order of card.Sites.
func Seal(card *Card, params []float64, s *Signer, cosigs []CoSignature) (*Artifact, error) {
	return seal(card, params, s, cosigs, true)
}

func seal(card *Card, params []float64, s *Signer, cosigs []CoSignature, check bool) (*Artifact, error) {
	if err := card.CheckParams(params); err != nil {
		return nil, err
	}
	// CheckParams has established that params hash to card.ParamsSHA256,
	// which sealHash uses: they are not hashed a second time.
	return sealHash(card, EncodeParams(params), s, cosigs, check)
}

// SealDetached is Seal for a card already bound to its parameters
// (Card.SetParams) without the parameters themselves: the signatures are
// the same, over the card and its params hash. The artifact can only be
// marshalled detached (MarshalDetached); a registry stores that next to
// the model version and re-forms the artifact file with AttachParams. A
// publishing coordinator thus never holds a second copy of the model.
func SealDetached(card *Card, s *Signer, cosigs []CoSignature) (*Artifact, error) {
	if ph, err := hex.DecodeString(card.ParamsSHA256); err != nil || len(ph) != sha256.Size {
		return nil, fmt.Errorf("%w: params_sha256 %q is not a hex SHA-256 (call SetParams)", ErrInvalidCard, card.ParamsSHA256)
	}
	return sealHash(card, nil, s, cosigs, true)
}

// sealHash signs card with the params hash its ParamsSHA256 records; enc
// is the encoded parameters, or nil for a detached artifact.
func sealHash(card *Card, enc []byte, s *Signer, cosigs []CoSignature, check bool) (*Artifact, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: no signer", ErrInvalidKey)
	}
	canon, err := card.Canonical()
	if err != nil {
		return nil, err
	}
	a := &Artifact{cardJSON: canon, params: enc}
	a.versionHash = VersionHashOf(canon, card.paramsHash()) // card validated by Canonical
	if check {
		if err := checkCoSignatures(card, cosigs, a.versionHash); err != nil {
			return nil, err
		}
	}
	order := make(map[string]int, len(card.Sites))
	for i, site := range card.Sites {
		order[site.Name] = i
	}
	for _, cs := range cosigs {
		a.cosigs = append(a.cosigs, cloneCoSignature(cs))
	}
	slices.SortStableFunc(a.cosigs, func(x, y CoSignature) int { return order[x.Site] - order[y.Site] })
	a.suite, a.edSig, a.mlSig, err = s.sign(a.versionHash)
	if err != nil {
		return nil, err
	}
	a.coord = s.Public()
	return a, nil
}

// checkCoSignatures checks that cosigs are one valid signature per card
// site, without the certificate chain.
func checkCoSignatures(card *Card, cosigs []CoSignature, vh [32]byte) error {
	listed := make(map[string]bool, len(card.Sites))
	for _, s := range card.Sites {
		listed[s.Name] = true
	}
	seen := make(map[string]bool, len(cosigs))
	d := coSignDigest(vh[:])
	for _, cs := range cosigs {
		switch {
		case !listed[cs.Site]:
			return fmt.Errorf("%w: site %q is not listed in the card", ErrInvalidCoSignature, cs.Site)
		case seen[cs.Site]:
			return fmt.Errorf("%w: two co-signatures for site %q", ErrInvalidCoSignature, cs.Site)
		}
		seen[cs.Site] = true
		cert, err := parseCertificate(cs.Certificate)
		if err != nil {
			return fmt.Errorf("%w: site %q: %w", ErrInvalidCoSignature, cs.Site, err)
		}
		if cert.Subject.CommonName != cs.Site {
			return fmt.Errorf("%w: site %q presented the certificate of %q", ErrInvalidCoSignature, cs.Site, cert.Subject.CommonName)
		}
		if !verifyECDSA(cert.PublicKey, d[:], cs.Signature) {
			return fmt.Errorf("%w: site %q: signature does not verify", ErrInvalidCoSignature, cs.Site)
		}
	}
	for _, s := range card.Sites {
		if !seen[s.Name] {
			return fmt.Errorf("%w: no co-signature from site %q", ErrInvalidCoSignature, s.Name)
		}
	}
	return nil
}

func cloneCoSignature(cs CoSignature) CoSignature {
	return CoSignature{Site: cs.Site, Certificate: bytes.Clone(cs.Certificate), Signature: bytes.Clone(cs.Signature)}
}

// ParseArtifact reads an artifact file without verifying any signature or
// hash: for display (`cohort models show`) and for a registry's lineage
// only. It also reads a detached artifact (DetachedFormat), whose Params
// are then nil. It fails, wrapping ErrMalformedArtifact or ErrInvalidCard,
// if the file is not an artifact or its card or keys do not parse. Use
// Verify before trusting anything in it.
func ParseArtifact(data []byte) (*Artifact, error) {
	aj, err := decodeArtifactAs(data, ArtifactFormat, DetachedFormat)
	if err != nil {
		return nil, err
	}
	card, canon, _, err := parseEmbeddedCard(aj.Card)
	if err != nil {
		return nil, err
	}
	var ph [32]byte
	if aj.Format == DetachedFormat {
		if aj.Params != nil {
			return nil, fmt.Errorf("%w: detached artifact with params_sha256 %q and %d bytes of params", ErrMalformedArtifact, card.ParamsSHA256, len(aj.Params))
		}
		ph = card.paramsHash() // card validated by ParseCard
	} else {
		if !paramsLenMatches(aj.Params, card.Model.NumParams) {
			return nil, fmt.Errorf("%w: %d bytes of params for num_params %d", ErrMalformedArtifact, len(aj.Params), card.Model.NumParams)
		}
		ph = sha256.Sum256(aj.Params)
	}
	c := aj.Coordinator
	pk, err := newPublicKey(c.Ed25519PublicKey, c.MLDSA65PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: coordinator key: %w", ErrMalformedArtifact, err)
	}
	a := &Artifact{
		cardJSON: canon,
		params:   aj.Params,
		suite:    c.Suite,
		coord:    pk,
		edSig:    c.Ed25519Signature,
		mlSig:    c.MLDSA65Signature,
	}
	a.versionHash = VersionHashOf(canon, ph)
	for _, cs := range aj.CoSignatures {
		a.cosigs = append(a.cosigs, CoSignature{Site: cs.Site, Certificate: []byte(cs.Certificate), Signature: cs.Signature})
	}
	return a, nil
}

// LoadArtifact reads and parses an artifact file (see ParseArtifact).
func LoadArtifact(path string) (*Artifact, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry: load artifact: %w", err)
	}
	a, err := ParseArtifact(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// Card returns a copy of the card.
func (a *Artifact) Card() *Card {
	c, err := ParseCard(a.cardJSON)
	if err != nil {
		panic("registry: artifact holds a card that does not parse: " + err.Error())
	}
	return c
}

// CardJSON returns a copy of the canonical card bytes.
func (a *Artifact) CardJSON() []byte { return bytes.Clone(a.cardJSON) }

// Params returns a copy of the parameter vector (nil if the artifact is
// detached).
func (a *Artifact) Params() []float64 {
	if a.params == nil {
		return nil // detached
	}
	p, _ := DecodeParams(a.params) // length checked when a was made
	return p
}

// VersionHash returns the version hash, computed from the card and the
// parameters (not read from the file).
func (a *Artifact) VersionHash() [32]byte { return a.versionHash }

// Coordinator returns the coordinator public key the artifact carries.
func (a *Artifact) Coordinator() PublicKey { return a.coord }

// Suite returns the coordinator signature suite, SuiteEd25519 or
// SuiteHybrid (or whatever an unverified file claims).
func (a *Artifact) Suite() string { return a.suite }

// CoSignatures returns a copy of the site co-signatures.
func (a *Artifact) CoSignatures() []CoSignature {
	out := make([]CoSignature, len(a.cosigs))
	for i, cs := range a.cosigs {
		out[i] = cloneCoSignature(cs)
	}
	return out
}

// Marshal returns the artifact file (see doc.go for the format). A
// detached artifact (SealDetached) has no parameters to write: use
// MarshalDetached, then AttachParams.
func (a *Artifact) Marshal() ([]byte, error) {
	if a.params == nil {
		return nil, fmt.Errorf("%w: the artifact is detached from its parameters (MarshalDetached, AttachParams)", ErrMalformedArtifact)
	}
	return marshalArtifact(a.fileJSON(ArtifactFormat, a.params))
}

// MarshalDetached returns the artifact file without its parameters, in
// DetachedFormat (see SealDetached).
func (a *Artifact) MarshalDetached() ([]byte, error) {
	return marshalArtifact(a.fileJSON(DetachedFormat, nil))
}

func marshalArtifact(aj *artifactJSON) ([]byte, error) {
	b, err := encodeArtifact(aj)
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %w", ErrMalformedArtifact, err)
	}
	return b, nil
}

func (a *Artifact) fileJSON(format string, params []byte) *artifactJSON {
	aj := &artifactJSON{
		Format:      format,
		VersionHash: hex.EncodeToString(a.versionHash[:]),
		Card:        a.cardJSON,
		Coordinator: coordinatorJSON{
			Suite:            a.suite,
			Ed25519PublicKey: a.coord.ed,
			Ed25519Signature: a.edSig,
			MLDSA65Signature: a.mlSig,
		},
		CoSignatures: make([]coSigJSON, len(a.cosigs)),
		Params:       params,
	}
	if a.coord.ml != nil {
		aj.Coordinator.MLDSA65PublicKey = a.coord.ml.Bytes()
	}
	for i, cs := range a.cosigs {
		aj.CoSignatures[i] = coSigJSON{Site: cs.Site, Certificate: string(cs.Certificate), Signature: cs.Signature}
	}
	return aj
}

// AttachParams turns a detached artifact (MarshalDetached) back into the
// artifact file, byte for byte what Marshal writes for the same
// signatures. It fails, wrapping ErrMalformedArtifact or ErrInvalidCard,
// if detached is not a detached artifact or params are not the ones its
// card is bound to. It checks no signature: Verify the result.
func AttachParams(detached []byte, params []float64) ([]byte, error) {
	aj, err := decodeArtifactAs(detached, DetachedFormat)
	if err != nil {
		return nil, err
	}
	if aj.Params != nil {
		return nil, fmt.Errorf("%w: a detached artifact with %d bytes of params", ErrMalformedArtifact, len(aj.Params))
	}
	card, _, _, err := parseEmbeddedCard(aj.Card)
	if err != nil {
		return nil, err
	}
	if err := card.CheckParams(params); err != nil {
		return nil, err
	}
	aj.Format, aj.Params = ArtifactFormat, EncodeParams(params)
	return marshalArtifact(aj)
}

// WriteFile writes the artifact file to path with mode 0644. It never
// overwrites: an existing path with other contents is ErrExists.
func (a *Artifact) WriteFile(path string) error {
	b, err := a.Marshal()
	if err != nil {
		return err
	}
	if err := writeNew(path, b, 0o644); err != nil {
		return fmt.Errorf("registry: write artifact: %w", err)
	}
	return nil
}
