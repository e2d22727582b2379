package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tzmediator/tzbridge/ta/tzposix"
	"github.com/tzmediator/tzbridge/tzrpc"
)

func TestErrnoOf(t *testing.T) {
	tests := []struct {
		err  error
		want errno
	}{
		{nil, 0},
		{syscall.EAGAIN, 6},
		{syscall.EBADF, 8},
		{syscall.ECANCELED, 11},
		{syscall.ECONNRESET, 15},
		{syscall.EEXIST, 20},
		{syscall.EFAULT, 21},
		{syscall.EINPROGRESS, 26},
		{syscall.EINTR, 27},
		{syscall.EINVAL, 28},
		{syscall.EIO, 29},
		{syscall.EISDIR, 31},
		{syscall.EMFILE, 33},
		{syscall.EMSGSIZE, 35},
		{syscall.ENAMETOOLONG, 37},
		{syscall.ENOENT, 44},
		{syscall.ENOPROTOOPT, 50},
		{syscall.ENOSYS, 52},
		{syscall.ENOTCONN, 53},
		{syscall.ENOTDIR, 54},
		{syscall.ENOTSOCK, 57},
		{syscall.EOPNOTSUPP, 58},
		{syscall.ENXIO, 60},
		{syscall.EPERM, 63},
		{syscall.EPIPE, 64},
		{syscall.ESPIPE, 70},
		{syscall.ETIMEDOUT, 73},
		{syscall.EXDEV, 75},
		{syscall.EHOSTDOWN, 23},                        // WASI has no EHOSTDOWN
		{syscall.Errno(0x7fff), errnoIo},               // unknown
		{errors.New("not an errno"), errnoIo},          // not an errno at all
		{fmt.Errorf("wrapped: %w", syscall.EPIPE), 64}, // wrapped
		{&tzposixError{syscall.ECONNREFUSED}, 14},      // errors.As through a type
		{tzposix.ExitStatus(3), errnoIo},               // not an errno
	}
	for _, tt := range tests {
		if got := errnoOf(tt.err); got != tt.want {
			t.Errorf("errnoOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

type tzposixError struct{ e syscall.Errno }

func (e *tzposixError) Error() string { return e.e.Error() }
func (e *tzposixError) Unwrap() error { return e.e }

// bad is the address just past the end of the test memory (one page).
const bad = 0x10000

// TestPointerValidation: every pointer and length from the guest is
// checked before anything is done on its behalf. A bad one is EFAULT (or
// EINVAL for a bad length), and the shadow sees no call at all.
func TestPointerValidation(t *testing.T) {
	type hostCall func(st *instance, mod api.Module, s []uint64) errno
	// Guest memory: an iovec at 0 → 64 bytes at 256; a valid out slot at 512.
	const iov, out, buf = 0, 512, 256
	const sock, file = 4, 5 // guest descriptors set up below
	tests := []struct {
		name string
		fn   hostCall
		args []uint64
		want errno
	}{
		{"fd_read iovs", (*instance).fdRead, []uint64{file, bad, 1, out}, errnoFault},
		{"fd_read iovs length overflows", (*instance).fdRead, []uint64{file, 0, 1 << 29, out}, errnoInval},
		{"fd_read iovec buffer", (*instance).fdRead, []uint64{file, 600, 1, out}, errnoFault},
		{"fd_read nread", (*instance).fdRead, []uint64{file, iov, 1, bad}, errnoFault},
		{"fd_write iovs", (*instance).fdWrite, []uint64{file, bad, 1, out}, errnoFault},
		{"fd_write nwritten", (*instance).fdWrite, []uint64{file, iov, 1, bad}, errnoFault},
		{"fd_write stdout nwritten", (*instance).fdWrite, []uint64{1, iov, 1, bad}, errnoFault},
		{"fd_fdstat_get", (*instance).fdFdstatGet, []uint64{file, bad}, errnoFault},
		{"fd_filestat_get", (*instance).fdFilestatGet, []uint64{file, bad}, errnoFault},
		{"fd_prestat_get", (*instance).fdPrestatGet, []uint64{3, bad}, errnoFault},
		{"fd_prestat_dir_name", (*instance).fdPrestatDirName, []uint64{3, bad, 1}, errnoFault},
		{"fd_prestat_dir_name short", (*instance).fdPrestatDirName, []uint64{3, out, 0}, errnoNametoolong},
		{"path_open path", (*instance).pathOpen, []uint64{3, 1, bad, 8, 0, rightFdRead, 0, 0, out}, errnoFault},
		{"path_open path too long", (*instance).pathOpen, []uint64{3, 1, 0, 5000, 0, rightFdRead, 0, 0, out}, errnoNametoolong},
		{"path_open fd out", (*instance).pathOpen, []uint64{3, 1, buf, 1, 0, rightFdRead, 0, 0, bad}, errnoFault},
		{"path_unlink_file", (*instance).pathUnlinkFile, []uint64{3, bad, 4}, errnoFault},
		{"path_rename new", (*instance).pathRename, []uint64{3, buf, 1, 3, bad, 4}, errnoFault},
		{"path_filestat_get buf", (*instance).pathFilestatGet, []uint64{3, 0, buf, 1, bad}, errnoFault},
		{"sock_accept fd out", (*instance).sockAccept, []uint64{sock, 0, bad}, errnoFault},
		{"sock_recv datalen", (*instance).sockRecv, []uint64{sock, iov, 1, 0, bad, out}, errnoFault},
		{"sock_recv flags", (*instance).sockRecv, []uint64{sock, iov, 1, 0, out, bad}, errnoFault},
		{"sock_send datalen", (*instance).sockSend, []uint64{sock, iov, 1, 0, bad}, errnoFault},
		{"poll_oneoff in", (*instance).pollOneoff, []uint64{bad, 0, 1, out}, errnoFault},
		{"poll_oneoff out", (*instance).pollOneoff, []uint64{0, bad, 1, out}, errnoFault},
		{"poll_oneoff nevents", (*instance).pollOneoff, []uint64{0, 1024, 1, bad}, errnoFault},
		{"poll_oneoff count", (*instance).pollOneoff, []uint64{0, 1024, 1 << 31, out}, errnoInval},
		{"random_get", (*instance).randomGet, []uint64{bad, 16}, errnoFault},
		{"clock_time_get", (*instance).clockTimeGet, []uint64{1, 0, bad}, errnoFault},
		{"args_get", (*instance).argsGet, []uint64{out, bad}, errnoFault},
		{"args_sizes_get", (*instance).argsSizesGet, []uint64{bad, out}, errnoFault},
		{"tzposix socket fd out", (*instance).tzSocket, []uint64{tzrpc.AF_INET, tzrpc.SOCK_DGRAM, bad}, errnoFault},
		{"tzposix bind addr", (*instance).tzBind, []uint64{sock, bad, 8}, errnoFault},
		{"tzposix bind malformed addr", (*instance).tzBind, []uint64{sock, buf, 7}, errnoInval},
		{"tzposix sendto buf", (*instance).tzSendto, []uint64{sock, bad, 16, 0, 0, 0, out}, errnoFault},
		{"tzposix sendto nsent", (*instance).tzSendto, []uint64{sock, buf, 16, 0, 0, 0, bad}, errnoFault},
		{"tzposix recvfrom addr buffer small", (*instance).tzRecvfrom, []uint64{sock, buf, 16, 0, out, 8, out, out}, errnoInval},
		{"tzposix recvfrom addr", (*instance).tzRecvfrom, []uint64{sock, buf, 16, 0, bad, 200, out, out}, errnoFault},
		{"tzposix recvfrom n", (*instance).tzRecvfrom, []uint64{sock, buf, 16, 0, 1024, 200, out, bad}, errnoFault},
		{"tzposix getsockname", (*instance).tzGetsockname, []uint64{sock, bad, 200, out}, errnoFault},
		{"tzposix getsockopt", (*instance).tzGetsockopt, []uint64{sock, tzrpc.SO_ERROR, bad}, errnoFault},
		{"tzposix mkfifo", (*instance).tzMkfifo, []uint64{3, bad, 3, 0o600}, errnoFault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePosix{}
			st := testInstance(t, f)
			mod := memModule(t)
			m := memOf(mod)
			m.put32(iov, buf)
			m.put32(iov+4, 64)
			m.put32(600, bad) // an iovec whose buffer is out of memory
			m.put32(604, 64)
			b, _ := m.bytes(buf, 8)
			copy(b, "in\x00\x00\x00\x00\x00\x00")
			if fd := addHost(t, st, kindStream, 40); fd != sock {
				t.Fatalf("socket is fd %d", fd)
			}
			if fd := addHost(t, st, kindFile, 41); fd != file {
				t.Fatalf("file is fd %d", fd)
			}
			if got := tt.fn(st, mod, append([]uint64(nil), tt.args...)); got != tt.want {
				t.Errorf("errno %d, want %d", got, tt.want)
			}
			if len(f.calls) != 0 {
				t.Errorf("shadow was called: %q", f.calls)
			}
		})
	}
}

// TestPaths: paths are joined to their directory and left for the shadow
// to resolve inside the root; what WASI forbids never reaches it.
func TestPaths(t *testing.T) {
	tests := []struct {
		name    string
		dirfd   uint32
		path    string
		want    string
		wantErr errno
	}{
		{"root", 3, "in", "/in", 0},
		{"nested", 3, "a/b/c", "/a/b/c", 0},
		{"dot", 3, ".", "/.", 0},
		{"dotdot left to the shadow", 3, "../../etc/passwd", "/../../etc/passwd", 0},
		{"under a directory", 7, "x", "/d/x", 0},
		{"absolute", 3, "/etc/passwd", "", errnoNotcapable},
		{"empty", 3, "", "", errnoNoent},
		{"NUL", 3, "a\x00b", "", errnoInval},
		{"not a directory", 1, "x", "", errnoNotdir},
		{"closed", 99, "x", "", errnoBadf},
		{"too long", 3, strings.Repeat("a", 4095), "", errnoNametoolong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := testInstance(t, &fakePosix{})
			st.fds.set(7, &fdEntry{kind: kindDir, host: 50, path: "/d"})
			mod := memModule(t)
			b, _ := memOf(mod).bytes(0, uint32(len(tt.path)))
			copy(b, tt.path)
			got, er := st.path(mod, tt.dirfd, 0, uint32(len(tt.path)))
			if got != tt.want || er != tt.wantErr {
				t.Errorf("path = %q, %d; want %q, %d", got, er, tt.want, tt.wantErr)
			}
		})
	}
}

// TestPathOpenFlags: WASI's oflags, rights and fdflags become tzrpc open
// flags; the new descriptor is the guest's lowest free number.
func TestPathOpenFlags(t *testing.T) {
	tests := []struct {
		name            string
		oflags, fdflags uint32
		rights          uint64
		want            string
		wantErr         errno
		wantKind        fdKind
		wantFlags       uint16
	}{
		{"read", 0, 0, rightFdRead, "open /p 0x0 0666", 0, kindFile, 0},
		{"write create trunc", oflagCreat | oflagTrunc, 0, rightFdWrite, "open /p 0x241 0666", 0, kindFile, 0},
		{"read write excl", oflagCreat | oflagExcl, 0, rightFdRead | rightFdWrite, "open /p 0xc2 0666", 0, kindFile, 0},
		{"append nonblock", 0, fdflagAppend | fdflagNonblock, rightFdWrite, "open /p 0xc01 0666", 0, kindFile, fdflagAppend | fdflagNonblock},
		{"directory", oflagDirectory, 0, rightFdRead, "open /p 0x10000 0666", 0, kindDir, 0},
		{"sync unsupported", 0, fdflagSync, rightFdWrite, "", errnoNotsup, 0, 0},
		{"unknown oflag", 0x10, 0, rightFdRead, "", errnoInval, 0, 0},
		{"unknown fdflag", 0, 0x20, rightFdRead, "", errnoInval, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePosix{}
			st := testInstance(t, f)
			mod := memModule(t)
			m := memOf(mod)
			b, _ := m.bytes(0, 1)
			b[0] = 'p'
			er := st.pathOpen(mod, []uint64{3, 1, 0, 1, uint64(tt.oflags), tt.rights, 0, uint64(tt.fdflags), 64})
			if er != tt.wantErr {
				t.Fatalf("errno %d, want %d", er, tt.wantErr)
			}
			if tt.wantErr != 0 {
				if len(f.calls) != 0 {
					t.Errorf("shadow called: %q", f.calls)
				}
				return
			}
			if len(f.calls) != 1 || f.calls[0] != tt.want {
				t.Errorf("calls %q, want %q", f.calls, tt.want)
			}
			fd, _ := m.u32(64)
			e, er := st.fds.get(fd)
			if fd != 4 || er != 0 || e.kind != tt.wantKind || e.host != 100 || e.flags != tt.wantFlags {
				t.Errorf("fd %d entry %+v", fd, e)
			}
		})
	}
}

func TestFdstatSetFlags(t *testing.T) {
	tests := []struct {
		name      string
		fd        uint32
		start     uint16
		flags     uint32
		want      errno
		wantCalls []string
		wantFlags uint16
	}{
		{"stdout nonblock: no call", 1, 0, fdflagNonblock, 0, nil, fdflagNonblock},
		{"socket nonblock", 4, 0, fdflagNonblock, 0, []string{"setnonblock 40 true"}, fdflagNonblock},
		{"socket blocking again", 4, fdflagNonblock, 0, 0, []string{"setnonblock 40 false"}, 0},
		{"unchanged: no call", 4, fdflagNonblock, fdflagNonblock, 0, nil, fdflagNonblock},
		{"append is kept, not changed", 4, fdflagAppend, fdflagAppend | fdflagNonblock, 0, []string{"setnonblock 40 true"}, fdflagAppend | fdflagNonblock},
		{"append change unsupported", 4, 0, fdflagAppend, errnoNotsup, nil, 0},
		{"sync unsupported", 4, 0, fdflagSync, errnoNotsup, nil, 0},
		{"unknown bit", 4, 0, 0x100, errnoInval, nil, 0},
		{"closed", 9, 0, 0, errnoBadf, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePosix{}
			st := testInstance(t, f)
			st.fds.set(4, &fdEntry{kind: kindStream, host: 40, flags: tt.start})
			er := st.fdFdstatSetFlags(memModule(t), []uint64{uint64(tt.fd), uint64(tt.flags)})
			if er != tt.want || strings.Join(f.calls, ";") != strings.Join(tt.wantCalls, ";") {
				t.Errorf("errno %d calls %q, want %d %q", er, f.calls, tt.want, tt.wantCalls)
			}
			if e, ok := st.fds.get(tt.fd); ok == 0 && e.flags != tt.wantFlags && tt.want == 0 {
				t.Errorf("flags %#x, want %#x", e.flags, tt.wantFlags)
			}
		})
	}
}

