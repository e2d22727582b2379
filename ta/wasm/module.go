package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/netaddr"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/ta/tzposix"
)

// DefaultMemoryLimit caps a module's linear memory: 256 MiB.
const DefaultMemoryLimit = 256 << 20

// Options tune how a module runs. The zero value is the default.
type Options struct {
	// MemoryLimit caps the module's linear memory in bytes (rounded down
	// to 64 KiB pages; at most 4 GiB). 0 means DefaultMemoryLimit. A
	// module that grows past it sees memory.grow fail.
	MemoryLimit int64
	// CacheDir holds compiled modules across runs. "" picks
	// $XDG_CACHE_HOME/tzbridge, else /var/cache/tzbridge for root or
	// ~/.cache/tzbridge, else a private directory under the temp dir.
	CacheDir string
	// Logger receives the TA's stdout and stderr (one record per line,
	// tagged ta=<name>) and the host's own messages. nil is slog.Default().
	Logger *slog.Logger
	// LogLinesPerSecond and LogBurst rate-limit the TA's output lines; 0
	// means DefaultLogLinesPerSecond and DefaultLogBurst.
	LogLinesPerSecond float64
	LogBurst          int
	// Props are the TA's GP properties. nil means single-instance and
	// single-session: the sockets of listen exist once.
	Props *securesim.Properties
}

// Trap is what a TA whose module trapped panics with: the securesim host
// turns the panic into TEE_ERROR_TARGET_DEAD for the TA's sessions, as
// OP-TEE does for a TA that crashes.
type Trap struct {
	TA  string
	Err error // wazero's error, with the wasm stack trace
}

func (t *Trap) Error() string { return fmt.Sprintf("wasm TA %s trapped: %v", t.TA, t.Err) }
func (t *Trap) Unwrap() error { return t.Err }

// Definition makes a TA of the WebAssembly (WASI preview 1) module at path.
// The module is compiled once per process, by the definition's Prepare or
// else on the first session, and
// instantiated afresh for every session; listen are sockets made for each
// instance before it starts (see config.TA.Listen). Definition itself only
// checks that path is readable and looks like a module, so that it is
// cheap to call for validating a configuration.
func Definition(name string, uuid gp.UUID, path string, listen []netaddr.Addr, opts Options) (securesim.Definition, error) {
	if err := checkModuleFile(path); err != nil {
		return securesim.Definition{}, fmt.Errorf("wasm TA %s: %w", name, err)
	}
	if opts.MemoryLimit < 0 {
		return securesim.Definition{}, fmt.Errorf("wasm TA %s: memory limit %d is negative", name, opts.MemoryLimit)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	props := securesim.Properties{SingleInstance: true}
	if opts.Props != nil {
		props = *opts.Props
	}
	m := &module{name: name, path: path, listen: append([]netaddr.Addr(nil), listen...), opts: opts,
		log: opts.Logger.With("ta", name)}
	d := tzposix.Definition(name, uuid, props, m.program)
	// Compiling ahead of the first session: a failure is remembered by
	// load and reported by the session that meets it.
	d.Prepare = func() { _, _, _ = m.load() }
	return d, nil
}

// checkModuleFile reads the 8-byte preamble of a module.
func checkModuleFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var pre [8]byte
	if _, err := io.ReadFull(f, pre[:]); err != nil || !bytes.Equal(pre[:], []byte("\x00asm\x01\x00\x00\x00")) {
		return fmt.Errorf("%s is not a WebAssembly module (binary format version 1)", path)
	}
	return nil
}

// module is one configured TA's module: the runtime holding the host
// modules and the compiled code, made once, used by every session.
type module struct {
	name   string
	path   string
	listen []netaddr.Addr
	opts   Options
	log    *slog.Logger

	mu       sync.Mutex // held while compiling: sessions wait for it
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	err      error
	errFile  fileID // the file that failed to compile with err
}

// fileID tells whether a file changed.
type fileID struct {
	size  int64
	mtime time.Time
}

func statID(path string) fileID {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}
	}
	return fileID{fi.Size(), fi.ModTime()}
}

// load compiles the module on first use; later sessions share the result.
// A failure is remembered for as long as the file stays the same, so that
// a broken module is not compiled again at every restart, while a fixed
// one is picked up without restarting the bridge.
func (m *module) load() (wazero.Runtime, wazero.CompiledModule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.compiled != nil {
		return m.rt, m.compiled, nil
	}
	id := statID(m.path)
	if m.err != nil && id == m.errFile {
		return nil, nil, m.err
	}
	m.rt, m.compiled, m.err = m.compile()
	m.errFile = id
	return m.rt, m.compiled, m.err
}

