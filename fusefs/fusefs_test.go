package fusefs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/tzmediator/tzbridge/internal/syncbuf"
	"golang.org/x/sys/unix"
)

func stat(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return st
}

func TestTreeOperations(t *testing.T) {
	defer unix.Umask(unix.Umask(0o022))
	f := mountTest(t, Options{})
	mp := f.Mountpoint()
	root := addTA(t, f, "ta", TAOptions{Endpoints: []Endpoint{
		{Name: "in", Kind: FIFO, Mode: 0o666},
		{Name: "sub/deep", Kind: FIFO, Mode: 0o620, UID: 7, GID: 8},
	}})
	other := addTA(t, f, "tb", TAOptions{})
	p := func(rel string) string { return filepath.Join(root, rel) }
	var pIno uint64

	steps := []struct {
		name  string
		op    func() error
		want  syscall.Errno
		check func(t *testing.T)
	}{
		{"declared fifo", func() error { return nil }, 0, func(t *testing.T) {
			st := stat(t, p("in"))
			if st.Mode != syscall.S_IFIFO|0o666 || st.Uid != 0 {
				t.Errorf("in: mode %o uid %d, want fifo 0666 uid 0", st.Mode, st.Uid)
			}
			st = stat(t, p("sub/deep"))
			if st.Mode != syscall.S_IFIFO|0o620 || st.Uid != 7 || st.Gid != 8 {
				t.Errorf("sub/deep: mode %o owner %d:%d, want fifo 0620 7:8", st.Mode, st.Uid, st.Gid)
			}
		}},
		{"mkfifo", func() error { return unix.Mkfifo(p("p"), 0o644) }, 0, func(t *testing.T) {
			st := stat(t, p("p"))
			if st.Mode != syscall.S_IFIFO|0o644 {
				t.Errorf("mode %o, want fifo 0644", st.Mode)
			}
			pIno = st.Ino
		}},
		{"mkfifo existing", func() error { return unix.Mkfifo(p("p"), 0o644) }, syscall.EEXIST, nil},
		{"mkfifo name too long", func() error { return unix.Mkfifo(p(strings.Repeat("n", 256)), 0o644) }, syscall.ENAMETOOLONG, nil},
		{"mkdir", func() error { return unix.Mkdir(p("d"), 0o750) }, 0, func(t *testing.T) {
			if st := stat(t, p("d")); st.Mode != syscall.S_IFDIR|0o750 || st.Nlink != 2 {
				t.Errorf("mode %o nlink %d, want dir 0750 nlink 2", st.Mode, st.Nlink)
			}
		}},
		{"mkfifo in subdir", func() error { return unix.Mkfifo(p("d/q"), 0o600) }, 0, nil},
		{"mkdir nested", func() error { return unix.Mkdir(p("d/e"), 0o755) }, 0, func(t *testing.T) {
			if st := stat(t, p("d")); st.Nlink != 3 {
				t.Errorf("d nlink %d, want 3", st.Nlink)
			}
		}},
		{"rename dir into itself", func() error { return unix.Rename(p("d"), p("d/e/d")) }, syscall.EINVAL, nil},
		{"rename dir over fifo", func() error { return unix.Rename(p("d/e"), p("d/q")) }, syscall.ENOTDIR, nil},
		{"rmdir nested", func() error { return unix.Rmdir(p("d/e")) }, 0, nil},
		{"rename keeps inode", func() error { return unix.Rename(p("p"), p("d/p2")) }, 0, func(t *testing.T) {
			if st := stat(t, p("d/p2")); st.Ino != pIno || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
				t.Errorf("d/p2: ino %d mode %o, want ino %d fifo", st.Ino, st.Mode, pIno)
			}
			if err := unix.Access(p("p"), unix.F_OK); errnoOf(err) != syscall.ENOENT {
				t.Errorf("old name: %v, want ENOENT", err)
			}
		}},
		{"rename noreplace", func() error {
			return unix.Renameat2(unix.AT_FDCWD, p("d/q"), unix.AT_FDCWD, p("d/p2"), unix.RENAME_NOREPLACE)
		}, syscall.EEXIST, nil},
		{"rename exchange", func() error {
			return unix.Renameat2(unix.AT_FDCWD, p("d/q"), unix.AT_FDCWD, p("d/p2"), unix.RENAME_EXCHANGE)
		}, 0, func(t *testing.T) {
			if st := stat(t, p("d/q")); st.Ino != pIno {
				t.Errorf("d/q after exchange: ino %d, want %d", st.Ino, pIno)
			}
		}},
		{"rename over fifo", func() error { return unix.Rename(p("d/q"), p("d/p2")) }, 0, func(t *testing.T) {
			if st := stat(t, p("d/p2")); st.Ino != pIno {
				t.Errorf("d/p2: ino %d, want %d", st.Ino, pIno)
			}
		}},
		{"rename fifo over dir", func() error { return unix.Rename(p("d/p2"), p("sub")) }, syscall.EISDIR, nil},
		{"rmdir non-empty", func() error { return unix.Rmdir(p("d")) }, syscall.ENOTEMPTY, nil},
		{"unlink", func() error { return unix.Unlink(p("d/p2")) }, 0, nil},
		{"unlink dir", func() error { return unix.Unlink(p("d")) }, syscall.EISDIR, nil},
		{"rmdir", func() error { return unix.Rmdir(p("d")) }, 0, func(t *testing.T) {
			if err := unix.Access(p("d"), unix.F_OK); errnoOf(err) != syscall.ENOENT {
				t.Errorf("removed dir: %v, want ENOENT", err)
			}
		}},
		{"rmdir fifo", func() error { return unix.Rmdir(p("in")) }, syscall.ENOTDIR, nil},
		{"create regular file", func() error {
			fd, err := unix.Open(p("file"), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}, syscall.EOPNOTSUPP, nil},
		{"mknod regular file", func() error { return unix.Mknod(p("file"), syscall.S_IFREG|0o644, 0) }, syscall.EOPNOTSUPP, nil},
		{"mknod device", func() error { return unix.Mknod(p("dev"), syscall.S_IFCHR|0o644, 0x0103) }, syscall.EPERM, nil},
		{"symlink", func() error { return unix.Symlink("in", p("link")) }, syscall.EOPNOTSUPP, nil},
		{"hard link", func() error { return unix.Link(p("in"), p("in2")) }, syscall.EOPNOTSUPP, nil},
		{"chmod", func() error { return unix.Chmod(p("in"), 0o604) }, 0, func(t *testing.T) {
			if st := stat(t, p("in")); st.Mode != syscall.S_IFIFO|0o604 {
				t.Errorf("mode %o, want fifo 0604", st.Mode)
			}
		}},
		{"chown", func() error { return unix.Chown(p("in"), 1234, 5678) }, 0, func(t *testing.T) {
			if st := stat(t, p("in")); st.Uid != 1234 || st.Gid != 5678 || st.Mode != syscall.S_IFIFO|0o604 {
				t.Errorf("owner %d:%d mode %o, want 1234:5678 fifo 0604", st.Uid, st.Gid, st.Mode)
			}
		}},
		{"utimes", func() error {
			return unix.UtimesNano(p("in"), []unix.Timespec{unix.NsecToTimespec(1e9), unix.NsecToTimespec(2e9)})
		}, 0, func(t *testing.T) {
			if st := stat(t, p("in")); st.Atim.Sec != 1 || st.Mtim.Sec != 2 {
				t.Errorf("atime %d mtime %d, want 1 2", st.Atim.Sec, st.Mtim.Sec)
			}
		}},
		{"chmod dir", func() error { return unix.Chmod(root, 0o711) }, 0, func(t *testing.T) {
			if st := stat(t, root); st.Mode != syscall.S_IFDIR|0o711 {
				t.Errorf("mode %o, want dir 0711", st.Mode)
			}
		}},
		{"top-level mkdir", func() error { return unix.Mkdir(filepath.Join(mp, "x"), 0o755) }, syscall.EPERM, nil},
		{"top-level mkfifo", func() error { return unix.Mkfifo(filepath.Join(mp, "x"), 0o644) }, syscall.EPERM, nil},
		{"top-level create", func() error {
			_, err := os.Create(filepath.Join(mp, "x"))
			return err
		}, syscall.EPERM, nil},
		{"top-level rmdir", func() error { return unix.Rmdir(root) }, syscall.EPERM, nil},
		{"top-level rename", func() error { return unix.Rename(root, filepath.Join(mp, "tc")) }, syscall.EPERM, nil},
		{"rename to top level", func() error { return unix.Rename(p("in"), filepath.Join(mp, "in")) }, syscall.EPERM, nil},
		{"rename across TAs", func() error { return unix.Rename(p("in"), filepath.Join(other, "in")) }, syscall.EXDEV, nil},
		{"unlink .tz", func() error { return unix.Unlink(p(".tz")) }, syscall.EISDIR, nil},
		{"rmdir .tz", func() error { return unix.Rmdir(p(".tz")) }, syscall.EPERM, nil},
		{"rename .tz", func() error { return unix.Rename(p(".tz"), p("meta")) }, syscall.EPERM, nil},
		{"rename over .tz", func() error { return unix.Rename(p("sub"), p(".tz")) }, syscall.EPERM, nil},
		{"mkdir over .tz", func() error { return unix.Mkdir(p(".tz"), 0o755) }, syscall.EEXIST, nil},
		{"mkfifo in .tz", func() error { return unix.Mkfifo(p(".tz/x"), 0o644) }, syscall.EPERM, nil},
		{"mkdir in .tz", func() error { return unix.Mkdir(p(".tz/x"), 0o755) }, syscall.EPERM, nil},
		{"rename into .tz", func() error { return unix.Rename(p("in"), p(".tz/in")) }, syscall.EPERM, nil},
		{"unlink status", func() error { return unix.Unlink(p(".tz/status")) }, syscall.EPERM, nil},
		{"write status", func() error {
			fd, err := unix.Open(p(".tz/status"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}, syscall.EACCES, nil},
		{"chmod status", func() error { return unix.Chmod(p(".tz/status"), 0o666) }, syscall.EPERM, nil},
		{"truncate status", func() error { return unix.Truncate(p(".tz/status"), 0) }, syscall.EACCES, nil},
		{"chmod .tz", func() error { return unix.Chmod(p(".tz"), 0o777) }, syscall.EPERM, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if got := errnoOf(s.op()); got != s.want {
				t.Fatalf("got %v (%d), want %v (%d)", got, got, s.want, s.want)
			}
			if s.check != nil {
				s.check(t)
			}
		})
	}

	// The listing shows what the steps left.
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, " "), ".tz in sub"; got != want {
		t.Errorf("ReadDir = %q, want %q", got, want)
	}
	ents, err = os.ReadDir(mp)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 || ents[0].Name() != "ta" || ents[1].Name() != "tb" {
		t.Errorf("root listing %v, want [ta tb]", ents)
	}
}

