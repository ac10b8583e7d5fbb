package registry

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// CardSchema is the schema_version of every card this package writes and the
// only one it accepts.
const CardSchema = "cohort.model-card/v1"

// maxSiteName is the X.509 upper bound for a common name: a site's name in a
// card must be its certificate's common name.
const maxSiteName = 64

// Card is the model card of one published model version: what the model is,
// how and by whom it was trained, how it performed, and what privacy and
// fairness guarantees it came with. Its JSON field names are part of the
// artifact format and never change within CardSchema.
//
// Every floating-point value is a Float (NaN is JSON null). Optional
// sections are pointers, absent from the JSON when nil.
//
// The canonical form of a card (Canonical) is what gets hashed and signed.
// A Card is a plain value: not safe for concurrent mutation, and the
// functions of this package never modify the card they are given.
type Card struct {
	SchemaVersion     string          `json:"schema_version"`                // CardSchema
	Name              string          `json:"name"`                          // the model line, e.g. "credit-risk"
	Version           Version         `json:"version"`                       // see Next
	ParentVersion     *Version        `json:"parent_version,omitempty"`      // lineage; nil for the first version
	ParentVersionHash string          `json:"parent_version_hash,omitempty"` // hex version hash of the parent artifact
	RunID             string          `json:"run_id"`
	Round             int             `json:"round"` // the round whose global model this is
	CreatedAt         time.Time       `json:"created_at"`
	Model             ModelInfo       `json:"model"`
	ParamsSHA256      string          `json:"params_sha256"`      // lowercase hex SHA-256 of EncodeParams(params)
	Data              DataInfo        `json:"data"`               //
	Training          json.RawMessage `json:"training,omitempty"` // the run's training configuration, verbatim JSON
	Sites             []Site          `json:"sites"`              // every site that trained it; each must co-sign
	Metrics           Metrics         `json:"metrics"`
	Privacy           *Privacy        `json:"privacy,omitempty"`
	FairnessGate      *FairnessGate   `json:"fairness_gate,omitempty"`
	Explanations      *Explanations   `json:"explanations,omitempty"`
	AuditHead         *AuditHead      `json:"audit_head,omitempty"`
}

// ModelInfo describes the architecture, as in model.Spec.
type ModelInfo struct {
	Architecture string   `json:"architecture"`         // "logreg", "softmax", "mlp"
	Activation   string   `json:"activation,omitempty"` // MLP hidden activation
	Features     int      `json:"features"`
	Classes      int      `json:"classes"`
	Hidden       []int    `json:"hidden,omitempty"`
	NumParams    int      `json:"num_params"`
	FeatureNames []string `json:"feature_names,omitempty"` // empty, or one per feature in input order
}

// DataInfo describes the training data as the federation agreed on it.
type DataInfo struct {
	SchemaHash          string   `json:"schema_hash"`        // hash of the agreed dataset schema
	Label               string   `json:"label"`              // label column
	Positive            string   `json:"positive,omitempty"` // favourable / positive label value
	ProtectedAttributes []string `json:"protected_attributes,omitempty"`
}

// Site is one participant: its name (the common name of its certificate) and
// how many training examples it contributed.
type Site struct {
	Name     string `json:"name"`
	Examples int64  `json:"examples"`
}

// Metrics are evaluation results: overall, and per protected group (group
// name → metric name → value).
type Metrics struct {
	Overall  map[string]Float            `json:"overall"`
	PerGroup map[string]map[string]Float `json:"per_group,omitempty"`
}

// Privacy summarises the differential-privacy guarantee of the run.
type Privacy struct {
	Epsilon       Float  `json:"epsilon"`              // spent, at Delta
	Delta         Float  `json:"delta"`                //
	Mechanism     string `json:"mechanism"`            // e.g. "subsampled_gaussian"
	Accountant    string `json:"accountant,omitempty"` // e.g. "rdp"
	LedgerEntries int    `json:"ledger_entries"`       // released entries in the privacy ledger for the run
}

// FairnessGate records the outcome of the publication gate. Checks is the
// gate's own JSON report, embedded verbatim (compacted), so the registry does
// not depend on the gate's types.
type FairnessGate struct {
	Passed bool            `json:"passed"`
	Checks json.RawMessage `json:"checks,omitempty"`
}

