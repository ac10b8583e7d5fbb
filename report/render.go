package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Format is an output format of Render.
type Format string

// The output formats.
const (
	HTML     Format = "html" // one self-contained page: inline CSS and SVG, no scripts
	Markdown Format = "md"   // the same sections, charts as tables of values
	JSON     Format = "json" // Data itself, indented
)

// Formats lists the valid formats in the order they are documented.
var Formats = []Format{HTML, Markdown, JSON}

// ErrUnknownFormat reports a format name that is not one of Formats.
var ErrUnknownFormat = errors.New("report: unknown format")

// FormatError is returned by ParseFormat and Render for a bad format name.
// It wraps ErrUnknownFormat.
type FormatError struct {
	Name string
}

func (e *FormatError) Error() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return fmt.Sprintf("report: unknown format %q (valid formats: %s)", e.Name, strings.Join(names, ", "))
}

func (e *FormatError) Unwrap() error { return ErrUnknownFormat }

// ParseFormat returns the Format named s ("html", "md" or "json"; case and
// surrounding spaces are ignored).
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	for _, v := range Formats {
		if f == v {
			return f, nil
		}
	}
	return "", &FormatError{Name: s}
}

// Render writes the report of d to w in format. The report is built in
// memory first, so on error nothing has been written to w. Render does not
// modify d and is safe to call concurrently.
func Render(w io.Writer, d Data, format Format) error {
	var buf bytes.Buffer
	var err error
	switch format {
	case HTML:
		err = renderHTML(&buf, d)
	case Markdown:
		err = renderMarkdown(&buf, d)
	case JSON:
		err = renderJSON(&buf, d)
	default:
		return &FormatError{Name: string(format)}
	}
	if err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func renderJSON(buf *bytes.Buffer, d Data) error {
	v := reflect.New(reflect.TypeFor[Data]()).Elem()
	v.Set(reflect.ValueOf(d))
	emptyCollections(v)
	enc := json.NewEncoder(buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v.Interface()); err != nil {
		return fmt.Errorf("report: encode JSON: %w", err)
	}
	return nil
}

// emptyCollections replaces nil slices and maps reachable from the settable
// value v by empty ones, so that JSON shows [] and {} rather than null. It
// copies every slice and pointed-to struct it descends into, so the
// caller's data is never modified. Nil pointers stay nil.
func emptyCollections(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(v.Elem())
		v.Set(c)
		emptyCollections(c.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				emptyCollections(f)
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		v.Set(c)
		for i := range c.Len() {
			emptyCollections(c.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
	}
}

// MarshalJSON encodes v with its derived "verdict" first.
func (v Verification) MarshalJSON() ([]byte, error) {
	type plain Verification // without this method
	return json.Marshal(struct {
		Verdict string `json:"verdict"`
		plain
	}{v.Verdict(), plain(v)})
}