func TestSetgidDirectory(t *testing.T) {
	f := mountTest(t, Options{})
	root := addTA(t, f, "ta", TAOptions{DirMode: 0o775 | os.ModeSetgid, DirGID: 4242})
	if err := unix.Mkfifo(filepath.Join(root, "p"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkdir(filepath.Join(root, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, filepath.Join(root, "p")); st.Gid != 4242 {
		t.Errorf("fifo gid %d, want the directory's 4242", st.Gid)
	}
	if st := stat(t, filepath.Join(root, "d")); st.Gid != 4242 || st.Mode&syscall.S_ISGID == 0 {
		t.Errorf("dir gid %d mode %o, want gid 4242 and setgid", st.Gid, st.Mode)
	}
}

func TestStatusFile(t *testing.T) {
	f := mountTest(t, Options{})
	var n atomic.Int64
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB, more than one FUSE read
	root := addTA(t, f, "echo", TAOptions{Status: func() []byte {
		if n.Add(1) == 3 {
			return big
		}
		return fmt.Appendf(nil, "state: running\nopens: %d\n", n.Load())
	}, StatusJSON: func() []byte { return []byte(`{"state":"running"}`) }})
	status := filepath.Join(root, ".tz", "status")
	for i := int64(1); i <= 2; i++ {
		got, err := os.ReadFile(status)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("state: running\nopens: %d\n", i); string(got) != want {
			t.Errorf("read %d: %q, want %q", i, got, want)
		}
	}
	got, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Errorf("big status: read %d bytes, want %d", len(got), len(big))
	}
	if st := stat(t, status); st.Mode != syscall.S_IFREG|0o444 {
		t.Errorf("status mode %o, want regular 0444", st.Mode)
	}
	statusJSON := filepath.Join(root, ".tz", "status.json")
	if got, err := os.ReadFile(statusJSON); err != nil || string(got) != `{"state":"running"}` {
		t.Errorf("status.json: %q, %v", got, err)
	}
	if st := stat(t, statusJSON); st.Mode != syscall.S_IFREG|0o444 {
		t.Errorf("status.json mode %o, want regular 0444", st.Mode)
	}
	if err := os.WriteFile(statusJSON, nil, 0o644); errnoOf(err) != syscall.EACCES {
		t.Errorf("write status.json: %v, want EACCES", err)
	}

	// A TA without a callback has an empty status; a panicking callback
	// fails the open, not the server.
	root2 := addTA(t, f, "quiet", TAOptions{})
	if got, err := os.ReadFile(filepath.Join(root2, ".tz", "status")); err != nil || len(got) != 0 {
		t.Errorf("nil Status: %q, %v; want empty", got, err)
	}
	root3 := addTA(t, f, "broken", TAOptions{Status: func() []byte { panic("boom") }})
	if _, err := os.ReadFile(filepath.Join(root3, ".tz", "status")); errnoOf(err) != syscall.EIO {
		t.Errorf("panicking Status: %v, want EIO", err)
	}
	if _, err := os.ReadFile(status); err != nil {
		t.Errorf("server after callback panic: %v", err)
	}
}

func TestAddRemoveTA(t *testing.T) {
	f := mountTest(t, Options{})
	p := filepath.Join(f.Mountpoint(), "echo")
	if err := unix.Access(p, unix.F_OK); errnoOf(err) != syscall.ENOENT {
		t.Fatalf("before AddTA: %v, want ENOENT", err)
	}
	got := addTA(t, f, "echo", TAOptions{Endpoints: []Endpoint{{Name: "in", Kind: FIFO}}})
	if got != p || f.Root("echo") != p || f.Root("nope") != "" {
		t.Errorf("AddTA root %q, Root %q / %q; want %q and \"\"", got, f.Root("echo"), f.Root("nope"), p)
	}
	// Visible at once, although the kernel just cached the miss.
	if st := stat(t, filepath.Join(p, "in")); st.Mode != syscall.S_IFIFO|0o600 {
		t.Errorf("default endpoint mode %o, want fifo 0600", st.Mode)
	}
	if st := stat(t, f.Mountpoint()); st.Nlink != 3 {
		t.Errorf("root nlink %d, want 3", st.Nlink)
	}
	if _, err := f.AddTA("echo", TAOptions{}); !errors.Is(err, iofs.ErrExist) {
		t.Errorf("AddTA twice: %v, want ErrExist", err)
	}

	// A client holding the FIFO keeps its pipe across RemoveTA.
	fd, err := unix.Open(filepath.Join(p, "in"), unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := f.RemoveTA("echo"); err != nil {
		t.Fatal(err)
	}
	// Gone at once, although the kernel cached the entry.
	if err := unix.Access(p, unix.F_OK); errnoOf(err) != syscall.ENOENT {
		t.Errorf("after RemoveTA: %v, want ENOENT", err)
	}
	if _, err := unix.Write(fd, []byte("x")); err != nil {
		t.Errorf("write to held FIFO after RemoveTA: %v", err)
	}
	if err := f.RemoveTA("echo"); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("RemoveTA twice: %v, want ErrNotExist", err)
	}
	addTA(t, f, "echo", TAOptions{})
	if err := unix.Access(filepath.Join(p, "in"), unix.F_OK); errnoOf(err) != syscall.ENOENT {
		t.Errorf("re-added TA has old endpoint: %v", err)
	}
}

func TestAddTAValidation(t *testing.T) {
	f := &FS{mountpoint: "/tz", tas: map[string]*taState{}}
	long := strings.Repeat("a", 256)
	for _, tc := range []struct {
		name string
		ta   string
		eps  []Endpoint
	}{
		{"empty name", "", nil},
		{"dot name", ".hidden", nil},
		{"dotdot", "..", nil},
		{"slash", "a/b", nil},
		{"long name", long, nil},
		{"nul", "a\x00b", nil},
		{"endpoint no kind", "ok", []Endpoint{{Name: "in"}}},
		{"endpoint absolute", "ok", []Endpoint{{Name: "/in", Kind: FIFO}}},
		{"endpoint escapes", "ok", []Endpoint{{Name: "../in", Kind: FIFO}}},
		{"endpoint empty", "ok", []Endpoint{{Name: "", Kind: FIFO}}},
		{"endpoint in .tz", "ok", []Endpoint{{Name: ".tz/x", Kind: FIFO}}},
		{"endpoint twice", "ok", []Endpoint{{Name: "in", Kind: FIFO}, {Name: "./in", Kind: UnixSocket}}},
		{"endpoint is a parent", "ok", []Endpoint{{Name: "a", Kind: FIFO}, {Name: "a/b", Kind: FIFO}}},
		{"socket path too long", "ok", []Endpoint{{Name: strings.Repeat("s", 101), Kind: UnixSocket}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.AddTA(tc.ta, TAOptions{Endpoints: tc.eps}); err == nil {
				t.Errorf("AddTA(%q, %v) succeeded", tc.ta, tc.eps)
			}
		})
	}
	if err := validTAName(strings.Repeat("a", 255)); err != nil {
		t.Errorf("255-byte name: %v", err)
	}
	// 107 bytes is the longest path sockaddr_un takes with its NUL.
	if _, err := f.validEndpoints("ok", []Endpoint{{Name: strings.Repeat("s", 100), Kind: UnixSocket}}); err != nil {
		t.Errorf("107-byte socket path: %v", err)
	}
}

func TestParseMountinfo(t *testing.T) {
	info := `22 1 0:21 / /proc rw,nosuid - proc proc rw
42 27 0:39 / /tmp/a\040b/tz rw,nosuid,nodev - fuse.tzbridge tzbridge rw,user_id=0
43 27 0:40 / /tmp/x rw shared:5 - fuse sshfs rw
44 27 0:41 / /tmp/a\040b/tz rw - tmpfs tmpfs rw
`
	got := parseMounts([]byte(info), "/tmp/a b/tz")
	if len(got) != 2 || got[0].fstype != "fuse.tzbridge" || got[0].source != "tzbridge" ||
		!got[0].isFUSE() || got[1].isFUSE() {
		t.Errorf("parseMounts = %+v", got)
	}
	if got := parseMounts([]byte(info), "/tmp/x"); len(got) != 1 || !got[0].isFUSE() {
		t.Errorf("plain fuse: %+v", got)
	}
	if got := unescapeMountinfo(`a\134b\011c\04`); got != "a\\b\tc\\04" {
		t.Errorf("unescape = %q", got)
	}
}

// TestFIFOCarriesData checks that a FIFO node under the mount joins its
// openers by a kernel pipe: between goroutines, and from an unmodified
// shell writing to it.
func TestFIFOCarriesData(t *testing.T) {
	f := mountTest(t, Options{})
	root := addTA(t, f, "echo", TAOptions{Endpoints: []Endpoint{{Name: "in", Kind: FIFO, Mode: 0o666}}})
	fifo := filepath.Join(root, "in")

	msg := bytes.Repeat([]byte("tzbridge "), 10000) // larger than the pipe buffer
	errc := make(chan error, 1)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // blocks until the reader opens
		if err != nil {
			errc <- err
			return
		}
		_, err = w.Write(msg)
		errc <- errors.Join(err, w.Close())
	}()
	r, err := os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Errorf("read %d bytes, want %d", len(got), len(msg))
	}

	// A shell redirect opens with O_CREAT|O_TRUNC: it must open the
	// existing FIFO, not try to create a file.
	cmd := exec.Command("sh", "-c", `echo "hello from sh" > "$0"`, fifo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r, err = os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(r)
	r.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sh: %v: %s", err, stderr.String())
	}
	if err != nil || string(got) != "hello from sh\n" {
		t.Errorf("from sh: %q, %v", got, err)
	}
}

