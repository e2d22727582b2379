package fusefs

import (
	"context"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// meta is the part of an inode's attributes a node keeps itself; go-fuse
// adds the file type from the node's StableAttr.
type meta struct {
	mu                  sync.Mutex
	perm                uint32 // permission, setuid, setgid and sticky bits
	owner               fuse.Owner
	atime, mtime, ctime time.Time
}

func (m *meta) init(perm uint32, owner fuse.Owner) {
	now := time.Now()
	m.perm, m.owner = perm&07777, owner
	m.atime, m.mtime, m.ctime = now, now, now
}

func (m *meta) fill(out *fuse.Attr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out.Mode = (out.Mode &^ 07777) | m.perm
	out.Owner = m.owner
	out.SetTimes(&m.atime, &m.mtime, &m.ctime)
}

func (m *meta) snapshot() (perm uint32, owner fuse.Owner) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.perm, m.owner
}

// touch records a change of a directory's entries.
func (m *meta) touch() {
	now := time.Now()
	m.mu.Lock()
	m.mtime, m.ctime = now, now
	m.mu.Unlock()
}

// changed records a change of the inode itself (rename, unlink).
func (m *meta) changed() {
	now := time.Now()
	m.mu.Lock()
	m.ctime = now
	m.mu.Unlock()
}

// setattr applies chmod/chown/utimes. The kernel has already checked the
// caller's right to make the change (default_permissions), including the
// setgid clearing rules, so this only records the result.
func (m *meta) setattr(in *fuse.SetAttrIn, out *fuse.AttrOut) {
	m.mu.Lock()
	if mode, ok := in.GetMode(); ok {
		m.perm = mode & 07777
	}
	if uid, ok := in.GetUID(); ok {
		m.owner.Uid = uid
	}
	if gid, ok := in.GetGID(); ok {
		m.owner.Gid = gid
	}
	if t, ok := in.GetATime(); ok {
		m.atime = t
	}
	if t, ok := in.GetMTime(); ok {
		m.mtime = t
	}
	if t, ok := in.GetCTime(); ok {
		m.ctime = t
	} else {
		m.ctime = time.Now()
	}
	m.mu.Unlock()
	m.fill(&out.Attr)
}

// rootDir is the mount root: one directory per TA, managed only through the
// FS API.
type rootDir struct {
	gofs.Inode
	fixedEntries // top-level entries belong to the supervisor
	fsys         *FS
	meta         meta
}

var (
	_ gofs.NodeGetattrer = (*rootDir)(nil)
	_ gofs.NodeSetattrer = (*rootDir)(nil)
	_ gofs.NodeMkdirer   = (*rootDir)(nil)
	_ gofs.NodeMknoder   = (*rootDir)(nil)
	_ gofs.NodeCreater   = (*rootDir)(nil)
	_ gofs.NodeUnlinker  = (*rootDir)(nil)
	_ gofs.NodeRmdirer   = (*rootDir)(nil)
	_ gofs.NodeRenamer   = (*rootDir)(nil)
	_ gofs.NodeStatfser  = (*rootDir)(nil)
	_ gofs.NodeReaddirer = (*rootDir)(nil)
)

func (r *rootDir) Readdir(context.Context) (gofs.DirStream, syscall.Errno) {
	return listDir(&r.Inode), 0
}

func (r *rootDir) Getattr(_ context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	r.meta.fill(&out.Attr)
	out.Nlink = dirNlink(&r.Inode)
	return 0
}

func (r *rootDir) Setattr(_ context.Context, _ gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if _, ok := in.GetSize(); ok {
		return syscall.EISDIR
	}
	r.meta.setattr(in, out)
	out.Nlink = dirNlink(&r.Inode)
	return 0
}

// fixedEntries refuses, whoever asks, every change to the entries of a
// directory that only the bridge changes (the root, a TA's .tz): through
// the mount they can be neither created nor removed nor renamed. go-fuse's
// defaults would let unlink and rmdir succeed, hence the explicit
// refusals.
type fixedEntries struct{}

