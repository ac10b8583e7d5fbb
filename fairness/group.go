package fairness

import (
	"net/url"
	"slices"
	"sort"
	"strings"
)

// Group is one value of one protected attribute, e.g. {Attr: "sex", Value: "F"}.
// An intersection of protected attributes is a []Group with distinct Attr.
type Group struct {
	Attr  string
	Value string
}

// GroupKey returns the canonical string for an intersection of groups. It is
// deterministic and independent of the order of gs: the groups are sorted by
// Attr (then Value) and written as attr=value pairs joined by "&", each part
// query-escaped so that "=", "&" and "%" inside names cannot collide.
//
//	GroupKey([]Group{{"sex", "F"}, {"race", "Black"}}) == "race=Black&sex=F"
//
// The empty intersection has key "" (the whole population). GroupKey does not
// check that attributes are distinct; ParseGroupKey and IntersectionKeys do.
// gs is not modified.
func GroupKey(gs []Group) string {
	s := slices.Clone(gs)
	sort.Slice(s, func(i, j int) bool {
		if s[i].Attr != s[j].Attr {
			return s[i].Attr < s[j].Attr
		}
		return s[i].Value < s[j].Value
	})
	var b strings.Builder
	for i, g := range s {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(g.Attr))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(g.Value))
	}
	return b.String()
}

// ParseGroupKey inverts GroupKey. It rejects malformed keys and keys that name
// the same attribute twice.
func ParseGroupKey(key string) ([]Group, error) {
	const op = "ParseGroupKey"
	if key == "" {
		return nil, nil
	}
	parts := strings.Split(key, "&")
	out := make([]Group, 0, len(parts))
	seen := make(map[string]bool, len(parts))
	for _, p := range parts {
		a, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, &InputError{Op: op, Param: "key", Value: key, Want: "attr=value pairs joined by &"}
		}
		attr, err1 := url.QueryUnescape(a)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil || attr == "" {
			return nil, &InputError{Op: op, Param: "key", Value: key, Want: "query-escaped, non-empty attribute names"}
		}
		if seen[attr] {
			return nil, &InputError{Op: op, Param: "key", Value: key, Want: "each attribute at most once"}
		}
		seen[attr] = true
		out = append(out, Group{Attr: attr, Value: val})
	}
	return out, nil
}

// IntersectionKeys returns the keys of every group a record belongs to, given
// the record's value for each protected attribute (one Group per attribute):
// all non-empty subsets of attrs of size at most maxOrder (maxOrder ≤ 0 means
// all sizes). With attrs {sex=F, race=B} and maxOrder 0 the result is
// ["race=B", "sex=F", "race=B&sex=F"]: ordered by subset size, then key.
// A site calls Accumulate once per returned key, so single attributes and
// their intersections are audited from the same summed vector.
//
// It rejects empty or repeated attribute names and more than 16 attributes
// (65535 subsets).
func IntersectionKeys(attrs []Group, maxOrder int) ([]string, error) {
	const op = "IntersectionKeys"
	if len(attrs) > 16 {
		return nil, &InputError{Op: op, Param: "len(attrs)", Value: len(attrs), Want: "<= 16"}
	}
	seen := make(map[string]bool, len(attrs))
	for i, g := range attrs {
		if g.Attr == "" || seen[g.Attr] {
			return nil, &InputError{Op: op, Param: "attrs", Value: attrs[i].Attr, Want: "distinct, non-empty attribute names"}
		}
		seen[g.Attr] = true
	}
	if maxOrder <= 0 || maxOrder > len(attrs) {
		maxOrder = len(attrs)
	}
	type entry struct {
		size int
		key  string
	}
	var es []entry
	sub := make([]Group, 0, len(attrs))
	for mask := 1; mask < 1<<len(attrs); mask++ {
		sub = sub[:0]
		for i := range attrs {
			if mask&(1<<i) != 0 {
				sub = append(sub, attrs[i])
			}
		}
		if len(sub) > maxOrder {
			continue
		}
		es = append(es, entry{len(sub), GroupKey(sub)})
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].size != es[j].size {
			return es[i].size < es[j].size
		}
		return es[i].key < es[j].key
	})
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.key
	}
	return out, nil
}

// KeysOver returns, in input order, the keys whose set of attributes is exactly
// attrs (in any order). Use it to pick the groups that are compared with each
// other: KeysOver(keys, "sex") gives the sex groups, KeysOver(keys, "race",
// "sex") the race×sex intersections. Keys that do not parse are skipped.
func KeysOver(keys []string, attrs ...string) []string {
	want := slices.Clone(attrs)
	sort.Strings(want)
	var out []string
	for _, k := range keys {
		gs, err := ParseGroupKey(k)
		if err != nil || len(gs) != len(want) {
			continue
		}
		got := make([]string, len(gs))
		for i, g := range gs {
			got[i] = g.Attr
		}
		sort.Strings(got)
		if slices.Equal(got, want) {
			out = append(out, k)
		}
	}
	return out
}