// TestDescriptors covers what a guest learns about its descriptors: the
// types Go's net and os packages look at, and the preopens.
func TestDescriptors(t *testing.T) {
	f := &fakePosix{}
	st := testInstance(t, f)
	mod := memModule(t)
	m := memOf(mod)
	if err := st.preopen(addrs(t, "tcp://127.0.0.1:7100", "udp://[::1]:7101", "unix:/s.sock")); err != nil {
		t.Fatal(err)
	}
	wantCalls := []string{
		"socket 2 0x801 0", "setsockopt 100 SO_REUSEADDR 1", "bind 100 127.0.0.1:7100", "listen 100 1024",
		"socket 10 0x802 0", "setsockopt 101 SO_REUSEADDR 1", "bind 101 [::1]:7101",
		"unlink /s.sock", "socket 1 0x801 0", "bind 102 unix:/s.sock", "listen 102 1024",
	}
	if strings.Join(f.calls, "\n") != strings.Join(wantCalls, "\n") {
		t.Errorf("preopen calls:\n%s\nwant:\n%s", strings.Join(f.calls, "\n"), strings.Join(wantCalls, "\n"))
	}
	tests := []struct {
		fd       uint32
		filetype uint8
		flags    uint16
		prestat  errno
	}{
		{0, filetypeCharDevice, 0, errnoBadf},
		{1, filetypeCharDevice, 0, errnoBadf},
		{3, filetypeDirectory, 0, 0},
		{4, filetypeSocketStream, fdflagNonblock, errnoBadf},
		{5, filetypeSocketDgram, fdflagNonblock, errnoBadf},
		{6, filetypeSocketStream, fdflagNonblock, errnoBadf},
	}
	for _, tt := range tests {
		if er := st.fdFdstatGet(mod, []uint64{uint64(tt.fd), 100}); er != 0 {
			t.Errorf("fd %d: fd_fdstat_get: %d", tt.fd, er)
		}
		b, _ := m.bytes(100, 24)
		if b[0] != tt.filetype || le16(b[2:]) != tt.flags {
			t.Errorf("fd %d: filetype %d flags %#x, want %d %#x", tt.fd, b[0], le16(b[2:]), tt.filetype, tt.flags)
		}
		if er := st.fdPrestatGet(mod, []uint64{uint64(tt.fd), 200}); er != tt.prestat {
			t.Errorf("fd %d: fd_prestat_get: %d, want %d", tt.fd, er, tt.prestat)
		}
	}
	if er := st.fdPrestatGet(mod, []uint64{7, 200}); er != errnoBadf {
		t.Errorf("fd_prestat_get past the end: %d", er)
	}
	st.fdPrestatGet(mod, []uint64{3, 200})
	if n, _ := m.u32(204); n != 1 {
		t.Errorf("root name length %d", n)
	}
	if er := st.fdPrestatDirName(mod, []uint64{3, 300, 1}); er != 0 {
		t.Fatal(er)
	}
	if b, _ := m.bytes(300, 1); string(b) != "/" {
		t.Errorf("root name %q", b)
	}
	// Closing a socket closes it in the shadow; the number is reused.
	f.calls = nil
	if er := st.fdClose(mod, []uint64{5}); er != 0 || strings.Join(f.calls, ";") != "close 101" {
		t.Errorf("close: %d %q", er, f.calls)
	}
	if fd, _ := st.fds.add(&fdEntry{kind: kindFile, host: 1}); fd != 5 {
		t.Errorf("lowest free descriptor %d, want 5", fd)
	}
}

