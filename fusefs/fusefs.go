package fusefs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Options configure a mount.
type Options struct {
	// Mountpoint is where the tree appears, normally "/tz". It is created if
	// missing.
	Mountpoint string

	// Logger receives one line per notable event (stale mount cleared,
	// forced unmount) and go-fuse's own diagnostics. Nil discards them.
	Logger *slog.Logger

	// MayModify decides whether caller may create, delete or rename nodes
	// in the tree of TA ta. It runs after the kernel's permission check
	// and only for TAs whose TAOptions.CAMayModify is false. Nil allows
	// everyone the kernel allows.
	//
	// caller.Pid is the id of the calling thread (what gettid(2) returns),
	// not necessarily the process id, seen from the mounter's PID
	// namespace; 0 when the caller is in a PID namespace the mounter cannot
	// see. [ProcessID] maps it to the process. The hook runs inside a FUSE
	// request: it must not block for long and must not call back into FS.
	MayModify func(ta string, caller fuse.Caller) bool

	// Debug logs every FUSE request and reply at debug level.
	Debug bool

	// cacheTTL overrides the kernel entry/attribute cache lifetime; only
	// tests and benchmarks set it, to measure what caching buys.
	cacheTTL *time.Duration
}

// EndpointKind is the type of a declared endpoint.
type EndpointKind int

// Endpoint kinds.
const (
	// FIFO is a named pipe, created when the TA is added.
	FIFO EndpointKind = iota + 1
	// UnixSocket is a UNIX socket node, created when someone binds it.
	UnixSocket
)

func (k EndpointKind) String() string {
	switch k {
	case FIFO:
		return "fifo"
	case UnixSocket:
		return "unix-socket"
	}
	return fmt.Sprintf("EndpointKind(%d)", int(k))
}

// Endpoint declares one name a TA serves and who may use it.
type Endpoint struct {
	// Name is a slash-separated path inside the TA directory, e.g. "in"
	// or "sub/x". Missing parent directories are created (mode 0755, owned
	// by the mounter) when the TA is added.
	Name string
	Kind EndpointKind
	// Mode holds the permission bits (and setuid/setgid/sticky); zero
	// means 0600.
	Mode os.FileMode
	// UID and GID own the node; zero means the mounting user's, which
	// is root in a normal deployment.
	UID, GID uint32
}

// TAOptions describe one TA directory.
type TAOptions struct {
	// Endpoints are the declared FIFOs and sockets of the TA.
	Endpoints []Endpoint

	// Status produces the content of .tz/status; it is called on every
	// open of that file, inside a FUSE request, so it should be quick and
	// must not call back into FS. Nil gives an empty file.
	Status func() []byte
	// StatusJSON does the same for .tz/status.json, the machine-readable
	// status.
	StatusJSON func() []byte

	// CAMayModify lets every caller the kernel's permission check allows
	// create, delete and rename nodes in this TA's tree, bypassing
	// Options.MayModify. When false, Options.MayModify decides.
	CAMayModify bool

	// MaxNodes bounds the nodes (FIFOs, UNIX socket nodes, directories)
	// the TA directory holds at once, the declared endpoints and their
	// parent directories included, .tz not; zero means no bound. Past it
	// mkdir and mknod (mkfifo, a UNIX socket's bind) fail with EDQUOT,
	// whoever asks: the bound is the TA's quota of the tree, and each
	// node costs the daemon memory. A TA whose declared endpoints alone
	// exceed it still gets them.
	MaxNodes int

	// DirMode is the mode of the TA directory; zero means 0755.
	DirMode os.FileMode
	// DirUID and DirGID own the TA directory; zero means the mounting
	// user's.
	DirUID, DirGID uint32
}

// FS is a mounted /tz tree.
type FS struct {
	mountpoint string
	log        *slog.Logger
	mayModify  func(string, fuse.Caller) bool
	owner      fuse.Owner // the mounter; owns the root and generated dirs
	direct     bool       // mounted with mount(2), not fusermount
	mountID    uint64     // tells our mount from a later one at the same path
	connID     uint32     // FUSE connection number, for the fusectl abort fallback

	root   *rootDir
	served chan struct{} // closed when the serve loop has returned
	stop   chan struct{} // closed by Close, ends the ctx watcher

	mu     sync.Mutex
	tas    map[string]*taState
	closed bool

	closeOnce sync.Once
	closeErr  error
}

