package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseUUID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"5e1f0c2a-3b4d-4e6f-8a9b-0c1d2e3f4a5b", "{ 0x5e1f0c2a, 0x3b4d, 0x4e6f, { 0x8a, 0x9b, 0x0c, 0x1d, 0x2e, 0x3f, 0x4a, 0x5b } }", true},
		{"5E1F0C2A-3B4D-4E6F-8A9B-0C1D2E3F4A5B", "{ 0x5E1F0C2A, 0x3B4D, 0x4E6F, { 0x8A, 0x9B, 0x0C, 0x1D, 0x2E, 0x3F, 0x4A, 0x5B } }", true},
		{"5e1f0c2a3b4d4e6f8a9b0c1d2e3f4a5b", "", false},
		{"5e1f0c2a-3b4d-4e6f-8a9b-0c1d2e3f4a5", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := parseUUID(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseUUID(%q) = %q, %v", tt.in, got, err)
		}
	}
}

const hdrTail = `
wasm_rt_memory_t* Z_wasmZ_memory(Z_wasm_instance_t* instance);
void Z_wasmZ__start(Z_wasm_instance_t*);
`

func TestBindImports(t *testing.T) {
	imp := func(mod, name, decl string) string {
		return "/* import: '" + mod + "' '" + name + "' */\n" + decl + "\n"
	}
	tests := []struct {
		name string
		hdr  string
		want string // "" ok, else a substring of the error
	}{
		{"fd_write", imp("wasi_snapshot_preview1", "fd_write", "u32 Z_wasi_snapshot_preview1Z_fd_write(struct Z_wasi_snapshot_preview1_instance_t*, u32, u32, u32, u32);") + hdrTail, ""},
		{"proc_exit", imp("wasi_snapshot_preview1", "proc_exit", "void Z_wasi_snapshot_preview1Z_proc_exit(struct Z_wasi_snapshot_preview1_instance_t*, u32);") + hdrTail, ""},
		{"tzposix socket", imp("tzposix", "socket", "u32 Z_tzposixZ_socket(struct Z_tzposix_instance_t*, u32, u32, u32);") + hdrTail, ""},
		{"unknown module", imp("env", "f", "u32 Z_envZ_f(struct Z_env_instance_t*, u32);") + hdrTail, "only wasi_snapshot_preview1 and tzposix"},
		{"unknown function", imp("wasi_snapshot_preview1", "fd_nope", "u32 Z_wasi_snapshot_preview1Z_fd_nope(struct Z_wasi_snapshot_preview1_instance_t*, u32);") + hdrTail, "does not provide"},
		{"wrong signature", imp("wasi_snapshot_preview1", "fd_close", "u32 Z_wasi_snapshot_preview1Z_fd_close(struct Z_wasi_snapshot_preview1_instance_t*, u64);") + hdrTail, "wrong signature"},
		{"wrong result", imp("wasi_snapshot_preview1", "fd_close", "void Z_wasi_snapshot_preview1Z_fd_close(struct Z_wasi_snapshot_preview1_instance_t*, u32);") + hdrTail, "wrong signature"},
		{"imported memory", "/* import: 'env' 'memory' */\nextern wasm_rt_memory_t (*Z_envZ_memory);\n" + hdrTail, "not functions"},
		{"no _start", imp("wasi_snapshot_preview1", "fd_close", "u32 Z_wasi_snapshot_preview1Z_fd_close(struct Z_wasi_snapshot_preview1_instance_t*, u32);"), "no memory or no _start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bindImports(tt.hdr)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestEveryWASIFunctionBound: every function of WASI preview 1 that
// ta/wasm defines is bound here too, so that any toolchain's imports link.
func TestEveryWASIFunctionBound(t *testing.T) {
	b, err := os.ReadFile("../wasm/wasi.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, `export(b, "`); i >= 0 {
			names = append(names, strings.SplitN(line[i+len(`export(b, "`):], `"`, 2)[0])
		}
		if strings.Contains(line, `Export("proc_exit")`) {
			names = append(names, "proc_exit")
		}
	}
	if len(names) < 40 {
		t.Fatalf("found only %d functions in ta/wasm/wasi.go", len(names))
	}
	for _, n := range names {
		if _, ok := wasiImports[n]; !ok {
			t.Errorf("%s: not bound", n)
		}
	}
	if len(wasiImports) != len(names) {
		t.Errorf("%d bindings, ta/wasm defines %d functions", len(wasiImports), len(names))
	}
}

// TestExampleCrossCompiles: the example echo, compiled to wasm32-wasi and
// translated, compiles for aarch64 and arm with OP-TEE's TA flags and no
// warning (cross-check.sh). A missing tool fails the test.
func TestExampleCrossCompiles(t *testing.T) {
	for _, tool := range []string{"clang", "wasm2c", "aarch64-linux-gnu-gcc", "arm-linux-gnueabihf-gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (.ci/run installs it): %v", tool, err)
		}
	}
	dir := t.TempDir()
	wasm := filepath.Join(dir, "echo.wasm")
	if out, err := exec.Command("clang", "--target=wasm32-wasi", "-O2", "-I../c/wasi/guest", "-o", wasm, "examples/echo/echo.c").CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	src := filepath.Join(dir, "src")
	o := options{module: wasm, uuid: "5e1f0c2a-3b4d-4e6f-8a9b-0c1d2e3f4a5b", out: src, memory: defaultMemory,
		stack: defaultStack, callDepth: defaultCallDepth, tzposix: "../c", listen: []string{"tcp://127.0.0.1:7000"}}
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "cross-check.sh", src, "../c").CombinedOutput()
	if err != nil {
		t.Fatalf("cross-check.sh: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "warning") {
		t.Fatalf("warnings:\n%s", out)
	}
	t.Logf("%s", out)
}