// TestIO: reads and writes go straight between guest memory and tzposix;
// stdin reads nothing; stdout goes to the log.
func TestIO(t *testing.T) {
	f := &fakePosix{data: []byte("0123456789")}
	st := testInstance(t, f)
	mod := memModule(t)
	m := memOf(mod)
	sock := addHost(t, st, kindStream, 40)
	dgram := addHost(t, st, kindDgram, 41)
	// Two iovecs: 4 bytes at 100, 8 bytes at 200.
	m.put32(0, 100)
	m.put32(4, 4)
	m.put32(8, 200)
	m.put32(12, 8)
	tests := []struct {
		name  string
		fn    func(*instance, api.Module, []uint64) errno
		args  []uint64
		wantN uint32
		calls string
		at200 string // what the second buffer holds after, if given
	}{
		{"read one buffer", (*instance).fdRead, []uint64{uint64(sock), 0, 1, 50}, 4, "read 40 4", ""},
		{"read scatters", (*instance).fdRead, []uint64{uint64(sock), 0, 2, 50}, 10, "read 40 12", "456789\x00\x00"},
		{"stdin is at end of file", (*instance).fdRead, []uint64{0, 0, 2, 50}, 0, "", ""},
		{"recv flags", (*instance).sockRecv, []uint64{uint64(sock), 0, 1, riflagPeek | riflagWaitall, 50, 60}, 4, "recv 40 4 0x102", ""},
		{"write gathers a datagram", (*instance).fdWrite, []uint64{uint64(dgram), 0, 2, 50}, 12, `write 41 "0123\x00\x00\x00\x00\x00\x00\x00\x00"`, ""},
		{"write a stream buffer by buffer", (*instance).fdWrite, []uint64{uint64(sock), 0, 2, 50}, 12, `write 40 "0123";write 40 "\x00\x00\x00\x00\x00\x00\x00\x00"`, ""},
		{"send", (*instance).sockSend, []uint64{uint64(sock), 0, 1, 0, 50}, 4, `send 40 "0123" 0x4000`, ""},
		{"stdout", (*instance).fdWrite, []uint64{1, 0, 2, 50}, 12, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.calls = nil
			clear(must(m.bytes(200, 8)))
			if er := tt.fn(st, mod, tt.args); er != 0 {
				t.Fatalf("errno %d", er)
			}
			if n, _ := m.u32(50); n != tt.wantN {
				t.Errorf("n = %d, want %d", n, tt.wantN)
			}
			if got := strings.Join(f.calls, ";"); got != tt.calls {
				t.Errorf("calls %q, want %q", got, tt.calls)
			}
			if got := string(must(m.bytes(200, 8))); tt.at200 != "" && got != tt.at200 {
				t.Errorf("second buffer %q, want %q", got, tt.at200)
			}
		})
	}
	// Errors map to WASI; bytes written before an error are a success.
	f.err = syscall.EPIPE
	if er := st.fdWrite(mod, []uint64{uint64(sock), 0, 1, 50}); er != errnoPipe {
		t.Errorf("write error %d, want EPIPE", er)
	}
	if er := st.sockRecv(mod, []uint64{1, 0, 1, 0, 50, 60}); er != errnoNotsock {
		t.Errorf("sock_recv on stdout: %d", er)
	}
	if er := st.sockRecv(mod, []uint64{uint64(sock), 0, 1, 4, 50, 60}); er != errnoInval {
		t.Errorf("sock_recv unknown flag: %d", er)
	}
}

