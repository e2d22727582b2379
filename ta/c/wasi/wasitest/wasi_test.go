//go:build cgo

package wasitest

import (
	"bytes"
	"encoding/binary"
	"strings"
	"syscall"
	"testing"
)

// Function numbers (fake.c's fk_call).
const (
	fArgsGet = iota
	fArgsSizesGet
	fEnvironSizesGet
	fClockResGet
	fClockTimeGet
	fRandomGet
	fFdClose
	fFdstatGet
	fFdstatSetFlags
	fFilestatGet
	fPrestatGet
	fPrestatDirName
	fReaddir
	fRenumber
	fFdRead
	fFdWrite
	fPathOpen
	fPathMkdir
	fPathRmdir
	fPathUnlink
	fPathRename
	fPathFilestat
	fPoll
	fSockAccept
	fSockRecv
	fSockSend
	fSockShutdown
	fTzSocket
	fTzBind
	fTzConnect
	fTzListen
	fTzSendto
	fTzRecvfrom
	fTzGetsockname
	fTzGetpeername
	fTzSetsockopt
	fTzGetsockopt
	fTzMkfifo
)

// WASI errnos.
const (
	eSuccess     = 0
	eAgain       = 6
	eBadf        = 8
	eExist       = 20
	eFault       = 21
	eIntr        = 27
	eInval       = 28
	eIo          = 29
	eIsdir       = 31
	eNametoolong = 37
	eNoent       = 44
	eNoprotoopt  = 50
	eNosys       = 52
	eNotdir      = 54
	eNotsock     = 57
	eNotsup      = 58
	eSpipe       = 70
	eNotcapable  = 76
)

const memSize = 65536

func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// withLayer gives each test a fresh layer: stdio, the root as fd 3.
func withLayer(t *testing.T) *layer {
	t.Helper()
	l := newLayer(memSize)
	t.Cleanup(func() {
		if !l.guardOK() {
			t.Error("the layer wrote past the guest's memory")
		}
		l.free()
	})
	return l
}

// put writes s into guest memory at p.
func (l *layer) put(p uint32, s string) uint32 {
	copy(l.mem[p:], s)
	return uint32(len(s))
}

// openSock puts a host socket at a guest descriptor through
// tzposix.socket and returns the guest's fd.
func openSock(t *testing.T, l *layer, typ uint64, host int64) uint32 {
	t.Helper()
	setRet(host, 0)
	if e := l.call(fTzSocket, 2, typ, 100); e != eSuccess {
		t.Fatalf("socket: errno %d", e)
	}
	return le32(l.mem[100:])
}

// openFile opens path through path_open and returns the guest's fd.
func openFile(t *testing.T, l *layer, path string, host int64) uint32 {
	t.Helper()
	n := l.put(200, path)
	setRet(host, 0)
	if e := l.call(fPathOpen, 3, 0, 200, uint64(n), 0, 1<<1|1<<6, 0, 0, 100); e != eSuccess {
		t.Fatalf("path_open %q: errno %d", path, e)
	}
	return le32(l.mem[100:])
}

