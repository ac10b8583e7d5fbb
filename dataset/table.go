package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Table is a parsed CSV source: raw cell text column by column, the inferred
// or forced type of every column, parsed numbers for numeric columns, the
// binary label and the source line of every row. A Table is immutable after
// Load and safe for concurrent reads; accessors return copies.
type Table struct {
	source string
	schema Schema
	names  []string
	index  map[string]int
	types  []ColumnType // label and dropped columns: inferred leniently
	raw    [][]string   // column-major raw text; "" is missing
	num    [][]float64  // parsed values of numeric columns (NaN = missing), else nil
	labels []int
	lines  []int // 1-based source line of each row
}

// Load reads a CSV table with a header row from r. source names the input in
// error messages (e.g. "hmda.csv"). An empty field is a missing value. Load
// validates s, checks that every column it names is in the header, infers
// column types (see the package documentation), and encodes the label:
// Positive is class 1, anything else class 0, subject to Schema.Negative.
func Load(r io.Reader, source string, s Schema) (*Table, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("loading %s: %w", source, err)
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below with a better message
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: %w: empty input, no header row", source, ErrFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", source, ErrFormat, err)
	}
	t := &Table{source: source, schema: s.Clone(), names: slices.Clone(header), index: make(map[string]int, len(header))}
	if len(t.names) > 0 {
		t.names[0] = strings.TrimPrefix(t.names[0], "\ufeff")
	}
	for i, n := range t.names {
		if n == "" {
			return nil, fmt.Errorf("%s:1: %w: header field %d is empty", source, ErrFormat, i+1)
		}
		if j, dup := t.index[n]; dup {
			return nil, fmt.Errorf("%s:1: %w: duplicate header %q (fields %d and %d)", source, ErrFormat, n, j+1, i+1)
		}
		t.index[n] = i
	}
	for _, ref := range s.referenced() {
		if _, ok := t.index[ref[1]]; !ok {
			return nil, fmt.Errorf("%w: %s column %q not in header of %s; columns are: %s",
				ErrColumn, ref[0], ref[1], source, quoteList(t.names))
		}
	}
	var rows [][]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", source, ErrFormat, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(t.names) {
			return nil, fmt.Errorf("%s:%d: %w: row has %d fields, header has %d", source, line, ErrFormat, len(rec), len(t.names))
		}
		rows = append(rows, rec)
		t.lines = append(t.lines, line)
	}
	// Transpose once into exactly sized columns; appending cell by cell to
	// growing columns dominated the load time of large files.
	t.raw = make([][]string, len(t.names))
	for j := range t.raw {
		col := make([]string, len(rows))
		for i, rec := range rows {
			col[i] = rec[j]
		}
		t.raw[j] = col
	}
	if len(t.lines) == 0 {
		return nil, fmt.Errorf("%s: %w: no data rows", source, ErrFormat)
	}
	if err := t.inferTypes(); err != nil {
		return nil, err
	}
	if err := t.encodeLabels(); err != nil {
		return nil, err
	}
	return t, nil
}

// inferTypes fills types and num. A column is numeric if every non-missing
// value parses as a float (and then every value must be finite), unless an
// override or Levels says otherwise.
func (t *Table) inferTypes() error {
	t.types = make([]ColumnType, len(t.names))
	t.num = make([][]float64, len(t.names))
	for j, name := range t.names {
		forced, hasForced := t.schema.Types[name]
		if _, lv := t.schema.Levels[name]; lv && !hasForced {
			forced, hasForced = Categorical, true
		}
		lenient := name == t.schema.Label || slices.Contains(t.schema.Drop, name)
		if hasForced && forced == Categorical {
			t.types[j] = Categorical
			continue
		}
		vals := make([]float64, len(t.raw[j]))
		numeric := true
		for i, v := range t.raw[j] {
			if v == "" {
				vals[i] = math.NaN()
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil && !isRangeErr(err) {
				if hasForced && !lenient {
					return t.cellErr(i, j, ErrValue, "is not a number")
				}
				numeric = false
				break
			}
			vals[i] = f
		}
		if !numeric {
			t.types[j] = Categorical
			continue
		}
		if !lenient {
			for i, f := range vals {
				if math.IsInf(f, 0) || (math.IsNaN(f) && t.raw[j][i] != "") {
					return t.cellErr(i, j, ErrValue, "is not a finite number (force the column Categorical if it is a label)")
				}
			}
		}
		t.types[j] = Numeric
		t.num[j] = vals
	}
	return nil
}

// defaultPositive picks the positive class when the schema gives none: the
// lexically larger of the label's exactly two values ("yes" over "no", "1"
// over "0"). Federations should name it explicitly, since a site whose data
// holds one label value cannot infer it.
func (t *Table) defaultPositive(j int) error {
	seen := map[string]bool{}
	for i, v := range t.raw[j] {
		if v == "" {
			return t.cellErr(i, j, ErrLabel, "is missing (label)")
		}
		seen[v] = true
		if len(seen) > 2 {
			return fmt.Errorf("%s: %w: label column %q has more than two values (%s); name the positive class",
				t.source, ErrLabel, t.schema.Label, quoteList(sortedKeys(seen)))
		}
	}
	vals := sortedKeys(seen)
	if len(vals) != 2 {
		return fmt.Errorf("%s: %w: label column %q has %d distinct value(s) %s; name the positive class",
			t.source, ErrLabel, t.schema.Label, len(vals), quoteList(vals))
	}
	t.schema.Positive = vals[1]
	return nil
}

func isRangeErr(err error) bool {
	var ne *strconv.NumError
	return errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange)
}

