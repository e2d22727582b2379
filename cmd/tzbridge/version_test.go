package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestWriteVersion(t *testing.T) {
	const rev = "57b792a0c3f1e2d4b5a69788a9b0c1d2e3f40516"
	tests := []struct {
		name     string
		version  string
		settings []debug.BuildSetting
		built    string
		want     []string
		notWant  []string
	}{
		{"clean checkout", "v0.3.0", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}, {Key: "vcs.time", Value: "2026-12-08T00:27:00Z"}}, "",
			[]string{"tzbridge v0.3.0\n", "revision:  " + rev + "\n", "committed: 2026-12-08T00:27:00Z\n", "go:        go1.26.8 "}, []string{"dirty", "built:"}},
		{"dirty tree", "v0.3.1-0.20261208002700-57b792a0c3f1+dirty", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}, "2026-12-08T01:00:00Z",
			[]string{"revision:  " + rev + "+dirty\n", "built:     2026-12-08T01:00:00Z\n"}, nil},
		{"go run", "", nil, "",
			[]string{"tzbridge (devel)\n", "module:    github.com/tzmediator/tzbridge (devel)\n", "revision:  unknown\n"}, []string{"committed:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/tzmediator/tzbridge", Version: tt.version}, Settings: tt.settings}
			var b bytes.Buffer
			writeVersion(&b, bi, tt.built)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(b.String(), w) {
					t.Errorf("output has %q:\n%s", w, b.String())
				}
			}
		})
	}
}
