package shadow

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	. "github.com/tzmediator/tzbridge/tzrpc"
)

// plant puts things into the root behind the TA's back: symlinks out of
// it, a regular file, a listening socket outside.
func plant(t *testing.T, a *testTA) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(unix.Mkfifo(filepath.Join(a.out, "fifo"), 0o666))
	l, err := net.Listen("unix", filepath.Join(a.out, "sock"))
	must(err)
	t.Cleanup(func() { l.Close() })
	must(os.Symlink(a.out, a.path("abs")))        // absolute, out of the root
	must(os.Symlink("../outside", a.path("rel"))) // relative, climbing out
	must(os.Symlink(filepath.Join(a.out, "fifo"), a.path("fifolink")))
	must(os.Symlink(filepath.Join(a.out, "sock"), a.path("socklink")))
	must(os.Symlink(filepath.Join(a.out, "new"), a.path("dangling")))
	must(os.Symlink("/proc/self/root", a.path("procroot")))
	must(os.WriteFile(a.path("regular"), []byte("secret"), 0o600))
	must(os.Mkdir(a.path("dir"), 0o755))
}

func TestPathConfinement(t *testing.T) {
	a := newTA(t, options{})
	plant(t, a)
	outside := []string{"fifo", "sock"}
	rdNB := int64(O_RDONLY | O_NONBLOCK)
	long := strings.Repeat("a/", MaxPath/2-1) + "aa" // 4094 bytes

	cases := []struct {
		name    string
		op      Op
		arg     [6]int64
		payload string
		want    Errno
	}{
		{"dotdot", OpOpen, args(rdNB), "../outside/fifo", ENOENT},
		{"deep dotdot", OpOpen, args(rdNB), "dir/../../../../outside/fifo", ENOENT},
		{"absolute", OpOpen, args(rdNB), filepath.Join(a.out, "fifo"), ENOENT},
		{"etc", OpOpen, args(rdNB), "/etc/passwd", ENOENT},
		{"proc", OpOpen, args(rdNB), "/proc/self/root/etc/passwd", ENOENT},
		{"symlink to proc root", OpOpen, args(rdNB), "procroot/etc/passwd", ENOENT},
		{"absolute symlink", OpOpen, args(rdNB), "abs/fifo", ENOENT},
		{"relative symlink", OpOpen, args(rdNB), "rel/fifo", ENOENT},
		{"symlink to outside fifo", OpOpen, args(rdNB), "fifolink", ENOENT},
		{"create through dangling symlink", OpOpen, args(O_WRONLY | O_CREAT), "dangling", EOPNOTSUPP},
		{"mkfifo through symlinked dir", OpMkfifo, args(0o600), "abs/new", ENOENT},
		{"mkfifo on dangling symlink", OpMkfifo, args(0o600), "dangling", EEXIST},
		{"mkdir through symlinked dir", OpMkdir, args(0o700), "rel/new", ENOENT},
		{"unlink through symlinked dir", OpUnlink, args(), "abs/fifo", ENOENT},
		{"rmdir through dotdot", OpRmdir, args(), "../outside", ENOENT},
		{"rename out", OpRename, args(3), "dir" + "abs/moved", ENOENT},
		{"rename in", OpRename, args(8), "abs/fifo" + "stolen", ENOENT},
		{"empty last element", OpMkdir, args(0o700), "/", EINVAL},
		{"dot", OpMkdir, args(0o700), ".", EINVAL},
		{"dotdot element", OpRmdir, args(), "dir/..", EINVAL},
		{"NUL", OpMkfifo, args(0o600), "a\x00b", EINVAL},
		{"too long", OpMkfifo, args(0o600), long + "aaa", ENAMETOOLONG},
		{"deep missing", OpMkfifo, args(0o600), long, ENOENT},
		{"regular file", OpOpen, args(O_RDONLY), "regular", EOPNOTSUPP},
		{"regular file for writing", OpOpen, args(O_WRONLY | O_TRUNC), "regular", EOPNOTSUPP},
		{"create regular", OpOpen, args(O_WRONLY|O_CREAT, 0o600), "newfile", EOPNOTSUPP},
		{"create in missing dir", OpOpen, args(O_WRONLY|O_CREAT, 0o600), "nodir/newfile", ENOENT},
		{"exclusive create of existing", OpOpen, args(O_WRONLY|O_CREAT|O_EXCL, 0o600), "dir", EEXIST},
		{"dir for writing", OpOpen, args(O_WRONLY), "dir", EISDIR},
		{"regular as dir", OpOpen, args(O_RDONLY | O_DIRECTORY), "regular", ENOTDIR},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			a.fails(c.want, c.op, c.arg, []byte(c.payload))
			a.outsideUnchanged(t, outside...)
		})
	}
	a.t = t

	// ".." at the root stays at the root: this creates root/x.
	a.ok(OpMkdir, args(0o700), []byte("../x"))
	if fi, err := os.Stat(a.path("x")); err != nil || !fi.IsDir() {
		t.Errorf("mkdir ../x: %v", err)
	}
	a.ok(OpMkfifo, args(0o600), []byte("/x/../../f"))
	if fi, err := os.Stat(a.path("f")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("mkfifo /x/../../f: %v", err)
	}
	// Removing a planted symlink removes the link, not its target.
	a.ok(OpUnlink, args(), []byte("fifolink"))
	if _, err := os.Lstat(a.path("fifolink")); !os.IsNotExist(err) {
		t.Errorf("fifolink still there: %v", err)
	}
	// Renaming one moves the link.
	a.ok(OpRename, args(3), []byte("absmoved"))
	if target, err := os.Readlink(a.path("moved")); err != nil || target != a.out {
		t.Errorf("moved: %q, %v", target, err)
	}
	a.outsideUnchanged(t, outside...)
	if b, err := os.ReadFile(a.path("regular")); err != nil || string(b) != "secret" {
		t.Errorf("regular file: %q, %v", b, err)
	}
}