// TestBadPointers: every pointer the guest passes is checked against its
// memory before use, result pointers before the call is made: EFAULT,
// and no tzposix call.
func TestBadPointers(t *testing.T) {
	const end = memSize - 2 // 4- and 8-byte results do not fit
	const huge = 0xfffffff0
	tests := []struct {
		name string
		fn   int
		args func(l *layer, sock, file uint32) []uint64
	}{
		{"args_get argv", fArgsGet, func(*layer, uint32, uint32) []uint64 { return []uint64{end, 0} }},
		{"args_get buf", fArgsGet, func(*layer, uint32, uint32) []uint64 { return []uint64{0, end} }},
		{"args_sizes_get", fArgsSizesGet, func(*layer, uint32, uint32) []uint64 { return []uint64{0, huge} }},
		{"clock_time_get", fClockTimeGet, func(*layer, uint32, uint32) []uint64 { return []uint64{1, 0, end} }},
		{"clock_res_get", fClockResGet, func(*layer, uint32, uint32) []uint64 { return []uint64{0, end} }},
		{"random_get", fRandomGet, func(*layer, uint32, uint32) []uint64 { return []uint64{end, 8} }},
		{"fdstat_get", fFdstatGet, func(*layer, uint32, uint32) []uint64 { return []uint64{1, end} }},
		{"filestat_get", fFilestatGet, func(*layer, uint32, uint32) []uint64 { return []uint64{3, end} }},
		{"prestat_get", fPrestatGet, func(*layer, uint32, uint32) []uint64 { return []uint64{3, huge} }},
		{"prestat_dir_name", fPrestatDirName, func(*layer, uint32, uint32) []uint64 { return []uint64{3, memSize, 1} }},
		{"fd_read iovs", fFdRead, func(_ *layer, _, f uint32) []uint64 { return []uint64{uint64(f), end, 1, 0} }},
		{"fd_read buffer", fFdRead, func(l *layer, _, f uint32) []uint64 {
			binary.LittleEndian.PutUint32(l.mem[300:], end)
			binary.LittleEndian.PutUint32(l.mem[304:], 16)
			return []uint64{uint64(f), 300, 1, 0}
		}},
		{"fd_read nread", fFdRead, func(l *layer, _, f uint32) []uint64 {
			binary.LittleEndian.PutUint32(l.mem[300:], 400)
			binary.LittleEndian.PutUint32(l.mem[304:], 16)
			return []uint64{uint64(f), 300, 1, end}
		}},
		{"fd_write nwritten", fFdWrite, func(l *layer, _, f uint32) []uint64 {
			binary.LittleEndian.PutUint32(l.mem[300:], 400)
			binary.LittleEndian.PutUint32(l.mem[304:], 16)
			return []uint64{uint64(f), 300, 1, huge}
		}},
		{"path_open path", fPathOpen, func(*layer, uint32, uint32) []uint64 { return []uint64{3, 0, end, 8, 0, 2, 0, 0, 100} }},
		{"path_open fd_out", fPathOpen, func(l *layer, _, _ uint32) []uint64 {
			n := l.put(200, "in")
			return []uint64{3, 0, 200, uint64(n), 0, 2, 0, 0, end}
		}},
		{"path_create_directory", fPathMkdir, func(*layer, uint32, uint32) []uint64 { return []uint64{3, huge, 100} }},
		{"path_filestat_get out", fPathFilestat, func(l *layer, _, _ uint32) []uint64 {
			n := l.put(200, "d")
			return []uint64{3, 0, 200, uint64(n), end}
		}},
		{"poll_oneoff in", fPoll, func(*layer, uint32, uint32) []uint64 { return []uint64{end, 0, 1, 100} }},
		{"poll_oneoff out", fPoll, func(*layer, uint32, uint32) []uint64 { return []uint64{0, end, 1, 100} }},
		{"poll_oneoff nevents", fPoll, func(*layer, uint32, uint32) []uint64 { return []uint64{0, 100, 1, end} }},
		{"sock_accept fd_out", fSockAccept, func(_ *layer, s, _ uint32) []uint64 { return []uint64{uint64(s), 0, end} }},
		{"sock_recv roflags", fSockRecv, func(l *layer, s, _ uint32) []uint64 {
			binary.LittleEndian.PutUint32(l.mem[300:], 400)
			binary.LittleEndian.PutUint32(l.mem[304:], 16)
			return []uint64{uint64(s), 300, 1, 0, 100, memSize - 1}
		}},
		{"tz socket fd_out", fTzSocket, func(*layer, uint32, uint32) []uint64 { return []uint64{2, 1, end} }},
		{"tz bind addr", fTzBind, func(_ *layer, s, _ uint32) []uint64 { return []uint64{uint64(s), end, 8} }},
		{"tz sendto buf", fTzSendto, func(_ *layer, s, _ uint32) []uint64 { return []uint64{uint64(s), end, 16, 0, 0, 0, 100} }},
		{"tz recvfrom nrecv", fTzRecvfrom, func(_ *layer, s, _ uint32) []uint64 {
			return []uint64{uint64(s), 400, 16, 0, 1000, 113, 100, end}
		}},
		{"tz recvfrom addr_buf", fTzRecvfrom, func(_ *layer, s, _ uint32) []uint64 {
			return []uint64{uint64(s), 400, 16, 0, memSize - 50, 113, 100, 104}
		}},
		{"tz getsockname", fTzGetsockname, func(_ *layer, s, _ uint32) []uint64 { return []uint64{uint64(s), memSize - 50, 113, 100} }},
		{"tz getsockopt", fTzGetsockopt, func(_ *layer, s, _ uint32) []uint64 { return []uint64{uint64(s), 1, end} }},
		{"tz mkfifo", fTzMkfifo, func(*layer, uint32, uint32) []uint64 { return []uint64{3, end, 8, 0o666} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := withLayer(t)
			sock := openSock(t, l, 1, 40)
			file := openFile(t, l, "in", 41)
			args := tt.args(l, sock, file)
			before := calls()
			setRet(0, 0)
			if e := l.call(tt.fn, args...); e != eFault {
				t.Fatalf("errno %d, want EFAULT (%d)", e, eFault)
			}
			if calls() != before {
				t.Fatalf("tzposix %s was called", lastCall())
			}
		})
	}
}

