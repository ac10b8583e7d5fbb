package registry

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func hexString(b []byte) string { return hex.EncodeToString(b) }

func TestFloatJSON(t *testing.T) {
	negZero := math.Copysign(0, -1)
	for _, tc := range []struct {
		v    float64
		json string
	}{
		{0, "0"},
		{negZero, "-0"},
		{0.1, "0.1"},
		{1e-300, "1e-300"},
		{1e21, "1e+21"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{math.NaN(), "null"},
		{math.Inf(1), `"+Inf"`},
		{math.Inf(-1), `"-Inf"`},
	} {
		b, err := json.Marshal(Float(tc.v))
		if err != nil || string(b) != tc.json {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tc.v, b, err, tc.json)
		}
		var back Float
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("Unmarshal(%s): %v", b, err)
		}
		if math.Float64bits(float64(back)) != math.Float64bits(tc.v) && !(math.IsNaN(tc.v) && math.IsNaN(float64(back))) {
			t.Errorf("Unmarshal(%s) = %v, want %v", b, back, tc.v)
		}
	}
	var f Float
	for _, bad := range []string{`"NaN"`, `"Inf"`, `"1.5"`, `true`, `[]`} {
		if err := json.Unmarshal([]byte(bad), &f); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
}

func TestCardNaNRoundTrip(t *testing.T) {
	params := testParams(9)
	c := testCard(params, "site-a", "site-b")
	canon, err := c.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"auc":null`, `"loss":"+Inf"`, `"tpr":null`, `"fpr":-0`, `"mean_abs_shap":null`} {
		if !bytes.Contains(canon, []byte(want)) {
			t.Errorf("canonical card lacks %s:\n%s", want, canon)
		}
	}
	back, err := ParseCard(canon)
	if err != nil {
		t.Fatal(err)
	}
	if v := back.Metrics.Overall["auc"]; !math.IsNaN(float64(v)) {
		t.Errorf("overall auc = %v, want NaN", v)
	}
	if v := back.Metrics.Overall["loss"]; !math.IsInf(float64(v), 1) {
		t.Errorf("overall loss = %v, want +Inf", v)
	}
	if v := back.Metrics.PerGroup["sex=F"]["tpr"]; !math.IsNaN(float64(v)) {
		t.Errorf("per-group tpr = %v, want NaN", v)
	}
	if v := back.Metrics.PerGroup["sex=M"]["fpr"]; v != 0 || !math.Signbit(float64(v)) {
		t.Errorf("per-group fpr = %v, want -0", v)
	}
	if v := back.Explanations.PerGroup["sex=F"][0].MeanAbsSHAP; !math.IsNaN(float64(v)) {
		t.Errorf("explanation = %v, want NaN", v)
	}
	if v := back.Metrics.Overall["accuracy"]; v != 0.875 {
		t.Errorf("accuracy = %v, want 0.875", v)
	}
	again, err := back.Canonical()
	if err != nil || !bytes.Equal(again, canon) {
		t.Errorf("canonical form is not stable across a round trip (err %v)", err)
	}
	h1, _ := c.VersionHash()
	h2, _ := back.VersionHash()
	if h1 != h2 {
		t.Error("version hash changed across a JSON round trip")
	}
}

func TestCanonicalNormalises(t *testing.T) {
	params := testParams(9)
	c := testCard(params, "site-a")
	c.CreatedAt = time.Date(2026, 3, 1, 12, 0, 0, 123, time.FixedZone("CET", 3600))
	canon, err := c.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(canon, []byte(`"created_at":"2026-03-01T11:00:00.000000123Z"`)) {
		t.Errorf("created_at not in UTC: %s", canon)
	}
	if !bytes.Contains(canon, []byte(`"training":{"rounds":12,"lr":0.1,"dp":{"noise_multiplier":1.1}}`)) {
		t.Errorf("training not compacted verbatim: %s", canon)
	}
	// The same instant in another zone hashes the same.
	c2 := c
	c2.CreatedAt = c.CreatedAt.UTC()
	h1, _ := c.VersionHash()
	h2, _ := c2.VersionHash()
	if h1 != h2 {
		t.Error("version hash depends on the time zone of created_at")
	}
}

func TestParseCardStrict(t *testing.T) {
	c := testCard(testParams(9), "site-a")
	canon, err := c.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"unknown field":  strings.Replace(string(canon), `"name":`, `"nickname":"x","name":`, 1),
		"trailing data":  string(canon) + "{}",
		"wrong type":     strings.Replace(string(canon), `"round":12`, `"round":"12"`, 1),
		"invalid card":   strings.Replace(string(canon), `"schema_version":"cohort.model-card/v1"`, `"schema_version":"v0"`, 1),
		"version prefix": strings.Replace(string(canon), `"version":"1.0.0"`, `"version":"v1.0.0"`, 1),
	} {
		if _, err := ParseCard([]byte(data)); !errors.Is(err, ErrInvalidCard) && !errors.Is(err, ErrInvalidVersion) {
			t.Errorf("%s: ParseCard = %v, want an error", name, err)
		}
	}
}

func TestCardValidate(t *testing.T) {
	params := testParams(9)
	for _, tc := range []struct {
		name   string
		change func(c *Card)
	}{
		{"schema", func(c *Card) { c.SchemaVersion = "" }},
		{"name", func(c *Card) { c.Name = " " }},
		{"name control", func(c *Card) { c.Name = "a\nb" }},
		{"name utf-8", func(c *Card) { c.Name = "a\xffb" }},
		{"version zero", func(c *Card) { c.Version = Version{} }},
		{"version negative", func(c *Card) { c.Version = Version{1, -1, 0} }},
		{"parent not below", func(c *Card) { c.ParentVersion = &Version{1, 0, 0} }},
		{"parent hash without parent", func(c *Card) { c.ParentVersionHash = strings.Repeat("a", 64) }},
		{"parent hash not hex", func(c *Card) { c.ParentVersion = &Version{0, 9, 0}; c.ParentVersionHash = strings.Repeat("A", 64) }},
		{"run", func(c *Card) { c.RunID = "" }},
		{"round", func(c *Card) { c.Round = -1 }},
		{"created_at", func(c *Card) { c.CreatedAt = time.Time{} }},
		{"created_at year", func(c *Card) { c.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"architecture", func(c *Card) { c.Model.Architecture = "" }},
		{"features", func(c *Card) { c.Model.Features = 0 }},
		{"classes", func(c *Card) { c.Model.Classes = 1 }},
		{"hidden", func(c *Card) { c.Model.Hidden = []int{4, 0} }},
		{"num_params", func(c *Card) { c.Model.NumParams = 0 }},
		{"feature names", func(c *Card) { c.Model.FeatureNames = c.Model.FeatureNames[1:] }},
		{"params hash", func(c *Card) { c.ParamsSHA256 = "abc" }},
		{"params hash case", func(c *Card) { c.ParamsSHA256 = strings.ToUpper(c.ParamsSHA256) }},
		{"training", func(c *Card) { c.Training = json.RawMessage(`{"a":`) }},
		{"no sites", func(c *Card) { c.Sites = nil }},
		{"site name", func(c *Card) { c.Sites[0].Name = "" }},
		{"site name too long", func(c *Card) { c.Sites[0].Name = strings.Repeat("s", 65) }},
		{"site twice", func(c *Card) { c.Sites = append(c.Sites, c.Sites[0]) }},
		{"site examples", func(c *Card) { c.Sites[0].Examples = -1 }},
		{"epsilon", func(c *Card) { c.Privacy.Epsilon = Float(math.NaN()) }},
		{"delta", func(c *Card) { c.Privacy.Delta = 1 }},
		{"mechanism", func(c *Card) { c.Privacy.Mechanism = "" }},
		{"ledger", func(c *Card) { c.Privacy.LedgerEntries = -1 }},
		{"gate checks", func(c *Card) { c.FairnessGate.Checks = json.RawMessage(`[`) }},
		{"explanations", func(c *Card) { c.Explanations.Method = "" }},
		{"audit seq", func(c *Card) { c.AuditHead.Seq = -1 }},
		{"audit hash", func(c *Card) { c.AuditHead.Hash = "xyz" }},
	} {
		c := testCard(params, "site-a")
		tc.change(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidCard) {
			t.Errorf("%s: Validate = %v, want ErrInvalidCard", tc.name, err)
		}
		if _, err := c.Canonical(); err == nil {
			t.Errorf("%s: Canonical accepted an invalid card", tc.name)
		}
	}
	c := testCard(params, "site-a")
	c.Privacy.Epsilon = Float(math.Inf(1)) // unbounded loss is a legitimate report
	if err := c.Validate(); err != nil {
		t.Errorf("infinite epsilon: %v", err)
	}
	c.Privacy, c.FairnessGate, c.Explanations, c.AuditHead, c.Training = nil, nil, nil, nil, nil
	if err := c.Validate(); err != nil {
		t.Errorf("minimal card: %v", err)
	}
}

func TestParams(t *testing.T) {
	p := []float64{1, -2.5, math.Inf(1), math.Copysign(0, -1)}
	b := EncodeParams(p)
	want := []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f} // 1.0 little-endian
	if !bytes.Equal(b[:8], want) || len(b) != 32 {
		t.Fatalf("EncodeParams = % x", b)
	}
	back, err := DecodeParams(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p {
		if math.Float64bits(back[i]) != math.Float64bits(p[i]) {
			t.Errorf("param %d = %v, want %v", i, back[i], p[i])
		}
	}
	if _, err := DecodeParams(b[:7]); err == nil {
		t.Error("DecodeParams accepted 7 bytes")
	}
	c := testCard(p, "site-a")
	if err := c.CheckParams(p); err != nil {
		t.Error(err)
	}
	if err := c.CheckParams(p[:3]); !errors.Is(err, ErrInvalidCard) {
		t.Errorf("CheckParams(short) = %v", err)
	}
	q := append([]float64(nil), p...)
	q[1] = 0
	if err := c.CheckParams(q); !errors.Is(err, ErrInvalidCard) {
		t.Errorf("CheckParams(changed) = %v", err)
	}
	signer, err := GenerateSigner(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Seal(&c, q, signer, nil); !errors.Is(err, ErrInvalidCard) {
		t.Errorf("Seal with params that do not match the card = %v, want ErrInvalidCard", err)
	}
}
