package dataset

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/cohortfl/cohort/model"
)

// EncodedColumn is one source column of an EncoderSpec.
type EncodedColumn struct {
	Name   string     `json:"name"`
	Type   ColumnType `json:"type"`
	Levels []string   `json:"levels,omitempty"` // categorical only, in encoding order
}

// EncoderSpec is the serialisable description of an Encoder. A coordinator
// can build it once and ship it to every site, so that all sites produce the
// same features in the same order.
type EncoderSpec struct {
	Columns []EncodedColumn `json:"columns"`
}

// Validate checks that the spec has at least one column, unique names, valid
// types, and non-empty unique levels for every categorical column.
func (s EncoderSpec) Validate() error {
	if len(s.Columns) == 0 {
		return fmt.Errorf("%w: encoder has no feature columns", ErrSchema)
	}
	seen := map[string]bool{}
	for _, c := range s.Columns {
		if c.Name == "" || seen[c.Name] {
			return fmt.Errorf("%w: encoder column name %q is empty or repeated", ErrSchema, c.Name)
		}
		seen[c.Name] = true
		switch c.Type {
		case Numeric:
			if len(c.Levels) != 0 {
				return fmt.Errorf("%w: numeric encoder column %q has levels", ErrSchema, c.Name)
			}
		case Categorical:
			if err := checkLevels(c.Name, c.Levels); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: encoder column %q has invalid type %v", ErrSchema, c.Name, c.Type)
		}
	}
	return nil
}

// Encoder turns Tables into model.Examples with a fixed feature layout.
// It is immutable and safe for concurrent use.
type Encoder struct {
	spec  EncoderSpec
	names []string
	index []map[string]int // per column: level -> offset within its block
	off   []int            // first feature index of each column
	d     int
}

// NewEncoder derives an encoder from a table: features are the table's
// columns in header order, except the label, dropped columns and (with
// Schema.ExcludeProtected) protected columns. Categorical levels come from
// Schema.Levels when given, otherwise from the sorted distinct non-missing
// values of t, so an encoder derived from one site's data may not fit
// another's; use Schema.Levels or NewEncoderFromSpec for federations.
func NewEncoder(t *Table) (*Encoder, error) {
	var spec EncoderSpec
	s := t.schema
	for j, name := range t.names {
		if name == s.Label || slices.Contains(s.Drop, name) || (s.ExcludeProtected && slices.Contains(s.Protected, name)) {
			continue
		}
		c := EncodedColumn{Name: name, Type: t.types[j]}
		if c.Type == Categorical {
			if lv, ok := s.Levels[name]; ok {
				c.Levels = slices.Clone(lv)
			} else {
				c.Levels = distinctSorted(t.raw[j])
			}
			if len(c.Levels) == 0 {
				return nil, fmt.Errorf("%w: categorical column %q of %s is entirely missing; give Schema.Levels or drop it", ErrSchema, name, t.source)
			}
		}
		spec.Columns = append(spec.Columns, c)
	}
	return NewEncoderFromSpec(spec)
}

// NewEncoderFromSpec builds an encoder from a validated spec.
func NewEncoderFromSpec(spec EncoderSpec) (*Encoder, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	e := &Encoder{spec: EncoderSpec{Columns: make([]EncodedColumn, len(spec.Columns))}}
	for k, c := range spec.Columns {
		c.Levels = slices.Clone(c.Levels)
		e.spec.Columns[k] = c
		e.off = append(e.off, e.d)
		if c.Type == Numeric {
			e.index = append(e.index, nil)
			e.names = append(e.names, c.Name)
			e.d++
			continue
		}
		m := make(map[string]int, len(c.Levels))
		for i, l := range c.Levels {
			m[l] = i
			e.names = append(e.names, c.Name+"="+l)
		}
		e.index = append(e.index, m)
		e.d += len(c.Levels)
	}
	return e, nil
}

func distinctSorted(vals []string) []string {
	set := map[string]struct{}{}
	for _, v := range vals {
		if v != "" {
			set[v] = struct{}{}
		}
	}
	return sortedKeys(set)
}

// Spec returns a deep copy of the encoder's spec.
func (e *Encoder) Spec() EncoderSpec {
	out := EncoderSpec{Columns: make([]EncodedColumn, len(e.spec.Columns))}
	for i, c := range e.spec.Columns {
		c.Levels = slices.Clone(c.Levels)
		out.Columns[i] = c
	}
	return out
}

// Dim returns the number of encoded features D.
func (e *Encoder) Dim() int { return e.d }

// FeatureNames returns the D feature names: a numeric column keeps its
// name, a categorical column c with level l becomes "c=l".
func (e *Encoder) FeatureNames() []string { return slices.Clone(e.names) }

// NumericMask reports, per feature, whether it comes from a numeric column
// (true) or is a one-hot indicator (false).
func (e *Encoder) NumericMask() []bool {
	m := make([]bool, 0, e.d)
	for _, c := range e.spec.Columns {
		if c.Type == Numeric {
			m = append(m, true)
		} else {
			m = append(m, make([]bool, len(c.Levels))...)
		}
	}
	return m
}

// Encode returns the features and labels of t. Numeric cells are copied,
// missing numeric cells become NaN (to be imputed by Standardizer.Apply).
// A categorical cell sets the indicator of its level to 1; a missing
// categorical cell leaves all indicators of that column 0. A value that is
// not one of the encoder's levels is an ErrUnknownLevel error naming the
// source line. W is nil.
func (e *Encoder) Encode(t *Table) (model.Examples, error) {
	n := t.Len()
	x := model.Examples{X: make([]float64, n*e.d), Y: t.Labels(), N: n, D: e.d}
	for k, c := range e.spec.Columns {
		j, err := t.col(c.Name)
		if err != nil {
			return model.Examples{}, fmt.Errorf("encoding %s: %w", t.source, err)
		}
		off := e.off[k]
		if c.Type == Categorical {
			for i, v := range t.raw[j] {
				if v == "" {
					continue
				}
				l, ok := e.index[k][v]
				if !ok {
					return model.Examples{}, t.cellErr(i, j, ErrUnknownLevel, "is not a known level; levels are: "+quoteList(c.Levels))
				}
				x.X[i*e.d+off+l] = 1
			}
			continue
		}
		if vals := t.num[j]; vals != nil {
			for i, v := range vals {
				x.X[i*e.d+off] = v
			}
			continue
		}
		// The column was not numeric in this table: parse it, reporting the
		// first bad cell.
		for i, v := range t.raw[j] {
			f := math.NaN()
			if v != "" {
				var err error
				if f, err = strconv.ParseFloat(v, 64); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
					return model.Examples{}, t.cellErr(i, j, ErrValue, "is not a finite number")
				}
			}
			x.X[i*e.d+off] = f
		}
	}
	return x, nil
}