func (fixedEntries) Mkdir(context.Context, string, uint32, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (fixedEntries) Mknod(context.Context, string, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (fixedEntries) Create(context.Context, string, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EPERM
}

func (fixedEntries) Unlink(context.Context, string) syscall.Errno { return syscall.EPERM }
func (fixedEntries) Rmdir(context.Context, string) syscall.Errno  { return syscall.EPERM }
func (fixedEntries) Rename(context.Context, string, gofs.InodeEmbedder, string, uint32) syscall.Errno {
	return syscall.EPERM
}

func (r *rootDir) Statfs(_ context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize = 4096
	out.Frsize = 4096
	out.NameLen = maxName
	return 0
}

// dir is a TA directory or a directory inside one.
type dir struct {
	gofs.Inode
	ta   *taState
	meta meta
	// entries and subdirs count the directory's children, and those of
	// them that are directories, for rmdir's emptiness check and
	// st_nlink: go-fuse's Children copies the whole child map, which
	// would make every getattr of the directory — the kernel asks one
	// after each creation in it — cost as much as the directory is
	// large. Only the handlers that change the directory's children
	// update them, under the kernel's lock of the directory (for rename,
	// of both).
	entries, subdirs atomic.Int64
}

// linked counts a child added to d.
func (d *dir) linked(isDir bool) {
	d.entries.Add(1)
	if isDir {
		d.subdirs.Add(1)
	}
}

// unlinked counts a child removed from d.
func (d *dir) unlinked(isDir bool) {
	d.entries.Add(-1)
	if isDir {
		d.subdirs.Add(-1)
	}
}

var (
	_ gofs.NodeGetattrer = (*dir)(nil)
	_ gofs.NodeSetattrer = (*dir)(nil)
	_ gofs.NodeMkdirer   = (*dir)(nil)
	_ gofs.NodeMknoder   = (*dir)(nil)
	_ gofs.NodeCreater   = (*dir)(nil)
	_ gofs.NodeUnlinker  = (*dir)(nil)
	_ gofs.NodeRmdirer   = (*dir)(nil)
	_ gofs.NodeRenamer   = (*dir)(nil)
	_ gofs.NodeReaddirer = (*dir)(nil)
)

func (d *dir) Readdir(context.Context) (gofs.DirStream, syscall.Errno) {
	return listDir(&d.Inode), 0
}

func (d *dir) Getattr(_ context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.meta.fill(&out.Attr)
	out.Nlink = d.nlink()
	return 0
}

func (d *dir) Setattr(_ context.Context, _ gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if _, ok := in.GetSize(); ok {
		return syscall.EISDIR
	}
	d.meta.setattr(in, out)
	out.Nlink = d.nlink()
	return 0
}

// nlink counts "." and ".." plus one ".." per subdirectory, as find(1)'s
// leaf optimisation expects.
func (d *dir) nlink() uint32 { return uint32(2 + d.subdirs.Load()) }

// mayCreate runs the checks every creation shares; the kernel has already
// checked write and search permission on d.
func (d *dir) mayCreate(ctx context.Context, name string) syscall.Errno {
	if len(name) > maxName {
		return syscall.ENAMETOOLONG
	}
	if errno := d.ta.mayModify(ctx); errno != 0 {
		return errno
	}
	if d.GetChild(name) != nil {
		return syscall.EEXIST
	}
	return 0
}

// newOwner is the owner of a node the caller creates in d: the caller's
// fsuid and fsgid, or d's group if d is setgid (BSD group semantics).
func (d *dir) newOwner(ctx context.Context) (owner fuse.Owner, setgid bool) {
	if c, ok := fuse.FromContext(ctx); ok {
		owner = c.Owner
	} else {
		owner = d.ta.fsys.owner
	}
	perm, dirOwner := d.meta.snapshot()
	if perm&syscall.S_ISGID != 0 {
		owner.Gid = dirOwner.Gid
		return owner, true
	}
	return owner, false
}

func (d *dir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := d.mayCreate(ctx, name); errno != 0 {
		return nil, errno
	}
	owner, setgid := d.newOwner(ctx)
	perm := mode & 07777 // the kernel has applied the umask
	if setgid {
		perm |= syscall.S_ISGID
	}
	if errno := d.ta.reserveNode(); errno != 0 {
		return nil, errno
	}
	sub := &dir{ta: d.ta}
	sub.meta.init(perm, owner)
	ch := d.NewPersistentInode(ctx, sub, gofs.StableAttr{Mode: syscall.S_IFDIR})
	sub.meta.fill(&out.Attr)
	out.Nlink = 2
	d.linked(true) // go-fuse links ch under name after this returns
	d.meta.touch()
	return ch, 0
}

func (d *dir) Mknod(ctx context.Context, name string, mode uint32, _ uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	typ := mode & syscall.S_IFMT
	switch typ {
	case syscall.S_IFIFO, syscall.S_IFSOCK:
	case syscall.S_IFREG:
		return nil, syscall.EOPNOTSUPP
	case syscall.S_IFCHR, syscall.S_IFBLK:
		return nil, syscall.EPERM
	default:
		return nil, syscall.EINVAL
	}
	if errno := d.mayCreate(ctx, name); errno != 0 {
		return nil, errno
	}
	owner, _ := d.newOwner(ctx)
	perm := mode & 07777
	if typ == syscall.S_IFSOCK {
		// bind(2) is what creates a socket node; a declared socket
		// endpoint gets its configured owner and mode no matter who
		// binds it, so clients are checked against the config.
		if ep, ok := d.ta.declaredSocket(d.rel(name)); ok {
			perm, owner = endpointPerm(ep.Mode), d.ta.fsys.ownerOr(ep.UID, ep.GID)
		}
	}
	if errno := d.ta.reserveNode(); errno != 0 {
		return nil, errno
	}
	n := &special{}
	n.meta.init(perm, owner)
	ch := d.NewPersistentInode(ctx, n, gofs.StableAttr{Mode: typ})
	n.meta.fill(&out.Attr)
	out.Nlink = 1
	d.linked(false)
	d.meta.touch()
	return ch, 0
}

// Create is creat(2) / open(O_CREAT) of a new name: regular files are not
// supported yet.
func (d *dir) Create(context.Context, string, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EOPNOTSUPP
}

func (d *dir) Unlink(ctx context.Context, name string) syscall.Errno {
	ch := d.GetChild(name)
	if ch == nil {
		return syscall.ENOENT
	}
	switch ch.Operations().(type) {
	case *metaDir:
		return syscall.EPERM
	case *dir:
		return syscall.EISDIR
	}
	if errno := d.ta.mayModify(ctx); errno != 0 {
		return errno
	}
	if n, ok := ch.Operations().(*special); ok {
		n.meta.changed()
	}
	// go-fuse unlinks the entry after this returns; the node itself must
	// stop being persistent, or it would outlive the kernel's last
	// reference.
	ch.ForgetPersistent()
	d.unlinked(false)
	d.ta.releaseNode()
	d.meta.touch()
	return 0
}

func (d *dir) Rmdir(ctx context.Context, name string) syscall.Errno {
	ch := d.GetChild(name)
	if ch == nil {
		return syscall.ENOENT
	}
	var sub *dir
	switch o := ch.Operations().(type) {
	case *metaDir:
		return syscall.EPERM
	case *dir:
		sub = o
	default:
		return syscall.ENOTDIR
	}
	if sub.entries.Load() > 0 {
		return syscall.ENOTEMPTY
	}
	if errno := d.ta.mayModify(ctx); errno != 0 {
		return errno
	}
	ch.ForgetPersistent()
	d.unlinked(true)
	d.ta.releaseNode()
	d.meta.touch()
	return 0
}

func (d *dir) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	nd, ok := newParent.(*dir)
	if !ok {
		return syscall.EPERM // into the root or .tz
	}
	if nd.ta != d.ta {
		return syscall.EXDEV
	}
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE) != 0 {
		return syscall.EINVAL
	}
	if len(newName) > maxName {
		return syscall.ENAMETOOLONG
	}
	src := d.GetChild(name)
	if src == nil {
		return syscall.ENOENT
	}
	dst := nd.GetChild(newName)
	if isMeta(src) || isMeta(dst) {
		return syscall.EPERM
	}
	if errno := d.ta.mayModify(ctx); errno != 0 {
		return errno
	}
	switch {
	case flags&unix.RENAME_EXCHANGE != 0:
		if dst == nil {
			return syscall.ENOENT
		}
	case dst == nil:
	case flags&unix.RENAME_NOREPLACE != 0:
		return syscall.EEXIST
	case dst == src:
		return 0
	default:
		srcDir, dstDir := src.IsDir(), dst.IsDir()
		switch {
		case srcDir && !dstDir:
			return syscall.ENOTDIR
		case !srcDir && dstDir:
			return syscall.EISDIR
		case dstDir && dst.Operations().(*dir).entries.Load() > 0:
			return syscall.ENOTEMPTY
		}
		// go-fuse drops the replaced entry after this returns.
		dst.ForgetPersistent()
		nd.unlinked(dstDir)
		d.ta.releaseNode()
	}
	// go-fuse moves the entries after this returns: src from d to nd,
	// and for an exchange dst from nd to d.
	if nd != d {
		d.unlinked(src.IsDir())
		nd.linked(src.IsDir())
		if flags&unix.RENAME_EXCHANGE != 0 {
			nd.unlinked(dst.IsDir())
			d.linked(dst.IsDir())
		}
	}
	d.meta.touch()
	if nd != d {
		nd.meta.touch()
	}
	changed(src)
	if flags&unix.RENAME_EXCHANGE != 0 {
		changed(dst)
	}
	return 0
}