// TestUnixSocket checks that a socket bound under the mount accepts
// connections made through other lookups of its path: the same path, the
// /proc/self/fd/N/name form the shadow uses, and a new name after rename.
// It also checks that a declared socket gets the declared owner and mode.
func TestUnixSocket(t *testing.T) {
	f := mountTest(t, Options{})
	root := addTA(t, f, "echo", TAOptions{Endpoints: []Endpoint{{Name: "sock", Kind: UnixSocket, Mode: 0o660, UID: 123, GID: 456}}})
	sock := filepath.Join(root, "sock")

	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	if st := stat(t, sock); st.Mode != syscall.S_IFSOCK|0o660 || st.Uid != 123 || st.Gid != 456 {
		t.Errorf("declared socket: mode %o owner %d:%d, want socket 0660 123:456", st.Mode, st.Uid, st.Gid)
	}

	dirfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dirfd)
	ping := func(addr string) {
		t.Helper()
		c, err := net.Dial("unix", addr)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("echo via %s: %q, %v", addr, buf, err)
		}
	}
	ping(sock)
	ping(fmt.Sprintf("/proc/self/fd/%d/sock", dirfd))

	// An undeclared socket belongs to its binder, with the umask applied.
	ln2, err := net.Listen("unix", filepath.Join(root, "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	if st := stat(t, filepath.Join(root, "other")); st.Mode&syscall.S_IFMT != syscall.S_IFSOCK || st.Uid != 0 {
		t.Errorf("undeclared socket: mode %o uid %d", st.Mode, st.Uid)
	}

	if err := os.Rename(sock, filepath.Join(root, "moved")); err != nil {
		t.Fatal(err)
	}
	ping(filepath.Join(root, "moved"))
}