// TestErrnoMapping: libtzposix's errnos (Linux numbers) map onto WASI's;
// one WASI cannot name is EIO.
func TestErrnoMapping(t *testing.T) {
	tests := []struct {
		linux syscall.Errno
		wasi  int
	}{
		{0, 0}, {syscall.E2BIG, 1}, {syscall.EACCES, 2}, {syscall.EADDRINUSE, 3},
		{syscall.EAGAIN, 6}, {syscall.EBADF, 8}, {syscall.ECANCELED, 11},
		{syscall.ECONNREFUSED, 14}, {syscall.ECONNRESET, 15}, {syscall.EEXIST, 20},
		{syscall.EHOSTDOWN, 23}, {syscall.EINPROGRESS, 26}, {syscall.EINTR, 27},
		{syscall.EINVAL, 28}, {syscall.EIO, 29}, {syscall.EISDIR, 31}, {syscall.EMFILE, 33},
		{syscall.EMSGSIZE, 35}, {syscall.ENAMETOOLONG, 37}, {syscall.ENOENT, 44},
		{syscall.ENOSYS, 52}, {syscall.ENOTCONN, 53}, {syscall.ENOTDIR, 54},
		{syscall.ENOTSOCK, 57}, {syscall.EOPNOTSUPP, 58}, {syscall.ENXIO, 60},
		{syscall.EPERM, 63}, {syscall.EPIPE, 64}, {syscall.ESPIPE, 70},
		{syscall.ETIMEDOUT, 73}, {syscall.EXDEV, 75},
		{syscall.ENOMEDIUM, eIo}, {syscall.Errno(4000), eIo},
	}
	for _, tt := range tests {
		if got := errnoOf(int(tt.linux)); got != tt.wasi {
			t.Errorf("%v (%d) -> %d, want %d", tt.linux, int(tt.linux), got, tt.wasi)
		}
	}
	// Through a call: the shadow's ENOENT reaches the guest as WASI's.
	l := withLayer(t)
	n := l.put(200, "missing")
	setRet(-1, int(syscall.ENOENT))
	if e := l.call(fPathOpen, 3, 0, 200, uint64(n), 0, 2, 0, 0, 100); e != eNoent {
		t.Fatalf("path_open: errno %d, want ENOENT", e)
	}
}