// kernelCacheTTL is how long the kernel may trust a lookup or attributes
// without asking the daemon again. Every change made through the mount
// updates the kernel's caches synchronously (the kernel applies the reply
// of mknod/unlink/rename/setattr to its own dentries and inodes), and the
// only changes made behind its back — AddTA and RemoveTA — send explicit
// invalidations, so a positive TTL is safe. It matters: with ttl=0 every
// open of /tz/<ta>/<fifo> costs daemon round trips (measured ~115 µs
// against ~4 µs for a plain FIFO); with 100 ms or 1 s it costs the same as
// a plain FIFO (BenchmarkFIFOOpenClose).
const kernelCacheTTL = time.Second

// shutdownTimeout bounds how long Close waits for the serve loop after the
// connection is gone; only a request handler stuck in a callback can make
// it run out.
const shutdownTimeout = 10 * time.Second

// lingerTimeout is how long Close lets the FUSE connection end by itself
// after the unmount before it aborts it.
const lingerTimeout = time.Second

// Mount mounts an empty tree at opts.Mountpoint and serves it until Close is
// called or ctx is cancelled.
func Mount(ctx context.Context, opts Options) (*FS, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fusefs: mount: %w", err)
	}
	if opts.Mountpoint == "" {
		return nil, errors.New("fusefs: mount: empty mountpoint")
	}
	mp, err := filepath.Abs(opts.Mountpoint)
	if err != nil {
		return nil, fmt.Errorf("fusefs: mount %s: %w", opts.Mountpoint, err)
	}
	mp = resolveParent(mp)
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	direct := os.Geteuid() == 0
	fusermount, err := preflight(direct)
	if err != nil {
		return nil, fmt.Errorf("fusefs: mount %s: %w", mp, err)
	}
	if err := clearStaleMount(mp, direct, fusermount, logger); err != nil {
		return nil, fmt.Errorf("fusefs: mount %s: %w", mp, err)
	}
	if err := os.MkdirAll(mp, 0o755); err != nil {
		return nil, fmt.Errorf("fusefs: mount %s: create mountpoint: %w", mp, err)
	}

	f := &FS{
		mountpoint: mp,
		log:        logger,
		mayModify:  opts.MayModify,
		owner:      fuse.Owner{Uid: uint32(os.Geteuid()), Gid: uint32(os.Getegid())},
		direct:     direct,
		served:     make(chan struct{}),
		stop:       make(chan struct{}),
		tas:        make(map[string]*taState),
	}
	f.root = &rootDir{fsys: f}
	f.root.meta.init(0o755, f.owner)

	ttl := kernelCacheTTL
	if opts.cacheTTL != nil {
		ttl = *opts.cacheTTL
	}
	goLog := slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	fsOpts := &gofs.Options{
		EntryTimeout: &ttl,
		AttrTimeout:  &ttl,
		// A failed lookup is not cached: AddTA would otherwise have to
		// race the kernel's negative dentry.
		NegativeTimeout: new(time.Duration),
		// Modes are exactly what the nodes say; 0000 stays 0000.
		NullPermissions: true,
		Logger:          goLog,
		MountOptions: fuse.MountOptions{
			AllowOther: true,
			// The kernel, not this daemon, checks owner/group/mode.
			// Nothing here is meant to be executed.
			Options:           []string{"default_permissions", "noexec"},
			FsName:            "tzbridge",
			Name:              "tzbridge",
			DirectMount:       direct,
			DirectMountStrict: direct && fusermount == "",
			// No xattrs to offer; ENOSYS makes the kernel stop asking.
			DisableXAttrs: true,
			Debug:         opts.Debug,
			Logger:        goLog,
		},
	}
	if opts.Debug {
		// go-fuse writes its request trace to the same logger.
		fsOpts.MountOptions.Logger = slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	}
	raw := gofs.NewNodeFS(f.root, fsOpts)
	server, err := fuse.NewServer(raw, mp, &fsOpts.MountOptions)
	if err != nil {
		return nil, fmt.Errorf("fusefs: mount %s: %w", mp, explainMountError(err, direct))
	}
	go func() {
		server.Serve()
		close(f.served)
	}()
	if err := server.WaitMount(); err != nil {
		f.closeOnce.Do(func() { f.closeErr = f.shutdown() })
		return nil, fmt.Errorf("fusefs: mount %s: wait for mount: %w", mp, err)
	}
	f.mountID, f.connID, _ = mountIdentity(mp)
	go f.watch(ctx)
	return f, nil
}

