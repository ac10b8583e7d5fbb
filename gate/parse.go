package gate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads and parses the policy file at path; errors name the file as
// path. An unreadable file is reported as the *os.PathError from reading it.
func Load(path string) (Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Policy{}, fmt.Errorf("gate: load policy: %w", err)
	}
	return Parse(data, path)
}

// Parse parses and validates a YAML policy. source names the input in errors
// (a file name; "" for none). Parsing is strict: unknown and repeated keys,
// keys without a value, values of the wrong type, more than one YAML
// document and out-of-range values are errors, each a *PolicyError with the
// line and key path. Every problem found is reported (joined with
// errors.Join). Empty input is the empty policy.
func Parse(data []byte, source string) (Policy, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	switch err := dec.Decode(&root); {
	case errors.Is(err, io.EOF):
		return Policy{}, nil
	case err != nil:
		return Policy{}, yamlError(source, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return Policy{}, yamlError(source, err)
		}
		return Policy{}, &PolicyError{Source: source, Line: next.Line, Msg: "a policy file holds one YAML document"}
	}

	w := walker{source: source, lines: map[string]int{}}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	w.walk(doc, reflect.TypeFor[Policy](), "", doc.Line)
	if len(w.errs) > 0 {
		return Policy{}, joinErrors(w.errs)
	}

	// The walk has checked keys and types; the strict decoder does the rest.
	var p Policy
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&p); err != nil {
		return Policy{}, yamlError(source, err)
	}

	if errs := p.problems(); len(errs) > 0 {
		for _, e := range errs {
			e.Source, e.Line = source, w.lineOf(e.Key)
		}
		return Policy{}, joinErrors(errs)
	}
	return p, nil
}

// walker checks a YAML node tree against the Policy struct, so that errors
// name the key path and, for unknown keys, the valid keys.
type walker struct {
	source string
	lines  map[string]int // key path -> line
	errs   []*PolicyError
}

func (w *walker) fail(line int, key, msg string, err error) {
	w.errs = append(w.errs, &PolicyError{Source: w.source, Line: line, Key: key, Msg: msg, Err: err})
}

func (w *walker) lineOf(key string) int {
	for key != "" {
		if l, ok := w.lines[key]; ok {
			return l
		}
		// fairness.attributes[3] -> fairness.attributes -> fairness
		if i := strings.LastIndexAny(key, ".["); i >= 0 {
			key = key[:i]
		} else {
			key = ""
		}
	}
	return 0
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// walk checks n, the value of key path (written at line keyLine), against t.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string, keyLine int) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if t.Kind() != reflect.Struct {
		w.leaf(n, t, path, keyLine)
		return
	}
	if isNull(n) {
		return // an empty section
	}
	keys := yamlKeys(t)
	if n.Kind != yaml.MappingNode {
		msg := "must be a mapping with keys " + strings.Join(keys, ", ")
		if path == "" {
			msg = "the policy " + msg
		}
		w.fail(n.Line, path, msg, nil)
		return
	}
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if path != "" {
			key = path + "." + k.Value
		}
		if k.Kind != yaml.ScalarNode {
			w.fail(k.Line, path, "keys must be plain names", nil)
			continue
		}
		if l, ok := first[k.Value]; ok {
			w.fail(k.Line, key, "key repeated (first at line "+strconv.Itoa(l)+")", nil)
			continue
		}
		first[k.Value] = k.Line
		f, ok := fieldByKey(t, k.Value)
		if !ok {
			w.fail(k.Line, key, "unknown key (valid keys: "+strings.Join(keys, ", ")+")", nil)
			continue
		}
		w.lines[key] = k.Line
		w.walk(v, f.Type, key, k.Line)
	}
}

var typeErrLine = regexp.MustCompile(`^line (\d+): (.*)$`)

func (w *walker) leaf(n *yaml.Node, t reflect.Type, path string, keyLine int) {
	if isNull(n) {
		w.fail(keyLine, path, "no value (delete the key to leave the check off)", nil)
		return
	}
	if t.Kind() == reflect.Int && n.ShortTag() == "!!float" { // yaml.v3 would truncate it
		w.fail(keyLine, path, "`"+n.Value+"` is not a whole number", nil)
		return
	}
	err := n.Decode(reflect.New(t).Interface())
	var te *yaml.TypeError
	switch {
	case err == nil:
	case errors.As(err, &te) && len(te.Errors) > 0:
		msg := te.Errors[0]
		if m := typeErrLine.FindStringSubmatch(msg); m != nil {
			msg = m[2]
		}
		w.fail(keyLine, path, msg, err)
		return
	default:
		w.fail(keyLine, path, strings.TrimPrefix(err.Error(), "yaml: "), err)
		return
	}
	if n.Kind == yaml.SequenceNode {
		for i, item := range n.Content {
			w.lines[path+"["+strconv.Itoa(i)+"]"] = item.Line
		}
	}
}

// yamlKeys lists the yaml keys of struct type t in field order.
func yamlKeys(t reflect.Type) []string {
	keys := make([]string, 0, t.NumField())
	for f := range t.Fields() {
		keys = append(keys, yamlKey(f))
	}
	return keys
}

func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if yamlKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

var syntaxLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns an error from the YAML decoder into a *PolicyError,
// moving its "line N" into the Line field.
func yamlError(source string, err error) *PolicyError {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = strings.Join(te.Errors, "; ")
	}
	pe := &PolicyError{Source: source, Msg: strings.TrimPrefix(msg, "yaml: "), Err: err}
	if m := syntaxLine.FindStringSubmatch(msg); m != nil {
		pe.Line, _ = strconv.Atoi(m[1])
		pe.Msg = m[2]
	}
	return pe
}