// TestPaths: paths are relative to a directory descriptor and joined to
// its path; absolute paths are ENOTCAPABLE; the shadow resolves the rest.
func TestPaths(t *testing.T) {
	tests := []struct {
		name  string
		dirfd string // "root", "sub", or a fixed fd number as text
		path  string
		want  int
		host  string
	}{
		{"relative", "root", "in", eSuccess, "/in"},
		{"nested", "root", "a/b/c", eSuccess, "/a/b/c"},
		{"dotdot left to the shadow", "root", "../x", eSuccess, "/../x"},
		{"under a directory", "sub", "x", eSuccess, "/sub/x"},
		{"absolute", "root", "/etc/passwd", eNotcapable, ""},
		{"empty", "root", "", eNoent, ""},
		{"NUL inside", "root", "a\x00b", eInval, ""},
		{"not a directory", "1", "x", eNotdir, ""},
		{"no such fd", "60", "x", eBadf, ""},
		{"too long", "root", strings.Repeat("a", 4095), eNametoolong, ""},
		{"longest", "root", strings.Repeat("a", 4094), eSuccess, "/" + strings.Repeat("a", 4094)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayer(memSize)
			defer l.free()
			var dirfd uint64
			switch tt.dirfd {
			case "root":
				dirfd = 3
			case "sub":
				dirfd = uint64(l.addDir("/sub"))
			case "1":
				dirfd = 1
			default:
				dirfd = 60
			}
			n := l.put(1000, tt.path)
			setRet(0, 0)
			if e := l.call(fPathUnlink, dirfd, 1000, uint64(n)); e != tt.want {
				t.Fatalf("errno %d, want %d", e, tt.want)
			}
			if tt.want == eSuccess && lastPath() != tt.host {
				t.Fatalf("unlink(%q), want %q", lastPath(), tt.host)
			}
		})
	}
	t.Run("rename", func(t *testing.T) {
		l := withLayer(t)
		a, b := l.put(1000, "a"), l.put(1100, "b/c")
		setRet(0, 0)
		if e := l.call(fPathRename, 3, 1000, uint64(a), 3, 1100, uint64(b)); e != eSuccess {
			t.Fatalf("errno %d", e)
		}
		if lastPath() != "/a" || lastPath2() != "/b/c" {
			t.Fatalf("rename(%q, %q)", lastPath(), lastPath2())
		}
	})
	t.Run("prestat", func(t *testing.T) {
		l := withLayer(t)
		if e := l.call(fPrestatGet, 3, 100); e != eSuccess || le32(l.mem[104:]) != 1 {
			t.Fatalf("prestat_get(3) = %d, len %d", e, le32(l.mem[104:]))
		}
		if e := l.call(fPrestatDirName, 3, 200, 1); e != eSuccess || l.mem[200] != '/' {
			t.Fatalf("prestat_dir_name = %d %q", e, l.mem[200])
		}
		if e := l.call(fPrestatGet, 4, 100); e != eBadf {
			t.Fatalf("prestat_get(4) = %d, want EBADF", e)
		}
		if e := l.call(fPrestatDirName, 3, 200, 0); e != eNametoolong {
			t.Fatalf("prestat_dir_name short = %d", e)
		}
	})
}

// TestPathOpenFlags: rights give the access mode; oflags and fdflags map
// to the tzrpc flags; sync flags are ENOTSUP, unknown bits EINVAL.
func TestPathOpenFlags(t *testing.T) {
	const (
		rd, wr                       = 1 << 1, 1 << 6
		creat, directory, excl, trnc = 1, 2, 4, 8
		appnd, dsync, nonblock       = 1, 2, 4
	)
	tests := []struct {
		name                    string
		oflags, fdflags, rights uint64
		want                    int
		flags                   int64
	}{
		{"read", 0, 0, rd, eSuccess, 0},
		{"write", 0, 0, wr, eSuccess, 1},
		{"read write", 0, 0, rd | wr, eSuccess, 2},
		{"no rights reads", 0, 0, 0, eSuccess, 0},
		{"creat excl trunc", creat | excl | trnc, 0, wr, eSuccess, 1 | 0x40 | 0x80 | 0x200},
		{"directory", directory, 0, rd, eSuccess, 0x10000},
		{"append nonblock", 0, appnd | nonblock, wr, eSuccess, 1 | 0x400 | 0x800},
		{"dsync", 0, dsync, wr, eNotsup, -1},
		{"unknown oflag", 16, 0, rd, eInval, -1},
		{"unknown fdflag", 0, 32, rd, eInval, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := withLayer(t)
			n := l.put(200, "f")
			setRet(9, 0)
			e := l.call(fPathOpen, 3, 0, 200, uint64(n), tt.oflags, tt.rights, 0, tt.fdflags, 100)
			if e != tt.want {
				t.Fatalf("errno %d, want %d", e, tt.want)
			}
			if tt.want != eSuccess {
				if calls() != 0 {
					t.Fatalf("tzposix %s was called", lastCall())
				}
				return
			}
			if lastArg(0) != tt.flags {
				t.Fatalf("open flags %#x, want %#x", lastArg(0), tt.flags)
			}
			fd := le32(l.mem[100:])
			l.call(fFdstatGet, uint64(fd), 400)
			kind := l.mem[400]
			if wantKind := map[bool]byte{true: 3, false: 0}[tt.oflags&directory != 0]; kind != wantKind {
				t.Fatalf("fdstat filetype %d, want %d", kind, wantKind)
			}
		})
	}
}