func (m *module) compile() (wazero.Runtime, wazero.CompiledModule, error) {
	start := time.Now()
	// Compilation is not the session's: a session closing mid-way must not
	// leave a failed compilation behind for the next one.
	ctx := experimental.WithCompilationWorkers(context.Background(), runtime.GOMAXPROCS(0))
	bin, err := os.ReadFile(m.path)
	if err != nil {
		return nil, nil, fmt.Errorf("wasm TA %s: %w", m.name, err)
	}
	limit := m.opts.MemoryLimit
	if limit == 0 {
		limit = DefaultMemoryLimit
	}
	pages := uint32(min(max(limit>>16, 1), 65536))
	cfg := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(pages).
		WithCloseOnContextDone(true)
	dir, cache, cerr := openCache(m.opts.CacheDir)
	if cerr != nil {
		m.log.Warn("wasm compilation cache unavailable; compiling without it", "err", cerr)
	} else {
		cfg = cfg.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	fail := func(err error) (wazero.Runtime, wazero.CompiledModule, error) {
		rt.Close(ctx)
		return nil, nil, fmt.Errorf("wasm TA %s: %s: %w", m.name, m.path, err)
	}
	if _, err := newWASI(rt).Instantiate(ctx); err != nil {
		return fail(fmt.Errorf("host module %s: %w", wasiModule, err))
	}
	if _, err := newTzposix(rt).Instantiate(ctx); err != nil {
		return fail(fmt.Errorf("host module %s: %w", tzposixModule, err))
	}
	compiled, err := rt.CompileModule(ctx, bin)
	if err != nil {
		return fail(fmt.Errorf("compile: %w", err))
	}
	if _, ok := compiled.ExportedMemories()["memory"]; !ok {
		return fail(errors.New(`the module exports no "memory": not a WASI command`))
	}
	if _, ok := compiled.ExportedFunctions()["_start"]; !ok {
		return fail(errors.New(`the module exports no "_start": not a WASI command`))
	}
	for _, f := range compiled.ImportedFunctions() {
		if mod, name, _ := f.Import(); mod != wasiModule && mod != tzposixModule {
			return fail(fmt.Errorf("imports %s.%s: only %s and %s are provided", mod, name, wasiModule, tzposixModule))
		}
	}
	m.log.Info("wasm module compiled", "file", m.path, "bytes", len(bin), "took", time.Since(start).Round(time.Millisecond),
		"cache", dir, "memory_limit_mib", int64(pages)<<16>>20)
	return rt, compiled, nil
}

// program is the TA: one instance of the module per session.
func (m *module) program(ctx context.Context, p *tzposix.Proc) error {
	return m.run(ctx, p)
}

func (m *module) run(ctx context.Context, p posix) error {
	rt, compiled, err := m.load()
	if err != nil {
		m.log.Error("wasm TA cannot start", "err", err)
		return err
	}
	rate, burst := m.opts.LogLinesPerSecond, m.opts.LogBurst
	if rate <= 0 {
		rate = DefaultLogLinesPerSecond
	}
	if burst <= 0 {
		burst = DefaultLogBurst
	}
	out := newLogSink(m.log, rate, burst)
	defer out.close()
	st := newInstance(ctx, p, m.name, out)
	if err := st.preopen(m.listen); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err = fmt.Errorf("wasm TA %s: %w", m.name, err)
		m.log.Error("wasm TA cannot start", "err", err)
		return err
	}
	ictx := context.WithValue(ctx, instanceKey{}, st)
	// No start functions here: _start is called below, so that its
	// outcome can be told apart from instantiation failing.
	inst, err := rt.InstantiateModule(ictx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err = fmt.Errorf("wasm TA %s: instantiate: %w", m.name, err)
		m.log.Error("wasm TA cannot start", "err", err)
		return err
	}
	defer inst.Close(context.Background())
	// The module's code holds a thread for as long as it computes: its own,
	// so that a module that never makes a call delays no other TA's calls
	// (securesim.OwnThread; docs/wasm.md).
	release := securesim.OwnThread(ctx)
	defer release()
	_, err = inst.ExportedFunction("_start").Call(ictx)
	return m.outcome(ctx, st, err)
}

// outcome turns how _start ended into the program's result: proc_exit's
// status, a cancelled session, or a trap — which panics, so that the host
// declares the TA dead (TEE_ERROR_TARGET_DEAD) and the supervisor restarts
// it by its policy.
func (m *module) outcome(ctx context.Context, st *instance, err error) error {
	var exit *sys.ExitError
	switch {
	case st.exited:
		if st.status == 0 {
			return nil
		}
		m.log.Info("wasm TA exited", "status", st.status)
		return tzposix.ExitStatus(int32(st.status))
	case err == nil:
		return nil // _start returned
	case ctx.Err() != nil:
		// The session closed (or the bridge is stopping) and wazero
		// stopped the module; nobody is waiting for a status.
		return ctx.Err()
	case errors.As(err, &exit):
		return tzposix.ExitStatus(int32(exit.ExitCode()))
	}
	panic(&Trap{TA: m.name, Err: err})
}

// openCache opens the compilation cache directory: dir if given, else the
// first usable default. Compiled code from the cache is executed, so a
// directory is only used if it is ours and no one else can write to it.
func openCache(dir string) (string, wazero.CompilationCache, error) {
	var candidates []string
	if dir != "" {
		candidates = []string{dir}
	} else {
		if x := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(x) {
			candidates = append(candidates, filepath.Join(x, "tzbridge"))
		} else if os.Geteuid() == 0 {
			candidates = append(candidates, "/var/cache/tzbridge")
		} else if home, err := os.UserHomeDir(); err == nil {
			candidates = append(candidates, filepath.Join(home, ".cache", "tzbridge"))
		}
		candidates = append(candidates, filepath.Join(os.TempDir(), "tzbridge-cache-"+strconv.Itoa(os.Geteuid())))
	}
	var errs []error
	for _, d := range candidates {
		if err := privateDir(d); err != nil {
			errs = append(errs, err)
			continue
		}
		c, err := wazero.NewCompilationCacheWithDir(d)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d, err))
			continue
		}
		return d, c, nil
	}
	return "", nil, errors.Join(errs...)
}

// privateDir makes sure d is a directory (created 0700 if missing) owned by
// us and writable by no one else, and not a symlink.
func privateDir(d string) error {
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(d)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", d)
	case !ok || int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s is not owned by uid %d", d, os.Geteuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by others (mode %v)", d, fi.Mode().Perm())
	}
	return nil
}
