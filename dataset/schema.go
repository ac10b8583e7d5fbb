package dataset

import (
	"fmt"
	"slices"
	"strings"
)

// ColumnType is the encoding kind of a feature column.
type ColumnType uint8

const (
	// Numeric columns hold finite decimal numbers; missing cells become NaN.
	Numeric ColumnType = iota + 1
	// Categorical columns hold labels that are one-hot encoded.
	Categorical
)

func (c ColumnType) String() string {
	switch c {
	case Numeric:
		return "numeric"
	case Categorical:
		return "categorical"
	}
	return fmt.Sprintf("ColumnType(%d)", uint8(c))
}

// Schema says how to read a CSV table: which column is the binary label and
// which value of it is the positive class (class 1), which columns are
// protected attributes, which are dropped, and optional type and level
// overrides. The zero value is not valid; see Validate.
type Schema struct {
	// Label is the header name of the binary label column.
	Label string
	// Positive is the label value that is class 1.
	Positive string
	// Negative, if set, is the only other allowed label value (class 0), and
	// any third value is an error. If empty, the label may take at most one
	// value besides Positive, and Positive must occur at least once (to catch
	// a misspelt Positive). Sites that may legitimately have no positive rows
	// should set Negative.
	Negative string
	// Protected lists protected attributes. Their raw values stay available
	// through Table.Protected for fairness audits.
	Protected []string
	// Drop lists columns that are never features (identifiers, leakage).
	Drop []string
	// Types overrides type inference for the named columns.
	Types map[string]ColumnType
	// Levels fixes the categorical levels, in encoding order, for the named
	// columns, so that every site one-hot encodes identically. A column with
	// Levels is categorical.
	Levels map[string][]string
	// ExcludeProtected keeps protected columns out of the features while
	// keeping their values available for audits.
	ExcludeProtected bool
}

// Validate checks that the schema is self-consistent. It does not look at
// any data; Load checks that the named columns exist.
func (s Schema) Validate() error {
	if s.Label == "" {
		return fmt.Errorf("%w: empty label column name", ErrSchema)
	}
	if s.Positive == "" && s.Negative != "" {
		return fmt.Errorf("%w: negative class %q given without a positive class for label %q", ErrSchema, s.Negative, s.Label)
	}
	if s.Negative != "" && s.Negative == s.Positive {
		return fmt.Errorf("%w: negative class %q equals positive class", ErrSchema, s.Negative)
	}
	for _, l := range []struct {
		what  string
		names []string
	}{{"protected", s.Protected}, {"drop", s.Drop}} {
		seen := map[string]bool{}
		for _, n := range l.names {
			switch {
			case n == "":
				return fmt.Errorf("%w: empty column name in %s list", ErrSchema, l.what)
			case n == s.Label:
				return fmt.Errorf("%w: label column %q is also in the %s list", ErrSchema, n, l.what)
			case seen[n]:
				return fmt.Errorf("%w: column %q listed twice in the %s list", ErrSchema, n, l.what)
			}
			seen[n] = true
		}
	}
	for _, p := range s.Protected {
		if slices.Contains(s.Drop, p) {
			return fmt.Errorf("%w: column %q is both protected and dropped", ErrSchema, p)
		}
	}
	for n, t := range s.Types {
		if t != Numeric && t != Categorical {
			return fmt.Errorf("%w: column %q has invalid type %v", ErrSchema, n, t)
		}
		if n == s.Label || slices.Contains(s.Drop, n) {
			return fmt.Errorf("%w: type override for label or dropped column %q", ErrSchema, n)
		}
	}
	for n, lv := range s.Levels {
		if n == s.Label || slices.Contains(s.Drop, n) {
			return fmt.Errorf("%w: levels for label or dropped column %q", ErrSchema, n)
		}
		if s.Types[n] == Numeric {
			return fmt.Errorf("%w: column %q is forced numeric but has levels", ErrSchema, n)
		}
		if err := checkLevels(n, lv); err != nil {
			return err
		}
	}
	return nil
}

func checkLevels(col string, lv []string) error {
	if len(lv) == 0 {
		return fmt.Errorf("%w: column %q has an empty level list", ErrSchema, col)
	}
	seen := make(map[string]bool, len(lv))
	for _, l := range lv {
		if l == "" {
			return fmt.Errorf("%w: column %q has an empty level (empty means missing)", ErrSchema, col)
		}
		if seen[l] {
			return fmt.Errorf("%w: column %q lists level %q twice", ErrSchema, col, l)
		}
		seen[l] = true
	}
	return nil
}

// Clone returns a deep copy of s, so that edits to the copy's slices and
// maps do not affect s.
func (s Schema) Clone() Schema {
	c := s
	c.Protected = slices.Clone(s.Protected)
	c.Drop = slices.Clone(s.Drop)
	if s.Types != nil {
		c.Types = make(map[string]ColumnType, len(s.Types))
		for k, v := range s.Types {
			c.Types[k] = v
		}
	}
	if s.Levels != nil {
		c.Levels = make(map[string][]string, len(s.Levels))
		for k, v := range s.Levels {
			c.Levels[k] = slices.Clone(v)
		}
	}
	return c
}

// referenced returns every column name the schema refers to, with the role
// it plays, in a deterministic order.
func (s Schema) referenced() [][2]string {
	out := [][2]string{{"label", s.Label}}
	for _, n := range s.Protected {
		out = append(out, [2]string{"protected", n})
	}
	for _, n := range s.Drop {
		out = append(out, [2]string{"dropped", n})
	}
	for _, n := range sortedKeys(s.Types) {
		out = append(out, [2]string{"typed", n})
	}
	for _, n := range sortedKeys(s.Levels) {
		out = append(out, [2]string{"levelled", n})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