// Explanations holds global feature importance: the top features by mean
// |SHAP| overall and per protected group.
type Explanations struct {
	Method   string                         `json:"method"` // e.g. "linear_shap", "kernel_shap"
	Top      []FeatureImportance            `json:"top"`
	PerGroup map[string][]FeatureImportance `json:"per_group,omitempty"`
}

// FeatureImportance is one feature's mean |SHAP| and mean signed SHAP value.
type FeatureImportance struct {
	Feature     string `json:"feature"`
	MeanAbsSHAP Float  `json:"mean_abs_shap"`
	MeanSHAP    Float  `json:"mean_shap"`
}

// AuditHead pins the coordinator's audit log at publication time: the
// sequence number and hex hash of its last entry.
type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// Validate checks that c can be published: schema version, name, a non-zero
// version above its parent, run, time, architecture, parameter hash, at
// least one uniquely named site, and well-formed optional sections. It does
// not look at metric values: NaN and infinities are legitimate there.
func (c *Card) Validate() error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCard, err)
	}
	return nil
}

func (c *Card) validate() error {
	if c.SchemaVersion != CardSchema {
		return fmt.Errorf("schema_version %q, want %q", c.SchemaVersion, CardSchema)
	}
	if err := checkText("name", c.Name); err != nil {
		return err
	}
	if err := c.Version.validate(); err != nil {
		return fmt.Errorf("version: %w", err)
	}
	if c.Version.IsZero() {
		return errors.New("version 0.0.0 is not a published version")
	}
	if c.ParentVersion != nil {
		if err := c.ParentVersion.validate(); err != nil {
			return fmt.Errorf("parent_version: %w", err)
		}
		if c.ParentVersion.Compare(c.Version) >= 0 {
			return fmt.Errorf("parent_version %s is not below version %s", c.ParentVersion, c.Version)
		}
	}
	if c.ParentVersionHash != "" {
		if c.ParentVersion == nil {
			return errors.New("parent_version_hash without parent_version")
		}
		if !isHexHash(c.ParentVersionHash) {
			return fmt.Errorf("parent_version_hash %q is not 64 lowercase hex digits", c.ParentVersionHash)
		}
	}
	if err := checkText("run_id", c.RunID); err != nil {
		return err
	}
	if c.Round < 0 {
		return fmt.Errorf("round %d is negative", c.Round)
	}
	if y := c.CreatedAt.UTC().Year(); c.CreatedAt.IsZero() || y < 1 || y > 9999 {
		return fmt.Errorf("created_at %v is unset or outside years 1-9999", c.CreatedAt)
	}
	if err := c.Model.validate(); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if !isHexHash(c.ParamsSHA256) {
		return fmt.Errorf("params_sha256 %q is not 64 lowercase hex digits", c.ParamsSHA256)
	}
	if len(c.Training) > 0 && !json.Valid(c.Training) {
		return errors.New("training is not valid JSON")
	}
	if len(c.Sites) == 0 {
		return errors.New("sites: a published model needs at least one site")
	}
	seen := make(map[string]bool, len(c.Sites))
	for i, s := range c.Sites {
		if err := checkText(fmt.Sprintf("sites[%d].name", i), s.Name); err != nil {
			return err
		}
		if len(s.Name) > maxSiteName {
			return fmt.Errorf("sites[%d].name %q is longer than %d bytes, the X.509 common name limit", i, s.Name, maxSiteName)
		}
		if seen[s.Name] {
			return fmt.Errorf("sites[%d].name %q is listed twice", i, s.Name)
		}
		seen[s.Name] = true
		if s.Examples < 0 {
			return fmt.Errorf("sites[%d].examples %d is negative", i, s.Examples)
		}
	}
	if p := c.Privacy; p != nil {
		if !(p.Epsilon >= 0) {
			return fmt.Errorf("privacy.epsilon %v is not >= 0", float64(p.Epsilon))
		}
		if !(p.Delta >= 0 && p.Delta < 1) {
			return fmt.Errorf("privacy.delta %v is not in [0, 1)", float64(p.Delta))
		}
		if err := checkText("privacy.mechanism", p.Mechanism); err != nil {
			return err
		}
		if p.LedgerEntries < 0 {
			return fmt.Errorf("privacy.ledger_entries %d is negative", p.LedgerEntries)
		}
	}
	if g := c.FairnessGate; g != nil && len(g.Checks) > 0 && !json.Valid(g.Checks) {
		return errors.New("fairness_gate.checks is not valid JSON")
	}
	if e := c.Explanations; e != nil {
		if err := checkText("explanations.method", e.Method); err != nil {
			return err
		}
	}
	if a := c.AuditHead; a != nil {
		if a.Seq < 0 {
			return fmt.Errorf("audit_head.seq %d is negative", a.Seq)
		}
		if !isHexHash(a.Hash) {
			return fmt.Errorf("audit_head.hash %q is not 64 lowercase hex digits", a.Hash)
		}
	}
	return nil
}

