package dataset

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers can branch with errors.Is.
var (
	// ErrSchema reports an invalid Schema or EncoderSpec.
	ErrSchema = errors.New("dataset: invalid schema")
	// ErrFormat reports malformed CSV: no header, duplicate or empty header
	// names, ragged rows, no data rows.
	ErrFormat = errors.New("dataset: malformed CSV")
	// ErrColumn reports a column named by a schema, spec or call that is not
	// in the table.
	ErrColumn = errors.New("dataset: unknown column")
	// ErrValue reports a cell that cannot be used: a non-number in a numeric
	// column, or NaN/Inf text.
	ErrValue = errors.New("dataset: bad value")
	// ErrLabel reports a missing label, a label outside {Positive, Negative},
	// or a positive class that never occurs.
	ErrLabel = errors.New("dataset: bad label")
	// ErrUnknownLevel reports a categorical value that is not one of the
	// encoder's fixed levels.
	ErrUnknownLevel = errors.New("dataset: unknown category level")
	// ErrMoments reports an invalid moment vector or a dimension mismatch in
	// federated standardisation.
	ErrMoments = errors.New("dataset: invalid moments")
	// ErrUnknownDataset reports a built-in dataset name that does not exist.
	ErrUnknownDataset = errors.New("dataset: unknown built-in dataset")
	// ErrPartition reports bad arguments to a split or partitioner.
	ErrPartition = errors.New("dataset: invalid partition")
)

// CellError describes a bad cell of a CSV source. It formats as
// "source:line: column "name": "value" reason" and unwraps to Err, one of
// the sentinels above.
type CellError struct {
	Source string // name of the CSV source, e.g. "hmda.csv"
	Line   int    // 1-based line in the source
	Column string // header name of the column
	Value  string // the offending raw text ("" when missing)
	Reason string // e.g. "is not a number"
	Err    error  // sentinel: ErrValue, ErrLabel or ErrUnknownLevel
}

func (e *CellError) Error() string {
	return fmt.Sprintf("%s:%d: column %q: %q %s", e.Source, e.Line, e.Column, e.Value, e.Reason)
}

// Unwrap returns the sentinel error.
func (e *CellError) Unwrap() error { return e.Err }
