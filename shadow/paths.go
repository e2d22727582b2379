package shadow

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// resolveInRoot confines a TA's path to its root: ".." stops at the root,
// absolute paths and symlink targets start from it, and /proc-style magic
// links (which could name anything in the host) are refused.
const resolveInRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// maxResolveRetries bounds retries of openat2's EAGAIN, which it returns
// when a rename elsewhere raced with a RESOLVE_IN_ROOT lookup.
const maxResolveRetries = 16

// openat2 opens path inside the tree of dirfd, confined to it.
func openat2(dirfd int, path string, flags int) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveInRoot}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(dirfd, path, &how)
		if err == unix.EINTR || (err == unix.EAGAIN && tries < maxResolveRetries) {
			continue
		}
		return fd, err
	}
}

// resolve returns an O_PATH descriptor of the object path names inside the
// root, following symlinks within the root.
func (s *Shadow) resolve(path string) (int, tzrpc.Errno) {
	fd, err := openat2(s.root, path, unix.O_PATH)
	if err != nil {
		return -1, errno(err)
	}
	return fd, 0
}

// resolveParent returns an O_PATH descriptor of the directory that holds
// path's last element, resolved inside the root, and that element. Calls
// that create, remove or bind a name act on (dir, name), so the last
// element is never followed out of the root. A trailing slash ("a/b/"
// names b) is for directories only: with nonDir it is ENOTDIR.
func (s *Shadow) resolveParent(path string, nonDir bool) (int, string, tzrpc.Errno) {
	p := strings.TrimRight(path, "/")
	if nonDir && len(p) < len(path) && p != "" {
		return -1, "", tzrpc.ENOTDIR
	}
	dir, name := ".", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, name = p[:i+1], p[i+1:] // "/x" keeps "/": the root itself
	}
	switch name {
	case "":
		if path == "" {
			return -1, "", tzrpc.ENOENT
		}
		return -1, "", tzrpc.EINVAL // the root itself
	case ".", "..":
		return -1, "", tzrpc.EINVAL
	}
	fd, err := openat2(s.root, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, "", errno(err)
	}
	return fd, name, 0
}

// procPath names a descriptor's object, or an entry of a descriptor's
// directory, for calls that take a path and no descriptor.
func procPath(fd int, name string) string {
	p := "/proc/self/fd/" + strconv.Itoa(fd)
	if name != "" {
		p += "/" + name
	}
	return p
}

// fileMode keeps the permission bits only: set-id and sticky bits on a TA
// endpoint would mean nothing the TA could rely on.
func fileMode(mode int64) uint32 { return uint32(mode) & 0o777 }

func (s *Shadow) mkfifo(path string, mode int64) result {
	dir, name, e := s.resolveParent(path, true)
	if e != 0 {
		return fail(e)
	}
	defer unix.Close(dir)
	return done(unix.Mknodat(dir, name, unix.S_IFIFO|fileMode(mode), 0))
}

func (s *Shadow) mkdir(path string, mode int64) result {
	dir, name, e := s.resolveParent(path, false)
	if e != 0 {
		return fail(e)
	}
	defer unix.Close(dir)
	return done(unix.Mkdirat(dir, name, fileMode(mode)))
}

func (s *Shadow) unlink(path string) result {
	return s.remove(path, 0)
}

func (s *Shadow) rmdir(path string) result {
	return s.remove(path, unix.AT_REMOVEDIR)
}

func (s *Shadow) remove(path string, flags int) result {
	dir, name, e := s.resolveParent(path, flags&unix.AT_REMOVEDIR == 0)
	if e != 0 {
		return fail(e)
	}
	defer unix.Close(dir)
	return done(unix.Unlinkat(dir, name, flags))
}

func (s *Shadow) rename(oldPath, newPath string) result {
	oldDir, oldName, e := s.resolveParent(oldPath, false)
	if e != 0 {
		return fail(e)
	}
	defer unix.Close(oldDir)
	newDir, newName, e := s.resolveParent(newPath, false)
	if e != 0 {
		return fail(e)
	}
	defer unix.Close(newDir)
	return done(unix.Renameat(oldDir, oldName, newDir, newName))
}

// done is the result of a call that returns nothing but success or errno.
func done(err error) result {
	if err != nil {
		return fail(errno(err))
	}
	return ok(0)
}