func (m *ModelInfo) validate() error {
	if err := checkText("architecture", m.Architecture); err != nil {
		return err
	}
	if m.Features <= 0 {
		return fmt.Errorf("features %d, want > 0", m.Features)
	}
	if m.Classes < 2 {
		return fmt.Errorf("classes %d, want >= 2", m.Classes)
	}
	for i, h := range m.Hidden {
		if h <= 0 {
			return fmt.Errorf("hidden[%d] = %d, want > 0", i, h)
		}
	}
	if m.NumParams <= 0 {
		return fmt.Errorf("num_params %d, want > 0", m.NumParams)
	}
	if len(m.FeatureNames) != 0 && len(m.FeatureNames) != m.Features {
		return fmt.Errorf("%d feature_names for %d features", len(m.FeatureNames), m.Features)
	}
	return nil
}

// checkText requires a non-empty, valid UTF-8 string without control
// characters: a name a person reads in a report.
func checkText(field, s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("%s is empty", field)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s %q is not valid UTF-8", field, s)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%s %q contains control characters", field, s)
	}
	return nil
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Canonical validates c and returns its canonical JSON: encoding/json's
// compact encoding of the Card struct (fields in declaration order, map keys
// sorted, HTML characters escaped, RawMessage sections compacted), with
// CreatedAt in UTC. Parsing the result and encoding it again gives the same
// bytes, which is what lets a verifier recompute it from the parsed card.
func (c *Card) Canonical() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cc := *c
	cc.CreatedAt = c.CreatedAt.UTC()
	b, err := json.Marshal(&cc)
	if err != nil {
		return nil, fmt.Errorf("%w: encode: %w", ErrInvalidCard, err)
	}
	// Guard the property verification relies on; it is cheap for a card.
	var back Card
	if err := decodeStrict(b, &back); err != nil {
		return nil, fmt.Errorf("%w: canonical form does not parse: %w", ErrInvalidCard, err)
	}
	again, err := json.Marshal(&back)
	if err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w: canonical form does not survive a JSON round trip", ErrInvalidCard)
	}
	return b, nil
}

// ParseCard parses a card's JSON strictly (unknown fields, trailing data and
// type mismatches are errors) and validates it. It accepts any formatting;
// Verify additionally requires the canonical one.
func ParseCard(data []byte) (*Card, error) {
	var c Card
	if err := decodeStrict(data, &c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCard, err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// VersionHash returns the card's version hash (see VersionHashOf), taking
// the params hash from ParamsSHA256. It is what every site co-signs.
func (c *Card) VersionHash() ([32]byte, error) {
	canon, err := c.Canonical()
	if err != nil {
		return [32]byte{}, err
	}
	return VersionHashOf(canon, c.paramsHash()), nil // validated by Canonical
}

// paramsHash returns ParamsSHA256 decoded. c must be valid (Validate,
// Canonical or ParseCard has succeeded), so that it is 64 hex digits.
func (c *Card) paramsHash() [32]byte {
	var ph [32]byte
	if n, err := hex.Decode(ph[:], []byte(c.ParamsSHA256)); err != nil || n != len(ph) {
		panic("registry: paramsHash of a card that was not validated: params_sha256 " + c.ParamsSHA256)
	}
	return ph
}

// Follow makes c the next version after parent, the artifact of the
// previous version in its line (nil for the first): it sets Version by Next
// and ParentVersion and ParentVersionHash from parent. Call it after
// SetParams, as the patch rule compares parameter hashes.
func (c *Card) Follow(parent *Artifact) {
	if parent == nil {
		c.Version, c.ParentVersion, c.ParentVersionHash = Next(nil, c), nil, ""
		return
	}
	pc := parent.Card()
	pv := pc.Version
	vh := parent.VersionHash()
	c.Version = Next(pc, c)
	c.ParentVersion = &pv
	c.ParentVersionHash = hex.EncodeToString(vh[:])
}

// decodeStrict decodes exactly one JSON value into v, rejecting unknown
// fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