func must(b []byte, ok bool) []byte {
	if !ok {
		panic("bad test address")
	}
	return b
}

// TestCanceledCallEndsInstance: a call failing with ECANCELED because the
// session closed unwinds the guest (a sys.ExitError panic, as proc_exit);
// ECANCELED while the session lives is an ordinary error.
func TestCanceledCallEndsInstance(t *testing.T) {
	f := &fakePosix{err: errCanceled}
	st := testInstance(t, f)
	mod := memModule(t)
	sock := addHost(t, st, kindStream, 40)
	if er := st.fdWrite(mod, []uint64{uint64(sock), 0, 0, 50}); er != errnoSuccess {
		// zero iovecs on a stream: nothing to do, no call
		t.Fatalf("empty write: %d", er)
	}
	memOf(mod).put32(0, 100)
	memOf(mod).put32(4, 4)
	if er := st.fdWrite(mod, []uint64{uint64(sock), 0, 1, 50}); er != errnoCanceled {
		t.Errorf("ECANCELED with the session alive: %d", er)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st.ctx = ctx
	cancel()
	defer func() {
		if _, ok := recover().(*sys.ExitError); !ok {
			t.Error("the call did not unwind with a sys.ExitError")
		}
	}()
	st.fdWrite(mod, []uint64{uint64(sock), 0, 1, 50})
	t.Error("call returned to the guest after its session closed")
}

func TestLogSinkRateLimit(t *testing.T) {
	lb := &logBuffer{}
	s := newLogSink(lb.logger(), 10, 5)
	now := s.now()
	s.now = func() time.Time { return now }
	for i := range 8 {
		s.write(streamStdout, []byte(fmt.Sprintf("line %d\n", i)))
	}
	s.write(streamStderr, []byte("partial"))
	now = now.Add(time.Second) // 10 more tokens
	s.write(streamStdout, []byte("after\n"))
	s.close()
	out := lb.String()
	for _, want := range []string{`msg="line 4"`, "dropped=3", `msg=after`, `msg=partial stream=stderr`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"line 5"`) {
		t.Errorf("line over the rate was logged:\n%s", out)
	}
	// Long lines are split, not held without bound.
	lb2 := &logBuffer{}
	s2 := newLogSink(lb2.logger(), 1000, 1000)
	s2.write(streamStdout, []byte(strings.Repeat("x", maxLineLen*2+10)))
	s2.close()
	if n := strings.Count(lb2.String(), "stream=stdout"); n != 3 {
		t.Errorf("a %d-byte line became %d records, want 3", maxLineLen*2+10, n)
	}
}

// TestEveryProtocolErrnoHasAWASIName: each errno the shadow can answer
// (docs/protocol.md §5.6) reaches the guest as itself, never as EIO.
func TestEveryProtocolErrnoHasAWASIName(t *testing.T) {
	for n := tzrpc.Errno(1); n <= tzrpc.MaxErrno; n++ {
		if strings.HasPrefix(n.String(), "errno(") || n == tzrpc.EIO {
			continue // no name in the protocol, or EIO itself
		}
		if got := errnoOf(n.Syscall()); got == errnoIo || got == errnoSuccess {
			t.Errorf("protocol %v becomes WASI errno %d", n, got)
		}
	}
}