// TestDescriptors: stdio, fdstat, close, renumber, the calls every
// descriptor is a stream for.
func TestDescriptors(t *testing.T) {
	l := withLayer(t)
	for fd, kind := range map[uint64]byte{0: 2, 1: 2, 2: 2, 3: 3} {
		if e := l.call(fFdstatGet, fd, 400); e != eSuccess || l.mem[400] != kind {
			t.Errorf("fdstat_get(%d) = %d, filetype %d, want %d", fd, e, l.mem[400], kind)
		}
	}
	s := openSock(t, l, 2|0x800, 40)
	if e := l.call(fFdstatGet, uint64(s), 400); e != eSuccess || l.mem[400] != 5 || l.mem[402] != 4 {
		t.Errorf("fdstat_get(dgram) = %d, filetype %d, flags %d", e, l.mem[400], l.mem[402])
	}
	// stdin reads end of file; reading stdout is EBADF; reading the root EISDIR.
	binary.LittleEndian.PutUint32(l.mem[300:], 500)
	binary.LittleEndian.PutUint32(l.mem[304:], 16)
	l.mem[100] = 0xff
	if e := l.call(fFdRead, 0, 300, 1, 100); e != eSuccess || le32(l.mem[100:]) != 0 {
		t.Errorf("fd_read(stdin) = %d, n %d", e, le32(l.mem[100:]))
	}
	if e := l.call(fFdRead, 1, 300, 1, 100); e != eBadf {
		t.Errorf("fd_read(stdout) = %d", e)
	}
	if e := l.call(fFdRead, 3, 300, 1, 100); e != eIsdir {
		t.Errorf("fd_read(root) = %d", e)
	}
	// recv on something that is no socket.
	f := openFile(t, l, "in", 41)
	if e := l.call(fSockRecv, uint64(f), 300, 1, 0, 100, 104); e != eNotsock {
		t.Errorf("sock_recv(fifo) = %d", e)
	}
	// fd_renumber moves the descriptor, closing the target.
	setRet(0, 0)
	if e := l.call(fRenumber, uint64(f), uint64(s)); e != eSuccess || lastCall() != "close" || lastArg(0) != 40 {
		t.Errorf("fd_renumber = %d, then %s(%d)", e, lastCall(), lastArg(0))
	}
	if e := l.call(fFdstatGet, uint64(f), 400); e != eBadf {
		t.Errorf("old fd after renumber: %d", e)
	}
	// close: the descriptor is gone even if the close fails.
	setRet(-1, int(syscall.EIO))
	if e := l.call(fFdClose, uint64(s)); e != eIo {
		t.Errorf("fd_close = %d", e)
	}
	if e := l.call(fFdClose, uint64(s)); e != eBadf {
		t.Errorf("fd_close again = %d", e)
	}
	// readdir on the root: ENOSYS (the protocol cannot list).
	if e := l.call(fReaddir, 3); e != eNosys {
		t.Errorf("fd_readdir = %d", e)
	}
	// fdstat_set_flags: NONBLOCK goes to fcntl; APPEND cannot change; sync ENOTSUP.
	g := openFile(t, l, "g", 42)
	setRet(0, 0)
	if e := l.call(fFdstatSetFlags, uint64(g), 4); e != eSuccess || lastCall() != "fcntl" || lastArg(2) != 2|0x800 {
		t.Errorf("set NONBLOCK = %d, %s(%d, %d, %#x)", e, lastCall(), lastArg(0), lastArg(1), lastArg(2))
	}
	if e := l.call(fFdstatSetFlags, uint64(g), 1|4); e != eNotsup {
		t.Errorf("set APPEND = %d", e)
	}
	if e := l.call(fFdstatSetFlags, uint64(g), 0x10); e != eNotsup {
		t.Errorf("set SYNC = %d", e)
	}
}