func (t *Table) encodeLabels() error {
	j := t.index[t.schema.Label]
	if t.schema.Positive == "" {
		if err := t.defaultPositive(j); err != nil {
			return err
		}
	}
	pos, neg := t.schema.Positive, t.schema.Negative
	t.labels = make([]int, len(t.lines))
	other, sawPos := "", false
	for i, v := range t.raw[j] {
		switch {
		case v == "":
			return t.cellErr(i, j, ErrLabel, "is missing (label)")
		case v == pos:
			t.labels[i], sawPos = 1, true
		case neg != "" && v != neg:
			return t.cellErr(i, j, ErrLabel, fmt.Sprintf("is neither positive %q nor negative %q", pos, neg))
		case neg == "" && other != "" && v != other:
			return t.cellErr(i, j, ErrLabel, fmt.Sprintf("is a third label value besides %q and %q; the label must be binary", pos, other))
		default:
			other = v
		}
	}
	if neg == "" && !sawPos {
		return fmt.Errorf("%s: %w: positive class %q never occurs in label column %q (other value seen: %q); set Schema.Negative if a site may have no positives",
			t.source, ErrLabel, pos, t.schema.Label, other)
	}
	return nil
}

func (t *Table) cellErr(row, col int, sentinel error, reason string) error {
	return &CellError{Source: t.source, Line: t.lines[row], Column: t.names[col], Value: t.raw[col][row], Reason: reason, Err: sentinel}
}

func (t *Table) col(name string) (int, error) {
	j, ok := t.index[name]
	if !ok {
		return 0, fmt.Errorf("%w: %q not in %s; columns are: %s", ErrColumn, name, t.source, quoteList(t.names))
	}
	return j, nil
}

// Source returns the name the table was loaded under.
func (t *Table) Source() string { return t.source }

// Schema returns a copy of the schema the table was loaded with.
func (t *Table) Schema() Schema { return t.schema.Clone() }

// Len returns the number of data rows.
func (t *Table) Len() int { return len(t.lines) }

// Columns returns the header names in file order, label included.
func (t *Table) Columns() []string { return slices.Clone(t.names) }

// Type returns the inferred or forced type of a column.
func (t *Table) Type(name string) (ColumnType, error) {
	j, err := t.col(name)
	if err != nil {
		return 0, err
	}
	return t.types[j], nil
}

// Column returns a copy of the raw text of a column ("" = missing).
func (t *Table) Column(name string) ([]string, error) {
	j, err := t.col(name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(t.raw[j]), nil
}

// Numeric returns a copy of a numeric column with NaN for missing cells.
func (t *Table) Numeric(name string) ([]float64, error) {
	j, err := t.col(name)
	if err != nil {
		return nil, err
	}
	if t.num[j] == nil {
		return nil, fmt.Errorf("%w: column %q of %s is %v, not numeric", ErrColumn, name, t.source, t.types[j])
	}
	return slices.Clone(t.num[j]), nil
}

// Labels returns a copy of the class index (0 or 1) of every row.
func (t *Table) Labels() []int { return slices.Clone(t.labels) }

// Positives returns the number of rows whose label is the positive class.
func (t *Table) Positives() int {
	n := 0
	for _, y := range t.labels {
		n += y
	}
	return n
}

// ProtectedNames returns the schema's protected attributes.
func (t *Table) ProtectedNames() []string { return slices.Clone(t.schema.Protected) }

// Protected returns a copy of the raw values of a protected attribute, one
// per row, whether or not the column is also a model feature.
func (t *Table) Protected(name string) ([]string, error) {
	if !slices.Contains(t.schema.Protected, name) {
		return nil, fmt.Errorf("%w: %q is not a protected attribute of %s; protected are: %s",
			ErrColumn, name, t.source, quoteList(t.schema.Protected))
	}
	return t.Column(name)
}

// ProtectedRows returns the raw values of the named protected attributes for
// the given rows (indices into the table), by attribute name.
func (t *Table) ProtectedRows(names []string, rows []int) (map[string][]string, error) {
	out := make(map[string][]string, len(names))
	for _, name := range names {
		col, err := t.Protected(name)
		if err != nil {
			return nil, err
		}
		v := make([]string, len(rows))
		for i, r := range rows {
			if r < 0 || r >= len(col) {
				return nil, fmt.Errorf("%w: row %d of %s is out of range (%d rows)", ErrColumn, r, t.source, len(col))
			}
			v[i] = col[r]
		}
		out[name] = v
	}
	return out, nil
}

// Line returns the 1-based source line of row i, or 0 if i is out of range.
func (t *Table) Line(i int) int {
	if i < 0 || i >= len(t.lines) {
		return 0
	}
	return t.lines[i]
}

// Subset returns a new table with the rows at idx, in that order. Column
// types are kept from t, not re-inferred, so subsets encode like t.
func (t *Table) Subset(idx []int) (*Table, error) {
	for _, i := range idx {
		if i < 0 || i >= len(t.lines) {
			return nil, fmt.Errorf("%w: row index %d out of range [0,%d) of %s", ErrPartition, i, len(t.lines), t.source)
		}
	}
	s := &Table{source: t.source, schema: t.schema, names: t.names, index: t.index, types: t.types,
		raw: make([][]string, len(t.raw)), num: make([][]float64, len(t.num)),
		labels: make([]int, len(idx)), lines: make([]int, len(idx))}
	for j := range t.raw {
		s.raw[j] = make([]string, len(idx))
		for k, i := range idx {
			s.raw[j][k] = t.raw[j][i]
		}
		if t.num[j] != nil {
			s.num[j] = make([]float64, len(idx))
			for k, i := range idx {
				s.num[j][k] = t.num[j][i]
			}
		}
	}
	for k, i := range idx {
		s.labels[k], s.lines[k] = t.labels[i], t.lines[i]
	}
	return s, nil
}