// TestPermissions checks that the kernel enforces node modes for an
// unprivileged client (default_permissions, allow_other).
func TestPermissions(t *testing.T) {
	requireFUSE(t)
	base := t.TempDir()
	// Let uid 65534 reach the mountpoint.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := mountTest(t, Options{Mountpoint: filepath.Join(base, "tz")})
	root := addTA(t, f, "echo", TAOptions{Endpoints: []Endpoint{
		{Name: "private", Kind: FIFO, Mode: 0o600},
		{Name: "public", Kind: FIFO, Mode: 0o666},
		{Name: "nobodys", Kind: FIFO, Mode: 0o600, UID: 65534, GID: 65534},
	}})
	asNobody := func(mode, path string) string {
		t.Helper()
		cmd := helperCmd(t, mode, "TZFUSEFS_PATH="+path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helper %s %s: %v: %s", mode, path, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tc := range []struct{ mode, path, want string }{
		{"open", "private", "EACCES"},
		{"open", "public", "ok"},
		{"open", "nobodys", "ok"},
		{"mkfifo", "new", "EACCES"}, // TA directory is 0755 root
	} {
		if got := asNobody(tc.mode, filepath.Join(root, tc.path)); got != tc.want {
			t.Errorf("%s %s as uid 65534: %s, want %s", tc.mode, tc.path, got, tc.want)
		}
	}
	// After chmod the kernel lets the client in.
	if err := os.Chmod(filepath.Join(root, "private"), 0o606); err != nil {
		t.Fatal(err)
	}
	if got := asNobody("open", filepath.Join(root, "private")); got != "ok" {
		t.Errorf("open after chmod 0606: %s, want ok", got)
	}
}

// TestMayModify checks the policy hook and the per-TA switch: callers the
// kernel lets write a directory are still refused by the hook unless the
// TA allows CAs to modify its tree.
func TestMayModify(t *testing.T) {
	var calls atomic.Int64
	var denyAll atomic.Bool
	f := mountTest(t, Options{MayModify: func(ta string, c fuse.Caller) bool {
		calls.Add(1)
		return !denyAll.Load() && c.Uid == 0 && ta == "strict"
	}})
	strict := addTA(t, f, "strict", TAOptions{DirMode: 0o777})
	open := addTA(t, f, "open", TAOptions{DirMode: 0o777, CAMayModify: true})
	closed := addTA(t, f, "closed", TAOptions{DirMode: 0o777})

	if err := unix.Mkfifo(filepath.Join(strict, "p"), 0o600); err != nil {
		t.Errorf("hook allows: %v", err)
	}
	if err := unix.Mkfifo(filepath.Join(closed, "p"), 0o600); errnoOf(err) != syscall.EPERM {
		t.Errorf("hook refuses mkfifo: %v, want EPERM", err)
	}
	n := calls.Load()
	if err := unix.Mkfifo(filepath.Join(open, "p"), 0o600); err != nil {
		t.Errorf("CAMayModify: %v", err)
	}
	if calls.Load() != n {
		t.Errorf("hook consulted for a CAMayModify TA")
	}
	// Deletion and rename go through the same hook.
	if err := unix.Mkdir(filepath.Join(strict, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	denyAll.Store(true)
	for name, op := range map[string]func() error{
		"unlink": func() error { return unix.Unlink(filepath.Join(strict, "p")) },
		"rmdir":  func() error { return unix.Rmdir(filepath.Join(strict, "d")) },
		"rename": func() error { return unix.Rename(filepath.Join(strict, "p"), filepath.Join(strict, "q")) },
		"mkdir":  func() error { return unix.Mkdir(filepath.Join(strict, "e"), 0o700) },
	} {
		if err := op(); errnoOf(err) != syscall.EPERM {
			t.Errorf("%s refused by hook: %v, want EPERM", name, err)
		}
	}
}

// TestCallerPidIsThreadID documents what go-fuse hands the MayModify hook:
// the kernel puts the calling thread's id in the FUSE request.
func TestCallerPidIsThreadID(t *testing.T) {
	var got atomic.Pointer[fuse.Caller]
	f := mountTest(t, Options{MayModify: func(_ string, c fuse.Caller) bool {
		got.Store(&c)
		return true
	}})
	root := addTA(t, f, "echo", TAOptions{})
	done := make(chan int)
	go func() {
		// A locked goroutine on a fresh thread: its tid differs from
		// the process id.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := unix.Mkfifo(filepath.Join(root, "p"), 0o600); err != nil {
			t.Error(err)
		}
		done <- unix.Gettid()
	}()
	tid := <-done
	c := got.Load()
	if c == nil {
		t.Fatal("hook not called")
	}
	t.Logf("caller pid %d, thread id %d, process id %d", c.Pid, tid, os.Getpid())
	if int(c.Pid) != tid {
		t.Errorf("caller pid %d, want thread id %d", c.Pid, tid)
	}
	if pid, err := ProcessID(c.Pid); err != nil || pid != os.Getpid() {
		t.Errorf("ProcessID(%d) = %d, %v; want %d", c.Pid, pid, err, os.Getpid())
	}
}

// TestStaleMount kills a serving process so that its mount stays behind
// ("transport endpoint is not connected") and checks that Mount clears it.
func TestStaleMount(t *testing.T) {
	requireFUSE(t)
	mp := filepath.Join(t.TempDir(), "tz")
	t.Cleanup(func() { forceUnmount(t, mp) })

	cmd := helperCmd(t, "serve", "TZFUSEFS_MP="+mp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line := readLine(t, bufio.NewReader(stdout), 30*time.Second); line != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %q", line)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	var st unix.Stat_t
	if err := unix.Stat(mp, &st); errnoOf(err) != syscall.ENOTCONN {
		t.Fatalf("stat after SIGKILL: %v, want ENOTCONN", err)
	}
	if !isMounted(t, mp) {
		t.Fatal("no stale mount in mountinfo")
	}

	var logs testLog
	f := mountTest(t, Options{Mountpoint: mp, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if !strings.Contains(logs.String(), "cleared stale mount") || strings.Count(logs.String(), "\n") != 1 {
		t.Errorf("log = %q, want one line about the stale mount", logs.String())
	}
	if ms, _ := fuseMountsAt(mp); len(ms) != 1 {
		t.Errorf("%d mounts at %s, want 1", len(ms), mp)
	}
	root := addTA(t, f, "echo", TAOptions{})
	if err := unix.Mkfifo(filepath.Join(root, "in"), 0o600); err != nil {
		t.Errorf("new mount does not work: %v", err)
	}
}

// TestOpenCloseNoLeaks opens and closes a FIFO endpoint 1000 times and
// checks that neither descriptors nor goroutines accumulate.
func TestOpenCloseNoLeaks(t *testing.T) {
	for _, ttl := range []time.Duration{kernelCacheTTL, 0} {
		// With ttl=0 every open goes through the daemon.
		t.Run(fmt.Sprintf("ttl=%v", ttl), func(t *testing.T) {
			testOpenCloseNoLeaks(t, ttl)
		})
	}
}

func testOpenCloseNoLeaks(t *testing.T, ttl time.Duration) {
	f := mountTest(t, Options{cacheTTL: &ttl})
	root := addTA(t, f, "echo", TAOptions{Endpoints: []Endpoint{{Name: "in", Kind: FIFO, Mode: 0o666}}})
	fifo := filepath.Join(root, "in")
	cycle := func(n int) {
		for i := range n {
			if i%2 == 0 {
				fd, err := unix.Open(fifo, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				if err := unix.Close(fd); err != nil {
					t.Fatal(err)
				}
				continue
			}
			// os.File puts the FIFO on the runtime poller.
			fh, err := os.OpenFile(fifo, os.O_RDWR|syscall.O_NONBLOCK, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := fh.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cycle(20) // warm up: go-fuse reader goroutines, runtime poller
	fds, gs := countFDs(t), countGoroutines()
	cycle(1000)

	// go-fuse keeps a pool of reader goroutines blocked on /dev/fuse
	// whose size follows the load, up to a bound; they are not leaks.
	// Everything else must be back to where it was.
	readerBound := min(max(runtime.GOMAXPROCS(0), 2), 16) + 1
	var gotFDs int
	var got goroutineCount
	deadline := time.Now().Add(5 * time.Second)
	for {
		gotFDs, got = countFDs(t), countGoroutines()
		ok := gotFDs <= fds && got.other <= gs.other && got.readers <= readerBound
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("descriptors %d -> %d, goroutines %+v -> %+v", fds, gotFDs, gs, got)
	if gotFDs > fds {
		t.Errorf("descriptors: %d before, %d after 1000 cycles", fds, gotFDs)
	}
	if got.other > gs.other || got.readers > readerBound {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %+v before, %+v after 1000 cycles (reader bound %d)\n%s",
			gs, got, readerBound, buf[:runtime.Stack(buf, true)])
	}
}

type goroutineCount struct{ readers, other int }

// countGoroutines splits the live goroutines into go-fuse's request
// readers and the rest.
func countGoroutines() goroutineCount {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var c goroutineCount
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "fuse.(*Server).loop(") && !strings.Contains(g, "fuse.(*Server).Serve(") {
			c.readers++
		} else {
			c.other++
		}
	}
	return c
}

// TestCloseWhileBusy closes the file system while a client holds a FIFO
// open, a goroutine is blocked opening another FIFO for reading, and a
// separate process is blocked the same way.
func TestCloseWhileBusy(t *testing.T) {
	f := mountTest(t, Options{})
	mp := f.Mountpoint()
	root := addTA(t, f, "echo", TAOptions{Endpoints: []Endpoint{
		{Name: "held", Kind: FIFO, Mode: 0o666},
		{Name: "waiting", Kind: FIFO, Mode: 0o666},
		{Name: "proc", Kind: FIFO, Mode: 0o666},
	}})

	held, err := unix.Open(filepath.Join(root, "held"), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(held)

	// An O_PATH descriptor reaches the waiting FIFO after the mount is
	// gone, to release the blocked goroutine at the end.
	waitingPath, err := unix.Open(filepath.Join(root, "waiting"), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(waitingPath)
	opened := make(chan error, 1)
	go func() {
		fd, err := unix.Open(filepath.Join(root, "waiting"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		opened <- err
	}()

	cmd := helperCmd(t, "open", "TZFUSEFS_PATH="+filepath.Join(root, "proc"), "TZFUSEFS_BLOCK=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	if line := readLine(t, bufio.NewReader(stdout), 30*time.Second); line != "opening" {
		t.Fatalf("helper: %q", line)
	}
	time.Sleep(100 * time.Millisecond) // let both openers reach the kernel's FIFO wait
	select {
	case err := <-opened:
		t.Fatalf("open of the waiting FIFO returned early: %v", err)
	default:
	}

	closed := make(chan error, 1)
	go func() { closed <- f.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return")
	}
	if isMounted(t, mp) {
		t.Error("mount left behind")
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// The held pipe still works: the kernel carries it, not the daemon.
	if _, err := unix.Write(held, []byte("x")); err != nil {
		t.Errorf("write to held FIFO after Close: %v", err)
	}
	buf := make([]byte, 1)
	if _, err := unix.Read(held, buf); err != nil {
		t.Errorf("read from held FIFO after Close: %v", err)
	}
	// Release the blocked goroutine by opening the writer end. The
	// reopen checks permissions against cached attributes, which an
	// aborted connection can no longer refresh; if they have expired
	// the goroutine stays parked in the kernel until the test binary
	// exits, which is harmless.
	w, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", waitingPath), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Logf("could not release the blocked opener: %v", err)
		return
	}
	unix.Close(w)
	select {
	case err := <-opened:
		if err != nil {
			t.Logf("blocked open returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("blocked opener not released")
	}
}

func TestCloseTwiceAndContextCancel(t *testing.T) {
	requireFUSE(t)
	mp := filepath.Join(t.TempDir(), "tz")
	t.Cleanup(func() { forceUnmount(t, mp) })
	ctx, cancel := context.WithCancel(context.Background())
	f, err := Mount(ctx, Options{Mountpoint: mp})
	if err != nil {
		t.Fatal(err)
	}
	addTA(t, f, "echo", TAOptions{})
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for isMounted(t, mp) {
		if time.Now().After(deadline) {
			t.Fatal("still mounted after context cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.AddTA("late", TAOptions{}); !errors.Is(err, iofs.ErrClosed) {
		t.Errorf("AddTA after Close: %v, want ErrClosed", err)
	}

	// Mounting over the same path again works and leaves one mount.
	f2 := mountTest(t, Options{Mountpoint: mp})
	if ms, _ := fuseMountsAt(mp); len(ms) != 1 {
		t.Errorf("%d mounts, want 1", len(ms))
	}
	if err := f2.Close(); err != nil {
		t.Fatal(err)
	}
	if isMounted(t, mp) {
		t.Error("mounted after Close")
	}
}

func TestMountErrors(t *testing.T) {
	if _, err := Mount(context.Background(), Options{}); err == nil {
		t.Error("Mount with empty mountpoint succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Mount(ctx, Options{Mountpoint: t.TempDir()}); !errors.Is(err, context.Canceled) {
		t.Errorf("Mount with cancelled ctx: %v", err)
	}
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			_, err := Mount(context.Background(), Options{Mountpoint: filepath.Join(t.TempDir(), "tz")})
			if err == nil || !strings.Contains(err.Error(), "run as root") {
				t.Errorf("unprivileged Mount without fusermount3: %v, want advice", err)
			}
			t.Logf("unprivileged Mount: %v", err)
		}
	}
	if err := explainMountError(syscall.ENODEV, true); !strings.Contains(err.Error(), "modprobe fuse") {
		t.Errorf("ENODEV explanation: %v", err)
	}
	if err := explainMountError(syscall.EPERM, false); !strings.Contains(err.Error(), "fusermount3") {
		t.Errorf("EPERM explanation: %v", err)
	}
}

// TestShadowChangesVisibleAtOnce makes changes the way the shadow does —
// relative to the TA directory, resolved with openat2(RESOLVE_IN_ROOT) —
// and checks that a client looking the path up from the top sees each one
// at once, whatever the kernel caches.
func TestShadowChangesVisibleAtOnce(t *testing.T) {
	f := mountTest(t, Options{})
	root := addTA(t, f, "echo", TAOptions{})
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rootfd)
	clientSees := func(rel string) bool {
		t.Helper()
		err := unix.Access(filepath.Join(root, rel), unix.F_OK)
		if err != nil && errnoOf(err) != syscall.ENOENT {
			t.Fatal(err)
		}
		return err == nil
	}
	// The client looks first, so that the kernel has the miss cached.
	if clientSees("in") || clientSees("sub") {
		t.Fatal("exists before creation")
	}
	if err := unix.Mknodat(rootfd, "in", syscall.S_IFIFO|0o600, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkdirat(rootfd, "sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if !clientSees("in") || !clientSees("sub") {
		t.Fatal("creation not visible at once")
	}
	// "/sub" is inside the TA root, not the host root.
	subfd, err := unix.Openat2(rootfd, "/sub", &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(subfd)
	if err := unix.Mknodat(subfd, "x", syscall.S_IFIFO|0o600, 0); err != nil {
		t.Fatal(err)
	}
	if !clientSees("sub/x") {
		t.Fatal("creation in subdirectory not visible at once")
	}
	fd, err := unix.Openat2(rootfd, "../../in", &unix.OpenHow{Flags: unix.O_RDWR | unix.O_NONBLOCK | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		t.Fatalf("openat2 RESOLVE_IN_ROOT: %v", err)
	}
	unix.Close(fd)
	if err := unix.Renameat(subfd, "x", rootfd, "y"); err != nil {
		t.Fatal(err)
	}
	if clientSees("sub/x") || !clientSees("y") {
		t.Fatal("rename not visible at once")
	}
	for _, name := range []string{"in", "y"} {
		if err := unix.Unlinkat(rootfd, name, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Unlinkat(rootfd, "sub", unix.AT_REMOVEDIR); err != nil {
		t.Fatal(err)
	}
	if clientSees("in") || clientSees("y") || clientSees("sub") {
		t.Fatal("removal not visible at once")
	}
}

// TestMountOverLiveMount mounts twice on one path: the second Mount takes
// the first mount off (the spec's stale-mount rule covers any FUSE mount
// there), and closing the first FS must not unmount the second.
func TestMountOverLiveMount(t *testing.T) {
	var logs testLog
	f1 := mountTest(t, Options{})
	mp := f1.Mountpoint()
	f2 := mountTest(t, Options{Mountpoint: mp, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if !strings.Contains(logs.String(), "cleared stale mount") {
		t.Errorf("log = %q, want the cleared mount", logs.String())
	}
	if err := f1.Close(); err != nil {
		t.Errorf("Close of the displaced FS: %v", err)
	}
	if ms, _ := fuseMountsAt(mp); len(ms) != 1 {
		t.Fatalf("%d mounts at %s after closing the displaced FS, want 1", len(ms), mp)
	}
	root := addTA(t, f2, "echo", TAOptions{})
	if err := unix.Mkfifo(filepath.Join(root, "in"), 0o600); err != nil {
		t.Errorf("second mount broken: %v", err)
	}
}

// TestMountCloseNoLeaks mounts and closes repeatedly: Close must wait for
// the server to stop and release its /dev/fuse descriptor.
func TestMountCloseNoLeaks(t *testing.T) {
	requireFUSE(t)
	mp := filepath.Join(t.TempDir(), "tz")
	t.Cleanup(func() { forceUnmount(t, mp) })
	cycle := func() {
		f, err := Mount(context.Background(), Options{Mountpoint: mp})
		if err != nil {
			t.Fatal(err)
		}
		root := addTA(t, f, "echo", TAOptions{Endpoints: []Endpoint{{Name: "in", Kind: FIFO}}})
		if err := unix.Access(filepath.Join(root, "in"), unix.F_OK); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cycle()
	fds, gs := countFDs(t), runtime.NumGoroutine()
	for range 20 {
		cycle()
	}
	if isMounted(t, mp) {
		t.Error("mounted after Close")
	}
	if got := countFDs(t); got > fds {
		t.Errorf("descriptors: %d before, %d after 20 mounts", fds, got)
	}
	// Nothing of a closed FS may keep running, go-fuse readers included.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > gs && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > gs {
		t.Errorf("goroutines: %d before, %d after 20 mounts", gs, got)
	}
}

func TestDebugLogging(t *testing.T) {
	var logs testLog
	f := mountTest(t, Options{Debug: true, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	root := addTA(t, f, "echo", TAOptions{})
	if err := unix.Mkfifo(filepath.Join(root, "in"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "MKNOD") {
		t.Errorf("debug log has no MKNOD request:\n%s", logs.String())
	}
}

// TestCloseWithMountCopy: a mount namespace made with private propagation
// while the tree is mounted (unshare(1), a sandboxing service manager)
// holds a copy of the mount that our unmount does not reach, so the FUSE
// connection would live as long as that namespace. Close aborts it and
// returns; the copy then fails with ENOTCONN instead of serving a tree
// whose bridge is gone.
func TestCloseWithMountCopy(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}
	var logs syncbuf.Buffer
	f := mountTest(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	addTA(t, f, "echo", TAOptions{})
	mp := f.Mountpoint()
	// The child keeps a namespace with a copy of the mount and reports
	// what stat says at the copy's path when the test asks.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`echo ready; read _; stat "$0/echo" >/dev/null 2>&1 && echo served || echo gone; read _`, mp)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	out := bufio.NewReader(stdout)
	if line := readLine(t, out, 30*time.Second); line != "ready" {
		t.Fatalf("child: %q", line)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close with a copy of the mount elsewhere: %v", err)
	}
	fmt.Fprintln(stdin)
	if line := readLine(t, out, 30*time.Second); line != "gone" {
		t.Errorf("the copy of the mount after Close: %s, want it gone", line)
	}
	if !strings.Contains(logs.String(), "outlived the unmount") {
		t.Errorf("Close did not say it aborted the connection:\n%s", logs.String())
	}
}