// rel returns the path of name in d, relative to the TA directory.
func (d *dir) rel(name string) string {
	return path.Join(d.Path(d.ta.root.EmbeddedInode()), name)
}

// special is a FIFO or UNIX socket node. It has no content: the kernel
// attaches the pipe or the bound socket to its inode.
type special struct {
	gofs.Inode
	meta meta
}

var (
	_ gofs.NodeGetattrer = (*special)(nil)
	_ gofs.NodeSetattrer = (*special)(nil)
)

func (n *special) Getattr(_ context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.meta.fill(&out.Attr)
	out.Nlink = n.nlink()
	return 0
}

// nlink is 1, or 0 once the node is unlinked and only open descriptors
// keep it alive.
func (n *special) nlink() uint32 {
	if _, p := n.Parent(); p == nil {
		return 0
	}
	return 1
}

func (n *special) Setattr(_ context.Context, _ gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if _, ok := in.GetSize(); ok {
		return syscall.EINVAL
	}
	n.meta.setattr(in, out)
	out.Nlink = n.nlink()
	return 0
}

// metaDir is a TA's read-only .tz directory.
type metaDir struct {
	gofs.Inode
	fixedEntries
	meta meta
}

var (
	_ gofs.NodeGetattrer = (*metaDir)(nil)
	_ gofs.NodeSetattrer = (*metaDir)(nil)
	_ gofs.NodeMkdirer   = (*metaDir)(nil)
	_ gofs.NodeMknoder   = (*metaDir)(nil)
	_ gofs.NodeCreater   = (*metaDir)(nil)
	_ gofs.NodeUnlinker  = (*metaDir)(nil)
	_ gofs.NodeRmdirer   = (*metaDir)(nil)
	_ gofs.NodeRenamer   = (*metaDir)(nil)
	_ gofs.NodeReaddirer = (*metaDir)(nil)
)