// watch closes f when ctx is cancelled.
func (f *FS) watch(ctx context.Context) {
	select {
	case <-ctx.Done():
		if err := f.Close(); err != nil {
			f.log.Error("fusefs: close on context cancel", "mountpoint", f.mountpoint, "err", err)
		}
	case <-f.stop:
	}
}

// Mountpoint returns the absolute path the tree is mounted at.
func (f *FS) Mountpoint() string { return f.mountpoint }

// Root returns the path of TA name's directory, or "" if there is no such
// TA.
func (f *FS) Root(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.tas[name]; !ok {
		return ""
	}
	return filepath.Join(f.mountpoint, name)
}

// AddTA creates the directory of TA name with its declared endpoints and
// returns its path.
func (f *FS) AddTA(name string, opts TAOptions) (string, error) {
	if err := validTAName(name); err != nil {
		return "", fmt.Errorf("fusefs: add TA %q: %w", name, err)
	}
	eps, err := f.validEndpoints(name, opts.Endpoints)
	if err != nil {
		return "", fmt.Errorf("fusefs: add TA %q: %w", name, err)
	}

	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return "", fmt.Errorf("fusefs: add TA %q: %w", name, iofs.ErrClosed)
	}
	if _, ok := f.tas[name]; ok {
		f.mu.Unlock()
		return "", fmt.Errorf("fusefs: add TA %q: %w", name, iofs.ErrExist)
	}
	ta := &taState{fsys: f, name: name, opts: opts, endpoints: eps}
	// The whole subtree is built before it is linked under the root, so a
	// client never sees a TA directory without its endpoints.
	ta.build(context.Background())
	f.root.AddChild(name, ta.root.EmbeddedInode(), false)
	f.tas[name] = ta
	f.mu.Unlock()

	f.root.meta.touch()
	// Drop any negative dentry the kernel may hold for the name, and the
	// root's cached attributes (mtime, nlink). ENOENT just means the
	// kernel had nothing cached.
	f.root.NotifyEntry(name)
	f.root.NotifyContent(-1, 0)
	return filepath.Join(f.mountpoint, name), nil
}

// RemoveTA removes TA name's directory and everything in it. Clients that
// hold one of its FIFOs or sockets open keep their kernel objects.
func (f *FS) RemoveTA(name string) error {
	f.mu.Lock()
	ta, ok := f.tas[name]
	if !ok {
		f.mu.Unlock()
		return fmt.Errorf("fusefs: remove TA %q: %w", name, iofs.ErrNotExist)
	}
	delete(f.tas, name)
	ta.removed.Store(true)
	child := ta.root.EmbeddedInode()
	f.root.RmChild(name)
	f.mu.Unlock()

	f.root.meta.touch()
	// The invalidation must not run under f.mu: the kernel takes the root
	// directory's lock for it, and a request holding that lock may be
	// waiting for a handler that wants f.mu.
	f.root.NotifyDelete(name, child)
	f.root.NotifyContent(-1, 0)
	child.RmAllChildren()
	return nil
}

// Close unmounts the tree and waits for the server to stop. If clients hold
// nodes open, or are blocked opening a FIFO, the FUSE connection is aborted
// and the mount detached lazily: their kernel pipes and sockets stay usable,
// further path operations fail with ENOTCONN. Close is safe to call more
// than once; later calls return the first call's result.
func (f *FS) Close() error {
	f.closeOnce.Do(func() { f.closeErr = f.shutdown() })
	return f.closeErr
}

func (f *FS) shutdown() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	close(f.stop)

	var errs []error
	if err := f.unmount(); err != nil {
		errs = append(errs, err)
	}
	if !f.waitServed(lingerTimeout) {
		// The mount is gone here but the connection lives on: a
		// lazily detached mount whose files are still open, a copy of
		// the mount in another mount namespace (one made with private
		// propagation while we were mounted keeps the superblock after
		// our unmount), or a handler stuck in a callback. Nothing will
		// end it for us, so abort it through fusectl, the one lever
		// left; kernel pipes and sockets opened through it stay usable.
		f.log.Warn("fusefs: the FUSE connection outlived the unmount; aborting it", "mountpoint", f.mountpoint, "waited", lingerTimeout)
		if err := abortConnection(f.connID); err != nil {
			errs = append(errs, err)
		}
		if !f.waitServed(shutdownTimeout) {
			errs = append(errs, fmt.Errorf("fusefs: close %s: server did not stop within %v", f.mountpoint, shutdownTimeout))
		}
	}
	return errors.Join(errs...)
}

