package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestCheck: tzbridge check accepts the shipped configurations and names
// the file and field of a broken one, starting nothing.
func TestCheck(t *testing.T) {
	out, err := exec.Command(tzbridgeBin(), "check", "--config", "../configs/echo.yaml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("check of configs/echo.yaml: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	yaml := "tee: sim\ntas:\n  - name: echo\n    uuid: " + echoUUID + "\n    builtin: nosuch\n    restart: sometimes\n"
	if err := os.WriteFile(bad, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(tzbridgeBin(), "check", "--config", bad).CombinedOutput()
	if err == nil {
		t.Fatalf("check accepted a broken config:\n%s", out)
	}
	for _, want := range []string{bad + ":", `:6: tas[0].restart: "sometimes": want always, on-failure or never`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

// TestHelp: the binary's help for every command it lists (and the hidden
// shadow) starts with a one-line purpose and shows flags and an example.
func TestHelp(t *testing.T) {
	out, err := exec.Command(tzbridgeBin(), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("tzbridge --help: %v\n%s", err, out)
	}
	// "Available Commands:" lists "  name   purpose" lines up to a blank line.
	_, list, ok := strings.Cut(string(out), "Available Commands:\n")
	if !ok {
		t.Fatalf("tzbridge --help lists no commands:\n%s", out)
	}
	list, _, _ = strings.Cut(list, "\n\n")
	purposes := map[string]string{}
	for _, l := range strings.Split(list, "\n") {
		name, purpose, _ := strings.Cut(strings.TrimSpace(l), " ")
		purposes[name] = strings.TrimSpace(purpose)
	}
	for _, want := range []string{"run", "status", "check", "tee-info", "secure-world", "version", "bench", "help", "completion"} {
		if _, ok := purposes[want]; !ok {
			t.Errorf("tzbridge --help does not list %s", want)
		}
	}
	purposes["shadow"] = "" // hidden: not listed, still documented
	for sub, purpose := range purposes {
		out, err := exec.Command(tzbridgeBin(), sub, "--help").CombinedOutput()
		if err != nil {
			t.Errorf("%s --help: %v", sub, err)
			continue
		}
		help := string(out)
		first, _, _ := strings.Cut(help, "\n")
		if first == "" || (purpose != "" && first != purpose) {
			t.Errorf("%s --help starts with %q, want its purpose %q", sub, first, purpose)
		}
		for _, want := range []string{"Flags:", "Examples:\n  tzbridge "} {
			if !strings.Contains(help, want) {
				t.Errorf("%s --help lacks %q:\n%s", sub, want, help)
			}
		}
	}
}

// TestVersion: the binary built from this tree (go build, as TestMain
// does) names the commit it was built from, marked +dirty exactly when git
// sees changes, and the Go version. (go build records the revision in a
// clone, not in a linked worktree: there it says "unknown".)
func TestVersion(t *testing.T) {
	out, err := exec.Command(tzbridgeBin(), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("tzbridge version: %v\n%s", err, out)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	top, terr := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	var gitDir os.FileInfo
	if err == nil && terr == nil {
		gitDir, err = os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git"))
	}
	if err != nil || !gitDir.IsDir() {
		// Not a checkout (a source tarball), or a linked worktree, whose
		// .git is a file that go build does not recognize: no revision
		// is recorded.
		if !strings.Contains(string(out), "revision:  unknown\n") {
			t.Errorf("without a revision in the build, version shows one:\n%s", out)
		}
		return
	}
	status, err := exec.Command("git", "status", "--porcelain").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "revision:  " + strings.TrimSpace(string(head))
	if len(status) > 0 {
		want += "+dirty"
	}
	for _, w := range []string{want + "\n", "go:        " + runtime.Version() + " "} {
		if !strings.Contains(string(out), w) {
			t.Errorf("version lacks %q:\n%s", w, out)
		}
	}
}