func (m *metaDir) Readdir(context.Context) (gofs.DirStream, syscall.Errno) {
	return listDir(&m.Inode), 0
}

func (m *metaDir) Getattr(_ context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	m.meta.fill(&out.Attr)
	out.Nlink = 2
	return 0
}

// Setattr refuses: .tz is the bridge's view of the TA, the same for
// everyone, and no caller, root included, may change it.
func (m *metaDir) Setattr(context.Context, gofs.FileHandle, *fuse.SetAttrIn, *fuse.AttrOut) syscall.Errno {
	return syscall.EPERM
}

// statusFile is .tz/status or .tz/status.json; its content is produced
// at open.
type statusFile struct {
	gofs.Inode
	ta      *taState
	produce func() []byte
	meta    meta
}

var (
	_ gofs.NodeGetattrer = (*statusFile)(nil)
	_ gofs.NodeSetattrer = (*statusFile)(nil)
	_ gofs.NodeOpener    = (*statusFile)(nil)
)

func (s *statusFile) Getattr(_ context.Context, _ gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	// Size stays 0: the content does not exist until an open produces
	// it, and direct I/O makes the kernel read past the reported size.
	s.meta.fill(&out.Attr)
	out.Nlink = 1
	return 0
}

func (s *statusFile) Setattr(_ context.Context, _ gofs.FileHandle, in *fuse.SetAttrIn, _ *fuse.AttrOut) syscall.Errno {
	if _, ok := in.GetSize(); ok {
		return syscall.EACCES // a write, refused like an open for writing
	}
	return syscall.EPERM
}