func (f *FS) waitServed(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.served:
		return true
	case <-t.C:
		return false
	}
}

// taState is one TA's directory and configuration.
type taState struct {
	fsys      *FS
	name      string
	opts      TAOptions
	endpoints map[string]Endpoint // by cleaned name
	root      *dir
	removed   atomic.Bool // set by RemoveTA; refuses further changes
	// nodes counts the nodes in the directory (TAOptions.MaxNodes);
	// lastLimitLog is when a refusal was last logged (UnixNano).
	nodes        atomic.Int64
	lastLimitLog atomic.Int64
}

// limitLogInterval is how often at most one TA's refusals at MaxNodes are
// logged: a TA retrying in a loop must not flood the log.
const limitLogInterval = time.Second

// reserveNode counts a node about to be created, or refuses it with
// EDQUOT at the TA's bound (and says so in the log, at most once per
// limitLogInterval).
func (ta *taState) reserveNode() syscall.Errno {
	n := ta.nodes.Add(1)
	if ta.opts.MaxNodes <= 0 || n <= int64(ta.opts.MaxNodes) {
		return 0
	}
	ta.nodes.Add(-1)
	now, last := time.Now().UnixNano(), ta.lastLimitLog.Load()
	if now-last >= int64(limitLogInterval) && ta.lastLimitLog.CompareAndSwap(last, now) {
		ta.fsys.log.Warn("TA reached its node limit; creating a node fails with EDQUOT", "ta", ta.name, "max", ta.opts.MaxNodes)
	}
	return syscall.EDQUOT
}

// releaseNode counts a node removed.
func (ta *taState) releaseNode() { ta.nodes.Add(-1) }

// build creates the TA directory, .tz/status and the declared FIFOs and
// their parent directories. It runs before the directory is linked into the
// tree, so nothing else can see it yet.
func (ta *taState) build(ctx context.Context) {
	f := ta.fsys
	ta.root = &dir{ta: ta}
	ta.root.meta.init(permOr(ta.opts.DirMode, 0o755), f.ownerOr(ta.opts.DirUID, ta.opts.DirGID))
	f.root.NewPersistentInode(ctx, ta.root, gofs.StableAttr{Mode: syscall.S_IFDIR})

	md := &metaDir{}
	md.meta.init(0o555, f.owner)
	ta.root.AddChild(metaDirName, ta.root.NewPersistentInode(ctx, md, gofs.StableAttr{Mode: syscall.S_IFDIR}), false)
	ta.root.linked(true) // not a node of the TA's: MaxNodes leaves it out
	for _, st := range []struct {
		name    string
		produce func() []byte
	}{{statusName, ta.opts.Status}, {statusJSONName, ta.opts.StatusJSON}} {
		sf := &statusFile{ta: ta, produce: st.produce}
		sf.meta.init(0o444, f.owner)
		md.AddChild(st.name, md.NewPersistentInode(ctx, sf, gofs.StableAttr{Mode: syscall.S_IFREG}), false)
	}

	for _, ep := range ta.endpoints {
		parent := ta.root
		elems := strings.Split(ep.Name, "/")
		for _, e := range elems[:len(elems)-1] {
			if ch := parent.GetChild(e); ch != nil {
				// Validation rules out a non-directory here.
				parent = ch.Operations().(*dir)
				continue
			}
			sub := &dir{ta: ta}
			sub.meta.init(0o755, f.owner)
			parent.AddChild(e, parent.NewPersistentInode(ctx, sub, gofs.StableAttr{Mode: syscall.S_IFDIR}), false)
			parent.linked(true)
			ta.nodes.Add(1)
			parent = sub
		}
		if ep.Kind != FIFO {
			continue
		}
		n := &special{}
		n.meta.init(endpointPerm(ep.Mode), f.ownerOr(ep.UID, ep.GID))
		parent.AddChild(elems[len(elems)-1], parent.NewPersistentInode(ctx, n, gofs.StableAttr{Mode: syscall.S_IFIFO}), false)
		parent.linked(false)
		ta.nodes.Add(1)
	}
}

