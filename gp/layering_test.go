package gp

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/tzmediator/tzbridge"

// TestLayering checks the import graph this package exists for: the
// simulated secure world, its TAs, its wire format and the configuration do
// not depend on the normal-world client, and gp depends on nothing of the
// project. It asks the go command, so build tags and every transitive import
// count as they do in a build.
func TestLayering(t *testing.T) {
	tests := []struct {
		name   string
		roots  []string // packages whose dependencies are checked
		banned func(path string) bool
	}{
		{
			name:   "secure world without the client",
			roots:  []string{module + "/securesim/...", module + "/ta/...", module + "/internal/simwire", module + "/config"},
			banned: func(p string) bool { return p == module+"/teeclient" || strings.HasPrefix(p, module+"/teeclient/") },
		},
		{
			name:   "gp at the bottom",
			roots:  []string{module + "/gp"},
			banned: func(p string) bool { return p != module+"/gp" && strings.HasPrefix(p, module+"/") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}"}, tt.roots...)
			out, err := exec.Command("go", args...).Output()
			if err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					t.Fatalf("go list: %v\n%s", err, ee.Stderr)
				}
				t.Fatalf("go list: %v", err)
			}
			var listed []string
			for line := range strings.Lines(string(out)) {
				f := strings.Fields(line)
				if len(f) == 0 {
					continue
				}
				listed = append(listed, f[0])
				for _, imp := range f[1:] {
					if tt.banned(imp) {
						t.Errorf("%s imports %s", f[0], imp)
					}
				}
			}
			// A root that matched nothing would pass vacuously.
			for _, r := range tt.roots {
				dir := strings.TrimSuffix(r, "/...")
				if !slices.ContainsFunc(listed, func(p string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }) {
					t.Errorf("go list -deps listed nothing for %s", r)
				}
			}
		})
	}
}
