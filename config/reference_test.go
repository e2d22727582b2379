package config

import (
	"encoding"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const referenceFile = "../configs/reference.yaml"

// commentedFields may appear in the reference only as comments: a TA has
// exactly one of builtin, wasm and native, and listen and wasm_memory are
// for wasm TAs.
var commentedFields = []string{"tas.wasm", "tas.native", "tas.listen", "tas.limits.wasm_memory"}

// TestReferenceDocumentsEveryField keeps configs/reference.yaml and the
// Go types from drifting apart: every field the file format has must
// appear in the reference.
func TestReferenceDocumentsEveryField(t *testing.T) {
	b, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	collectKeys(&doc, "", have)
	fields := fieldPaths(reflect.TypeFor[Config](), "")
	if len(fields) < 30 {
		t.Fatalf("found only %d fields in config.Config: the walk is broken: %v", len(fields), fields)
	}
	for _, f := range fields {
		if have[f] {
			continue
		}
		if slices.Contains(commentedFields, f) {
			name := f[strings.LastIndex(f, ".")+1:]
			if regexp.MustCompile(`(?m)^\s*# ` + name + `: `).Match(b) {
				continue
			}
		}
		t.Errorf("%s: field %s is not documented", referenceFile, f)
	}
}

// TestReferenceDefaults: the first TA of the reference writes out every
// optional field with its default, so it must equal a TA that leaves them
// out once the fields it sets for the example are set the same.
func TestReferenceDefaults(t *testing.T) {
	ref, err := Load(referenceFile)
	if err != nil {
		t.Fatal(err)
	}
	got := ref.TAs[0]
	min, err := Parse([]byte("tas:\n  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := min.TAs[0]
	// Examples, not defaults: the default is none.
	want.Proxies, want.Endpoints = got.Proxies, got.Endpoints
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reference TA differs from the defaults:\n got  %+v\n want %+v", got, want)
	}
	if ref.Mount != min.Mount || ref.TEE != min.TEE || ref.Metrics != min.Metrics || ref.SimThreads != min.SimThreads {
		t.Errorf("reference mount %q tee %q metrics %q sim_threads %d, defaults %q %q %q %d",
			ref.Mount, ref.TEE, ref.Metrics, ref.SimThreads, min.Mount, min.TEE, min.Metrics, min.SimThreads)
	}
	// The first endpoint writes out owner and group defaults.
	e := got.Endpoints[0]
	if e.Owner != "0" || e.Group != "0" {
		t.Errorf("reference endpoint owner %q group %q, defaults 0 0", e.Owner, e.Group)
	}
}

// collectKeys records the paths of mapping keys under n, lists flattened
// (tas[3].name is tas.name).
func collectKeys(n *yaml.Node, prefix string, have map[string]bool) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			collectKeys(c, prefix, have)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if prefix != "" {
				p = prefix + "." + p
			}
			have[p] = true
			collectKeys(n.Content[i+1], p, have)
		}
	}
}

// fieldPaths lists the file-format paths of t's fields, stopping at types
// that decode themselves (a mode, a UUID, host_access).
func fieldPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		name := YAMLName(t.Field(i))
		if name == "" {
			continue
		}
		p := name
		if prefix != "" {
			p = prefix + "." + name
		}
		out = append(out, p)
		ft := t.Field(i).Type
		for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		pt := reflect.PointerTo(ft)
		if ft.Kind() == reflect.Struct && !pt.Implements(reflect.TypeFor[yaml.Unmarshaler]()) && !pt.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
			out = append(out, fieldPaths(ft, p)...)
		}
	}
	return out
}