func (s *statusFile) Open(_ context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	// Mode 0444 stops everyone but root; this stops root too.
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EACCES
	}
	data, errno := s.ta.status(s.produce)
	if errno != 0 {
		return nil, 0, errno
	}
	return &statusHandle{data: data}, fuse.FOPEN_DIRECT_IO, 0
}

// statusHandle is one open of .tz/status: a snapshot, so a reader sees one
// consistent status however it splits its reads.
type statusHandle struct{ data []byte }

var _ gofs.FileReader = (*statusHandle)(nil)

func (h *statusHandle) Read(_ context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off < 0 {
		return nil, syscall.EINVAL
	}
	if off >= int64(len(h.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(h.data)))
	return fuse.ReadResultData(h.data[off:end]), 0
}

func isMeta(n *gofs.Inode) bool {
	if n == nil {
		return false
	}
	_, ok := n.Operations().(*metaDir)
	return ok
}

func changed(n *gofs.Inode) {
	switch o := n.Operations().(type) {
	case *dir:
		o.meta.changed()
	case *special:
		o.meta.changed()
	}
}

// dirNlink counts "." and ".." plus one ".." per subdirectory, as
// find(1)'s leaf optimisation expects.
func dirNlink(n *gofs.Inode) uint32 {
	nlink := uint32(2)
	for _, ch := range n.Children() {
		if ch.IsDir() {
			nlink++
		}
	}
	return nlink
}

// listDir lists n's children after "." and "..", sorted by name so that
// concurrent readers of a changing directory see one consistent order.
func listDir(n *gofs.Inode) gofs.DirStream {
	children := n.Children()
	names := make([]string, 0, len(children))
	for name := range children {
		names = append(names, name)
	}
	slices.Sort(names)
	parent := n
	if _, p := n.Parent(); p != nil {
		parent = p
	}
	entries := make([]fuse.DirEntry, 0, len(names)+2)
	entries = append(entries,
		fuse.DirEntry{Name: ".", Mode: syscall.S_IFDIR, Ino: n.StableAttr().Ino},
		fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR, Ino: parent.StableAttr().Ino})
	for _, name := range names {
		ch := children[name]
		entries = append(entries, fuse.DirEntry{Name: name, Mode: ch.Mode(), Ino: ch.StableAttr().Ino})
	}
	return gofs.NewListDirStream(entries)
}