// TestIO: reads and writes go straight between guest memory and
// tzposix; a datagram of several buffers is gathered into one write.
func TestIO(t *testing.T) {
	l := withLayer(t)
	f := openFile(t, l, "in", 41)
	iov := func(at uint32, bufs ...[2]uint32) {
		for i, b := range bufs {
			binary.LittleEndian.PutUint32(l.mem[at+uint32(8*i):], b[0])
			binary.LittleEndian.PutUint32(l.mem[at+uint32(8*i)+4:], b[1])
		}
	}
	setData([]byte("hello, world"))
	setRet(12, 0)
	iov(300, [2]uint32{0, 0}, [2]uint32{1000, 5}, [2]uint32{1100, 100})
	if e := l.call(fFdRead, uint64(f), 300, 3, 100); e != eSuccess || le32(l.mem[100:]) != 5 || string(l.mem[1000:1005]) != "hello" {
		t.Fatalf("fd_read = %d, n %d, %q", e, le32(l.mem[100:]), l.mem[1000:1005])
	}
	copy(l.mem[2000:], "abc")
	copy(l.mem[2100:], "defg")
	iov(300, [2]uint32{2000, 3}, [2]uint32{2100, 4})
	setRet(100, 0)
	if e := l.call(fFdWrite, uint64(f), 300, 2, 100); e != eSuccess || le32(l.mem[100:]) != 7 || string(sent()) != "defg" {
		t.Fatalf("fd_write = %d, n %d, last %q", e, le32(l.mem[100:]), sent())
	}
	d := openSock(t, l, 2, 43)
	setRet(100, 0)
	if e := l.call(fSockSend, uint64(d), 300, 2, 0, 100); e != eSuccess || string(sent()) != "abcdefg" {
		t.Fatalf("sock_send(dgram) = %d, sent %q", e, sent())
	}
	if e := l.call(fSockSend, uint64(d), 300, 2, 1, 100); e != eInval {
		t.Fatalf("sock_send flags = %d", e)
	}
	// A would-block read is the guest's EAGAIN.
	setRet(-1, int(syscall.EAGAIN))
	iov(300, [2]uint32{1000, 5})
	if e := l.call(fFdRead, uint64(f), 300, 1, 100); e != eAgain {
		t.Fatalf("fd_read EAGAIN = %d", e)
	}
}

// TestStdout: stdout and stderr go to the log a line at a time; long
// lines are split at 4 KiB; writes always succeed.
func TestStdout(t *testing.T) {
	l := withLayer(t)
	write := func(fd uint64, s string) {
		t.Helper()
		copy(l.mem[2000:], s)
		binary.LittleEndian.PutUint32(l.mem[300:], 2000)
		binary.LittleEndian.PutUint32(l.mem[304:], uint32(len(s)))
		if e := l.call(fFdWrite, fd, 300, 1, 100); e != eSuccess || le32(l.mem[100:]) != uint32(len(s)) {
			t.Fatalf("fd_write(%d) = %d, n %d", fd, e, le32(l.mem[100:]))
		}
	}
	write(1, "one\ntw")
	write(1, "o\n")
	write(2, "err\n")
	write(1, strings.Repeat("x", 5000)+"\n")
	want := []struct {
		stream int
		line   string
		n      int
	}{{0, "one", 3}, {0, "two", 3}, {1, "err", 3}, {0, "", 4096}, {0, "", 5000 - 4096}}
	if logLines() != len(want) {
		t.Fatalf("%d log lines, want %d", logLines(), len(want))
	}
	for i, w := range want {
		s, line := logLine(i)
		if s != w.stream || logLen(i) != w.n || (w.line != "" && line != w.line) {
			t.Errorf("line %d: stream %d %q (%d bytes), want %d %q (%d)", i, s, line, logLen(i), w.stream, w.line, w.n)
		}
	}
	// The rate: a burst of 200 lines (5 used above), then drops; once
	// tokens come back, one record says how many were dropped.
	for range 300 {
		write(1, "l\n")
	}
	if got := logLines(); got != 200 {
		t.Fatalf("%d lines logged of 305 at once, want the burst of 200", got)
	}
	setClock(1, 1e9) // a second later: 50 tokens
	write(2, "after\n")
	if got := logLines(); got != 202 {
		t.Fatalf("%d lines logged, want 202", got)
	}
}

