package config

import (
	"bytes"
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// FieldError is one problem in a configuration file. Its text is
// "FILE:LINE: FIELD: PROBLEM", the form compilers use, so that editors and
// terminals can jump to it; PROBLEM says what is wrong and what is allowed.
type FieldError struct {
	// File is the configuration file; "" when the bytes came from elsewhere.
	File string
	// Line is the 1-based line of the field, or of the nearest enclosing
	// field when the field itself is left out; 0 when not known.
	Line int
	// Field is the full path of the field, such as
	// tas[1].endpoints[0].mode; "" for the file as a whole.
	Field string
	// Problem says what is wrong and what is allowed.
	Problem string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// positions maps a field's full path to the line it is on. Validation
// looks fields up here, so that a semantic error (a duplicate name, a
// proxy joining TCP to UDP) points at the line as precisely as a syntax
// error does.
type positions map[string]int

// line returns the line of field, or of its nearest enclosing field that
// the file has (a left-out uuid is reported at its TA), or 0.
func (p positions) line(field string) int {
	for field != "" {
		if l, ok := p[field]; ok {
			return l
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			break
		}
		field = field[:i]
	}
	return 0
}

// decoder fills a Go value from a YAML node tree by the yaml struct tags,
// recording each field's line and collecting every problem rather than
// stopping at the first. It replaces yaml.v3's own struct decoding, whose
// errors name a Go type ("field x not found in type config.TA") rather
// than the field's place in the file.
type decoder struct {
	pos  positions
	errs []*FieldError
}

func (d *decoder) fail(n *yaml.Node, field, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Line: n.Line, Field: field, Problem: fmt.Sprintf(format, args...)})
}

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decode stores n in v, the value of field.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, field string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if _, ok := d.pos[field]; !ok {
		d.pos[field] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // left empty: the default applies
	}
	pt := v.Addr().Type()
	switch {
	case pt.Implements(unmarshalerType):
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.fail(n, field, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		// Lists such as host_access are checked item by item later.
		if n.Kind == yaml.SequenceNode {
			for i, e := range n.Content {
				d.pos[fmt.Sprintf("%s[%d]", field, i)] = e.Line
			}
		}
		return
	case pt.Implements(textUnmarshalerType):
		if n.Kind != yaml.ScalarNode {
			d.fail(n, field, "want a single value, not %s", kindName(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(n, field, "%s", trimPackage(err.Error()))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, field)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, field, "want a list, not %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.decode(e, s.Index(i), fmt.Sprintf("%s[%d]", field, i))
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), field)
		v.Set(p)
	default:
		want := scalarWant(v.Kind())
		if n.Kind != yaml.ScalarNode {
			d.fail(n, field, "want %s, not %s", want, kindName(n))
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.fail(n, field, "%q: want %s", n.Value, want)
		}
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, field string) {
	names, index := yamlFields(v.Type())
	if n.Kind != yaml.MappingNode {
		d.fail(n, field, "want a mapping with the fields %s, not %s", strings.Join(names, ", "), kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		sub := k.Value
		if field != "" {
			sub = field + "." + k.Value
		}
		if l, dup := seen[k.Value]; dup {
			d.fail(k, sub, "given twice (first at line %d): give each field once", l)
			continue
		}
		seen[k.Value] = k.Line
		j, ok := index[k.Value]
		if !ok {
			where := "here"
			if field != "" {
				where = "in " + field
			}
			d.fail(k, sub, "unknown field: allowed %s are %s", where, strings.Join(names, ", "))
			continue
		}
		// A field's line is its key's: for a nested mapping the value
		// starts on the next line.
		d.pos[sub] = k.Line
		d.decode(val, v.Field(j), sub)
	}
}

// yamlFields lists a struct type's YAML field names in declaration order
// and maps each to its field index.
func yamlFields(t reflect.Type) ([]string, map[string]int) {
	var names []string
	index := map[string]int{}
	for i := range t.NumField() {
		name := YAMLName(t.Field(i))
		if name == "" {
			continue
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

// YAMLName is the name a struct field has in the configuration file, ""
// for a field the file cannot set.
func YAMLName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

func scalarWant(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.String:
		return "a string"
	}
	return "a single value"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "this"
}

// trimPackage drops a "pkg: " prefix from an error a library returned.
func trimPackage(s string) string {
	if i := strings.Index(s, ": "); i > 0 && !strings.ContainsAny(s[:i], " \"") {
		return s[i+2:]
	}
	return s
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 parse error in b into a FieldError with the
// line of the problem.
func syntaxError(b []byte, err error) *FieldError {
	line, msg := splitYAMLError(err)
	if l := problemLine(b, msg); l > 0 {
		line = l
	}
	return &FieldError{Line: line, Problem: "not valid YAML: " + msg}
}

func splitYAMLError(err error) (line int, msg string) {
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		return line, m[2]
	}
	return 0, msg
}

// problemLine finds the line where the YAML in b first goes wrong: the
// first line whose inclusion makes the parser fail with msg. yaml.v3
// reports the line where the enclosing block starts, which for a
// mis-indented key deep in a TA is the TA's first line, and sometimes no
// line at all; configuration files are small, so parsing each prefix
// costs nothing.
func problemLine(b []byte, msg string) int {
	end := 0
	for i, l := range bytes.SplitAfter(b, []byte("\n")) {
		end += len(l)
		var n yaml.Node
		if err := yaml.Unmarshal(b[:end], &n); err != nil {
			if _, m := splitYAMLError(err); m == msg {
				return i + 1
			}
		}
	}
	return 0
}

// located attaches file to errs, orders them by line and joins them.
func located(file string, errs []*FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *FieldError) int { return cmp.Compare(a.Line, b.Line) })
	out := make([]error, len(errs))
	for i, e := range errs {
		e.File = file
		out[i] = e
	}
	return errors.Join(out...)
}