// ownerOr returns uid:gid, with zero standing for the mounter's ids.
func (f *FS) ownerOr(uid, gid uint32) fuse.Owner {
	o := fuse.Owner{Uid: uid, Gid: gid}
	if o.Uid == 0 {
		o.Uid = f.owner.Uid
	}
	if o.Gid == 0 {
		o.Gid = f.owner.Gid
	}
	return o
}

// declaredSocket returns the declared socket endpoint at rel, if any.
func (ta *taState) declaredSocket(rel string) (Endpoint, bool) {
	ep, ok := ta.endpoints[rel]
	return ep, ok && ep.Kind == UnixSocket
}

// mayModify applies the creation/deletion policy for this TA.
func (ta *taState) mayModify(ctx context.Context) syscall.Errno {
	if ta.removed.Load() {
		return syscall.ENOENT
	}
	if ta.opts.CAMayModify || ta.fsys.mayModify == nil {
		return 0
	}
	caller, ok := fuse.FromContext(ctx)
	if !ok || !ta.fsys.mayModify(ta.name, *caller) {
		return syscall.EPERM
	}
	return 0
}

// status evaluates a status callback, containing a panic in it to the
// one open that triggered it.
func (ta *taState) status(produce func() []byte) (data []byte, errno syscall.Errno) {
	if produce == nil {
		return nil, 0
	}
	defer func() {
		if r := recover(); r != nil {
			ta.fsys.log.Error("fusefs: status callback panicked", "ta", ta.name, "panic", r)
			data, errno = nil, syscall.EIO
		}
	}()
	return produce(), 0
}

const (
	metaDirName    = ".tz"
	statusName     = "status"
	statusJSONName = "status.json"
	// maxName is NAME_MAX; the kernel does not enforce it for FUSE.
	maxName = 255
	// maxSunPath is the size of sockaddr_un.sun_path including the NUL.
	maxSunPath = 108
)

func validTAName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > maxName:
		return fmt.Errorf("name longer than %d bytes", maxName)
	case strings.ContainsAny(name, "/\x00"):
		return errors.New("name must be a single path element")
	case strings.HasPrefix(name, "."):
		return errors.New("name must not start with a dot")
	}
	return nil
}

func (f *FS) validEndpoints(ta string, eps []Endpoint) (map[string]Endpoint, error) {
	out := make(map[string]Endpoint, len(eps))
	for _, ep := range eps {
		if ep.Kind != FIFO && ep.Kind != UnixSocket {
			return nil, fmt.Errorf("endpoint %q: unknown kind %v", ep.Name, ep.Kind)
		}
		name := path.Clean(ep.Name)
		if ep.Name == "" || path.IsAbs(name) || name == "." || name == ".." || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("endpoint %q: want a relative path inside the TA directory", ep.Name)
		}
		for _, e := range strings.Split(name, "/") {
			if len(e) > maxName || strings.ContainsRune(e, 0) {
				return nil, fmt.Errorf("endpoint %q: bad path element %q", ep.Name, e)
			}
		}
		if name == metaDirName || strings.HasPrefix(name, metaDirName+"/") {
			return nil, fmt.Errorf("endpoint %q: %s is reserved", ep.Name, metaDirName)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("endpoint %q declared twice", ep.Name)
		}
		if ep.Kind == UnixSocket {
			// Clients connect by the full path; the kernel refuses
			// one that does not fit sockaddr_un.
			if full := filepath.Join(f.mountpoint, ta, name); len(full) >= maxSunPath {
				return nil, fmt.Errorf("endpoint %q: socket path %s is %d bytes, sockaddr_un holds %d", ep.Name, full, len(full), maxSunPath-1)
			}
		}
		ep.Name = name
		out[name] = ep
	}
	for a := range out {
		for b := range out {
			if strings.HasPrefix(b, a+"/") {
				return nil, fmt.Errorf("endpoint %q is also the parent directory of %q", a, b)
			}
		}
	}
	return out, nil
}

// endpointPerm converts a declared mode to permission bits.
func endpointPerm(m os.FileMode) uint32 { return permOr(m, 0o600) }

// permOr converts m to st_mode permission bits (with setuid, setgid and
// sticky), or returns def if m has none.
func permOr(m os.FileMode, def uint32) uint32 {
	p := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		p |= syscall.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		p |= syscall.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		p |= syscall.S_ISVTX
	}
	if p == 0 {
		return def
	}
	return p
}