// TestSockets: the tzposix module's calls reach tzposix with the
// protocol's numbers and addresses converted.
func TestSockets(t *testing.T) {
	l := withLayer(t)
	s := openSock(t, l, 1|0x800, 40)
	if lastArg(0) != 2 || lastArg(1) != 1|0x800 {
		t.Fatalf("socket(%d, %#x)", lastArg(0), lastArg(1))
	}
	// bind 127.0.0.1:7000 in the protocol's encoding.
	copy(l.mem[500:], []byte{1, 0, 0x58, 0x1b, 127, 0, 0, 1})
	setRet(0, 0)
	if e := l.call(fTzBind, uint64(s), 500, 8); e != eSuccess {
		t.Fatalf("bind = %d", e)
	}
	want := []byte{2, 0, 0x1b, 0x58, 127, 0, 0, 1}
	if got := gotAddr(); !bytes.Equal(got[:8], want) {
		t.Fatalf("bind sockaddr_in % x, want % x", got[:8], want)
	}
	if e := l.call(fTzBind, uint64(s), 500, 7); e != eInval {
		t.Fatalf("bind of a short address = %d", e)
	}
	if e := l.call(fTzBind, 1, 500, 8); e != eNotsock {
		t.Fatalf("bind(stdout) = %d", e)
	}
	// Options are the protocol's: SO_REUSEADDR 1 is Linux's 2; unknown ENOPROTOOPT.
	if e := l.call(fTzSetsockopt, uint64(s), 1, 1); e != eSuccess || lastArg(1) != 1 || lastArg(2) != 2 || lastArg(3) != 1 {
		t.Fatalf("setsockopt = %d (%d, %d, %d)", e, lastArg(1), lastArg(2), lastArg(3))
	}
	if e := l.call(fTzSetsockopt, uint64(s), 99, 1); e != eNoprotoopt {
		t.Fatalf("setsockopt(99) = %d", e)
	}
	setGetsockopt(int64(syscall.ECONNREFUSED))
	if e := l.call(fTzGetsockopt, uint64(s), 6, 100); e != eSuccess || le32(l.mem[100:]) != 14 {
		t.Fatalf("getsockopt(SO_ERROR) = %d, %d", e, le32(l.mem[100:]))
	}
	// recvfrom on a datagram socket reports the sender in the protocol's encoding.
	d := openSock(t, l, 2, 41)
	setAddr([]byte{2, 0, 0x1b, 0x59, 10, 0, 0, 7})
	setData([]byte("dgram"))
	setRet(5, 0)
	if e := l.call(fTzRecvfrom, uint64(d), 1000, 100, 0, 1200, 113, 100, 104); e != eSuccess {
		t.Fatalf("recvfrom = %d", e)
	}
	if n := le32(l.mem[100:]); n != 8 || !bytes.Equal(l.mem[1200:1208], []byte{1, 0, 0x59, 0x1b, 10, 0, 0, 7}) {
		t.Fatalf("recvfrom sender %d bytes % x", n, l.mem[1200:1208])
	}
	if e := l.call(fTzRecvfrom, uint64(d), 1000, 100, 0, 1200, 112, 100, 104); e != eInval {
		t.Fatalf("recvfrom with a short address buffer = %d", e)
	}
	// accept: NONBLOCK becomes SOCK_NONBLOCK.
	setRet(44, 0)
	if e := l.call(fSockAccept, uint64(s), 4, 100); e != eSuccess || lastArg(1) != 0x800 {
		t.Fatalf("sock_accept = %d, flags %#x", e, lastArg(1))
	}
	if e := l.call(fSockAccept, uint64(d), 0, 100); e != eNotsock {
		t.Fatalf("sock_accept(dgram) = %d", e)
	}
	// mkfifo: a path like path_open's.
	n := l.put(600, "in")
	setRet(0, 0)
	if e := l.call(fTzMkfifo, 3, 600, uint64(n), 0o10666); e != eSuccess || lastPath() != "/in" || lastArg(0) != 0o666 {
		t.Fatalf("mkfifo = %d, %q %o", e, lastPath(), lastArg(0))
	}
}
