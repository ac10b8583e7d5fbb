package registry

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxVersionPart bounds each version component so that Next never overflows.
const maxVersionPart = 1<<31 - 1

// Version is a semantic version MAJOR.MINOR.PATCH of a published model. The
// zero value (0.0.0) is not a valid published version. In JSON a Version is
// the string "MAJOR.MINOR.PATCH".
//
// # Bump rules
//
// Next derives the version of a new card from its parent's card:
//
//   - Major: the model's interface changed, so a consumer of the parent
//     cannot feed it the same inputs or read its outputs the same way: a
//     different data schema hash, label or positive class, or a different
//     architecture, activation, feature count, class count, hidden layers or
//     feature names.
//   - Patch: a re-publication of the same model, same run and bit-identical
//     parameters (same params_sha256): a corrected card, an extra metric, a
//     re-signing after a key rotation.
//   - Minor: everything else with the same interface: a new run, or another
//     round of the same run, producing different parameters.
//
// A model with no parent starts at 1.0.0.
type Version struct {
	Major, Minor, Patch int
}

// ParseVersion parses "MAJOR.MINOR.PATCH" with an optional leading "v".
// Components are decimal without sign or leading zeros (as in SemVer 2.0),
// at most 2^31-1; pre-release and build suffixes are not accepted. The zero
// version 0.0.0 parses; Card.Validate rejects it.
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("%w %q: want MAJOR.MINOR.PATCH", ErrInvalidVersion, s)
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || strings.TrimLeft(p, "0123456789") != "" || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("%w %q: component %q is not a decimal number without leading zeros", ErrInvalidVersion, s, p)
		}
		v, err := strconv.Atoi(p)
		if err != nil || v > maxVersionPart {
			return Version{}, fmt.Errorf("%w %q: component %q is larger than %d", ErrInvalidVersion, s, p, maxVersionPart)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// String returns "MAJOR.MINOR.PATCH" (no "v").
func (v Version) String() string {
	return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor) + "." + strconv.Itoa(v.Patch)
}

// IsZero reports whether v is 0.0.0.
func (v Version) IsZero() bool { return v == Version{} }

// Compare returns -1, 0 or +1 as v is lower than, equal to or higher than w
// in SemVer precedence.
func (v Version) Compare(w Version) int {
	if c := cmp.Compare(v.Major, w.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Minor, w.Minor); c != 0 {
		return c
	}
	return cmp.Compare(v.Patch, w.Patch)
}

func (v Version) validate() error {
	for _, p := range []int{v.Major, v.Minor, v.Patch} {
		if p < 0 || p > maxVersionPart {
			return fmt.Errorf("%w %d.%d.%d: components must be in [0, %d]", ErrInvalidVersion, v.Major, v.Minor, v.Patch, maxVersionPart)
		}
	}
	return nil
}

// MarshalText returns String, so a Version is a JSON string.
func (v Version) MarshalText() ([]byte, error) {
	if err := v.validate(); err != nil {
		return nil, err
	}
	return []byte(v.String()), nil
}

// UnmarshalText parses text as ParseVersion does, but without the "v"
// prefix, so that a card has one textual form per version.
func (v *Version) UnmarshalText(text []byte) error {
	if strings.HasPrefix(string(text), "v") {
		return fmt.Errorf("%w %q: no \"v\" prefix in a card", ErrInvalidVersion, text)
	}
	p, err := ParseVersion(string(text))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// Next returns the version cur should be published as, given the card of its
// parent (nil for the first model of a line): see Version for the rules. It
// reads only the interface fields of both cards, RunID and ParamsSHA256, so
// cur's own Version need not be set yet. Next saturates instead of
// overflowing at 2^31-1.
func Next(parent *Card, cur *Card) Version {
	if parent == nil {
		return Version{Major: 1}
	}
	p := parent.Version
	switch {
	case !sameInterface(parent, cur):
		return Version{Major: inc(p.Major)}
	case parent.RunID == cur.RunID && parent.ParamsSHA256 == cur.ParamsSHA256:
		return Version{Major: p.Major, Minor: p.Minor, Patch: inc(p.Patch)}
	default:
		return Version{Major: p.Major, Minor: inc(p.Minor)}
	}
}

func inc(n int) int { return min(n+1, maxVersionPart) }

// sameInterface reports whether a consumer of a can use b unchanged: same
// inputs (schema, features), same outputs (label, classes) and the same
// architecture.
func sameInterface(a, b *Card) bool {
	am, bm := a.Model, b.Model
	return a.Data.SchemaHash == b.Data.SchemaHash &&
		a.Data.Label == b.Data.Label &&
		a.Data.Positive == b.Data.Positive &&
		am.Architecture == bm.Architecture &&
		am.Activation == bm.Activation &&
		am.Features == bm.Features &&
		am.Classes == bm.Classes &&
		slices.Equal(am.Hidden, bm.Hidden) &&
		slices.Equal(am.FeatureNames, bm.FeatureNames)
}