func TestUnixAddressConfinement(t *testing.T) {
	a := newTA(t, options{})
	plant(t, a)
	outside := []string{"fifo", "sock"}
	fd := a.ok(OpSocket, args(AF_UNIX, SOCK_STREAM), nil)

	cases := []struct {
		name string
		op   Op
		path string
		want Errno
	}{
		{"connect through symlink to outside socket", OpConnect, "socklink", ENOENT},
		{"connect absolute", OpConnect, filepath.Join(a.out, "sock"), ENOENT},
		{"connect dotdot", OpConnect, "../outside/sock", ENOENT},
		{"connect to a non-socket", OpConnect, "dir", ECONNREFUSED},
		{"connect missing", OpConnect, "nothing", ENOENT},
		{"bind through symlinked dir", OpBind, "abs/new.sock", ENOENT},
		{"bind on planted symlink", OpBind, "dangling", EADDRINUSE},
		{"bind dotdot", OpBind, "..", EINVAL},
		{"bind name too long for sun_path", OpBind, strings.Repeat("n", MaxUnixPath), ENAMETOOLONG},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			a.fails(c.want, c.op, args(fd), unixAddr(t, c.path))
			a.outsideUnchanged(t, outside...)
		})
	}
	a.t = t
	// An unnamed address is refused (it would autobind to an abstract name).
	a.fails(EINVAL, OpConnect, args(fd), unixAddr(t, ""))
	a.fails(EINVAL, OpBind, args(fd), unixAddr(t, ""))
	// An INET address on a UNIX socket, and the reverse.
	a.fails(EINVAL, OpBind, args(fd), inetAddr(t, "127.0.0.1:0"))
	tcp := a.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil)
	a.fails(EAFNOSUPPORT, OpBind, args(tcp), unixAddr(t, "x.sock"))
	if _, err := os.Lstat(a.path("x.sock")); !os.IsNotExist(err) {
		t.Errorf("x.sock created: %v", err)
	}
	a.outsideUnchanged(t, outside...)
}
