// Command wasm2ta turns a WebAssembly module (a WASI preview 1 command,
// e.g. C built with clang --target=wasm32-wasi) into an OP-TEE TA source
// directory, and optionally into a native TA for tzbridge's simulator
// built from the same C:
//
//	wasm2ta -uuid UUID -o DIR [-name NAME] [-memory BYTES] [-stack BYTES]
//	        [-listen SPEC]... [-tzposix ta/c] [-native OUT] MODULE.wasm
//
// DIR receives wasm2c's translation of the module (wasm_module.c/.h), the
// C WASI layer and wasm2c runtime for a TA (ta/c/wasi), the bindings of
// the module's imports (ta_main.c), user_ta_header_defines.h, and a
// Makefile and sub.mk for OP-TEE's TA dev kit. -native builds DIR for the
// host with ta/c/build-host.sh (config: native: OUT). docs/wasm.md, "On a
// device", has the commands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Defaults: what the example echo needs with room (docs/wasm.md, "On a
// device", measured).
const (
	defaultMemory    = 1 << 20   // the module's memory cap
	defaultStack     = 256 << 10 // the TA program's coroutine stack
	defaultCallDepth = 400       // wasm calls deep before a trap
	pageSize         = 64 << 10
)

type options struct {
	module    string
	uuid      string
	out       string
	name      string
	memory    int
	stack     int
	callDepth int
	listen    []string
	tzposix   string
	native    string

	tzposixAbs string // tzposix, absolute: the Makefile's default
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var o options
	var listen listFlag
	flag.StringVar(&o.uuid, "uuid", "", "the TA's UUID (required)")
	flag.StringVar(&o.out, "o", "", "the TA source directory to write (required)")
	flag.StringVar(&o.name, "name", "", "the program's argv[0] (default: the module's base name)")
	flag.IntVar(&o.memory, "memory", defaultMemory, "the module's memory cap in bytes (rounded up to 64 KiB pages)")
	flag.IntVar(&o.stack, "stack", defaultStack, "the TA program's stack in bytes")
	flag.IntVar(&o.callDepth, "call-depth", defaultCallDepth, "wasm call depth before a trap (bounds the C stack used)")
	flag.Var(&listen, "listen", "a preopened listen socket: tcp://IP:PORT, udp://IP:PORT, unix:/PATH (repeatable; fds 4, 5, ...)")
	flag.StringVar(&o.tzposix, "tzposix", "ta/c", "libtzposix's directory (ta/c of the tzbridge tree)")
	flag.StringVar(&o.native, "native", "", "also build a native TA for the simulator, to this file")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: wasm2ta -uuid UUID -o DIR [options] MODULE.wasm\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || o.uuid == "" || o.out == "" {
		flag.Usage()
		os.Exit(2)
	}
	o.module, o.listen = flag.Arg(0), listen
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "wasm2ta:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	uuid, err := parseUUID(o.uuid)
	if err != nil {
		return err
	}
	if o.tzposixAbs, err = filepath.Abs(o.tzposix); err != nil {
		return err
	}
	if o.name == "" {
		o.name = strings.TrimSuffix(filepath.Base(o.module), ".wasm")
	}
	if o.memory <= 0 || o.stack < 16<<10 || o.callDepth <= 0 {
		return errors.New("-memory, -call-depth must be positive, -stack at least 16 KiB")
	}
	for _, l := range o.listen {
		if !strings.HasPrefix(l, "tcp://") && !strings.HasPrefix(l, "udp://") && !strings.HasPrefix(l, "unix:/") {
			return fmt.Errorf("-listen %q: want tcp://IP:PORT, udp://IP:PORT or unix:/PATH", l)
		}
	}
	b, err := os.ReadFile(o.module)
	if err != nil {
		return err
	}
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return fmt.Errorf("%s: not a WebAssembly module", o.module)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	// wasm2c: -n fixes the symbols' prefix (Z_wasm...), which ta_main.c uses.
	cmd := exec.Command("wasm2c", "-n", "wasm", o.module, "-o", filepath.Join(o.out, "wasm_module.c"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("wasm2c: %v\n%s", err, out)
	}
	hdr, err := os.ReadFile(filepath.Join(o.out, "wasm_module.h"))
	if err != nil {
		return err
	}
	bindings, err := bindImports(string(hdr))
	if err != nil {
		return fmt.Errorf("%s: %w", o.module, err)
	}
	if err := prependPragmas(filepath.Join(o.out, "wasm_module.c")); err != nil {
		return err
	}
	if err := copyRuntime(o); err != nil {
		return err
	}
	pages := (o.memory + pageSize - 1) / pageSize
	files := map[string]string{
		"ta_main.c":                taMain(o, pages, bindings),
		"user_ta_header_defines.h": headerDefines(o, uuid, pages),
		"Makefile":                 makefile(o),
		"sub.mk":                   subMk(o),
		"optee-include/math.h":     mathShim,
		"optee-include/alloca.h":   allocaShim,
		"optee-include/README":     shimReadme,
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(o.out, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(files[n]), 0o644); err != nil {
			return err
		}
	}
	if o.native != "" {
		args := append([]string{filepath.Join(o.tzposix, "build-host.sh"), o.out, o.native}, cflags(o)...)
		cmd := exec.Command("sh", args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build-host.sh: %v\n%s", err, out)
		}
	}
	return nil
}

// cflags are the compiler flags every build of the directory needs.
func cflags(o options) []string {
	return []string{
		"-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0",
		fmt.Sprintf("-DWASM_RT_MAX_CALL_STACK_DEPTH=%d", o.callDepth),
		fmt.Sprintf("-DTZPOSIX_STACK_SIZE=%d", o.stack),
	}
}

var uuidRE = regexp.MustCompile(`^([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})$`)

// parseUUID returns the UUID as OP-TEE's TEE_UUID initializer.
func parseUUID(s string) (string, error) {
	m := uuidRE.FindStringSubmatch(s)
	if m == nil {
		return "", fmt.Errorf("-uuid %q: not a UUID", s)
	}
	clock := m[4] + m[5]
	var bs []string
	for i := 0; i < len(clock); i += 2 {
		bs = append(bs, "0x"+clock[i:i+2])
	}
	return fmt.Sprintf("{ 0x%s, 0x%s, 0x%s, { %s } }", m[1], m[2], m[3], strings.Join(bs, ", ")), nil
}

// importRE matches one import as wasm2c 1.0.32 declares it in the header.
var importRE = regexp.MustCompile(`/\* import: '([^']*)' '([^']*)' \*/\n(u32|u64|f32|f64|void) (\w+)\(struct (\w+)\*((?:, (?:u32|u64|f32|f64))*)\);`)

// A bound import: the declaration to define and the call it makes.
type bound struct {
	ret, fn, inst string
	params        []string
	b             binding
}

// bindImports finds the module's imports in wasm2c's header and binds
// each to the C WASI layer; an import it does not provide, or with
// another signature, is refused (as ta/wasm refuses it at link time).
func bindImports(hdr string) ([]bound, error) {
	var out []bound
	for _, m := range importRE.FindAllStringSubmatch(hdr, -1) {
		mod, name, ret, fn, inst := m[1], m[2], m[3], m[4], m[5]
		var table map[string]binding
		switch mod {
		case "wasi_snapshot_preview1":
			table = wasiImports
		case "tzposix":
			table = tzposixImports
		default:
			return nil, fmt.Errorf("imports %s.%s: only wasi_snapshot_preview1 and tzposix are provided", mod, name)
		}
		b, ok := table[name]
		if !ok {
			return nil, fmt.Errorf("imports %s.%s, which the bridge does not provide", mod, name)
		}
		var params []string
		if m[6] != "" {
			params = strings.Split(strings.TrimPrefix(m[6], ", "), ", ")
		}
		var sig strings.Builder
		for _, p := range params {
			switch p {
			case "u32":
				sig.WriteByte('i')
			case "u64":
				sig.WriteByte('I')
			default:
				sig.WriteByte('?')
			}
		}
		if sig.String() != b.params || (ret == "u32") != b.result || (ret != "u32" && ret != "void") {
			return nil, fmt.Errorf("imports %s.%s with the wrong signature", mod, name)
		}
		out = append(out, bound{ret: ret, fn: fn, inst: inst, params: params, b: b})
	}
	if !strings.Contains(hdr, "Z_wasmZ_memory(") || !strings.Contains(hdr, "Z_wasmZ__start(") {
		return nil, errors.New("the module exports no memory or no _start (not a WASI command)")
	}
	if strings.Contains(hdr, "/* import: '") && len(out) != strings.Count(hdr, "/* import: '") {
		return nil, errors.New("imports that are not functions (memory, table or global): not provided")
	}
	return out, nil
}

// generatedPragmas silence, for wasm2c's output only, warnings OP-TEE's
// flags raise on it: it declares every function before use in its own
// way and leaves parameters and labels unused.
const generatedPragmas = `/* Added by wasm2ta: OP-TEE's TA flags, on wasm2c's output only. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-label"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wmissing-declarations"
#pragma GCC diagnostic ignored "-Wredundant-decls"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wold-style-definition"
#pragma GCC diagnostic ignored "-Wundef"
#pragma GCC diagnostic ignored "-Wunused-value"
`

func prependPragmas(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(generatedPragmas), b...), 0o644)
}

// copyRuntime puts the C WASI layer, the runtime and wasm-rt.h into the
// directory, so that it builds on its own (with libtzposix).
func copyRuntime(o options) error {
	for _, f := range []string{"wasi.c", "wasi.h", "wasm_rt_ta.c", "wasm_rt_ta.h", "wasi_gp.c"} {
		b, err := os.ReadFile(filepath.Join(o.tzposix, "wasi", f))
		if err != nil {
			return fmt.Errorf("the C WASI layer: %w (set -tzposix to ta/c)", err)
		}
		if err := os.WriteFile(filepath.Join(o.out, f), b, 0o644); err != nil {
			return err
		}
	}
	var rt []byte
	var err error
	for _, p := range []string{"/usr/include/wasm-rt.h", "/usr/src/wasm2c/wasm-rt.h"} {
		if rt, err = os.ReadFile(p); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("wasm-rt.h (Debian package wabt): %w", err)
	}
	return os.WriteFile(filepath.Join(o.out, "wasm-rt.h"), rt, 0o644)
}

func cString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range []byte(s) {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteByte(r)
		case r < 0x20 || r >= 0x7f:
			fmt.Fprintf(&b, "\\%03o", r)
		default:
			b.WriteByte(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
