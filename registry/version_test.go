package registry

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
	}{
		{"1.2.3", Version{1, 2, 3}},
		{"v1.2.3", Version{1, 2, 3}},
		{"0.0.0", Version{}},
		{"10.0.2147483647", Version{10, 0, 2147483647}},
	} {
		got, err := ParseVersion(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.-3", "1.2.+3", "1.2.3-rc1", "1.2.3+b", " 1.2.3", "1..3", "1.2.2147483648", "vv1.2.3", "V1.2.3"} {
		if v, err := ParseVersion(in); !errors.Is(err, ErrInvalidVersion) {
			t.Errorf("ParseVersion(%q) = %v, %v; want ErrInvalidVersion", in, v, err)
		}
	}
}

func TestVersionStringAndJSON(t *testing.T) {
	v := Version{3, 14, 15}
	if got := v.String(); got != "3.14.15" {
		t.Errorf("String() = %q, want 3.14.15", got)
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) != `"3.14.15"` {
		t.Errorf("json.Marshal = %s, %v; want \"3.14.15\"", b, err)
	}
	var back Version
	if err := json.Unmarshal(b, &back); err != nil || back != v {
		t.Errorf("round trip = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`"v3.14.15"`), &back); err == nil {
		t.Error(`a card version "v3.14.15" was accepted; one spelling per version`)
	}
	if _, err := json.Marshal(Version{-1, 0, 0}); err == nil {
		t.Error("negative version marshalled")
	}
}

func TestVersionCompare(t *testing.T) {
	order := []Version{{0, 0, 1}, {0, 1, 0}, {0, 1, 9}, {1, 0, 0}, {1, 0, 10}, {1, 2, 0}, {2, 0, 0}}
	for i, a := range order {
		for j, b := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%v.Compare(%v) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestNext(t *testing.T) {
	params := testParams(9)
	parent := testCard(params, "site-a")
	parent.Version = Version{2, 3, 4}

	other := append([]float64(nil), params...)
	other[0]++
	for _, tc := range []struct {
		name   string
		change func(c *Card)
		want   Version
	}{
		{"same run, same params: re-publication", func(c *Card) { c.Metrics.Overall = nil }, Version{2, 3, 5}},
		{"same run, later round", func(c *Card) { c.Round++; c.SetParams(other) }, Version{2, 4, 0}},
		{"new run, same schema and architecture", func(c *Card) { c.RunID = "run-2"; c.SetParams(other) }, Version{2, 4, 0}},
		{"new run, same params", func(c *Card) { c.RunID = "run-2" }, Version{2, 4, 0}},
		{"new sites, new training config", func(c *Card) { c.RunID = "run-2"; c.Sites = append(c.Sites, Site{Name: "site-z"}) }, Version{2, 4, 0}},
		{"protected attributes do not change the interface", func(c *Card) { c.RunID = "r"; c.Data.ProtectedAttributes = nil }, Version{2, 4, 0}},
		{"schema changed", func(c *Card) { c.Data.SchemaHash = "other" }, Version{3, 0, 0}},
		{"label changed", func(c *Card) { c.Data.Label = "other" }, Version{3, 0, 0}},
		{"positive class changed", func(c *Card) { c.Data.Positive = "1" }, Version{3, 0, 0}},
		{"architecture changed", func(c *Card) { c.Model.Architecture = "mlp"; c.Model.Hidden = []int{16} }, Version{3, 0, 0}},
		{"hidden layers changed", func(c *Card) { c.Model.Hidden = []int{8} }, Version{3, 0, 0}},
		{"activation changed", func(c *Card) { c.Model.Activation = "tanh" }, Version{3, 0, 0}},
		{"features changed", func(c *Card) { c.Model.Features++ }, Version{3, 0, 0}},
		{"feature renamed", func(c *Card) { c.Model.FeatureNames = append([]string{"g0"}, c.Model.FeatureNames[1:]...) }, Version{3, 0, 0}},
		{"classes changed", func(c *Card) { c.Model.Classes = 3 }, Version{3, 0, 0}},
	} {
		cur := testCard(params, "site-a")
		tc.change(&cur)
		if got := Next(&parent, &cur); got != tc.want {
			t.Errorf("%s: Next = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := Next(nil, &parent); got != (Version{1, 0, 0}) {
		t.Errorf("Next(nil) = %v, want 1.0.0", got)
	}
	parent.Version = Version{maxVersionPart, maxVersionPart, maxVersionPart}
	cur := testCard(params, "site-a")
	if got := Next(&parent, &cur); got.Patch != maxVersionPart {
		t.Errorf("Next at the limit = %v, want saturation", got)
	}
}

func TestFollow(t *testing.T) {
	p := publish(t, false)
	parent, err := ParseArtifact(p.data)
	if err != nil {
		t.Fatal(err)
	}
	params := append([]float64(nil), p.params...)
	params[1] = 0
	card := testCard(params, threeSites...)
	card.Round = 20
	card.Follow(parent)
	vh := parent.VersionHash()
	if card.Version != (Version{1, 1, 0}) || card.ParentVersion == nil || *card.ParentVersion != (Version{1, 0, 0}) || card.ParentVersionHash == "" {
		t.Fatalf("after Follow: version %v parent %v hash %q", card.Version, card.ParentVersion, card.ParentVersionHash)
	}
	if card.ParentVersionHash != hexString(vh[:]) {
		t.Errorf("parent_version_hash %s, want %x", card.ParentVersionHash, vh)
	}
	if err := card.Validate(); err != nil {
		t.Error(err)
	}
	card.Follow(nil)
	if card.Version != (Version{1, 0, 0}) || card.ParentVersion != nil || card.ParentVersionHash != "" {
		t.Errorf("Follow(nil) left %v %v %q", card.Version, card.ParentVersion, card.ParentVersionHash)
	}
}
