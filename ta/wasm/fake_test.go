package wasm

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/tzmediator/tzbridge/ta/tzposix"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// fakePosix stands in for tzposix.Proc: it records calls and answers from
// its fields. Descriptors it hands out count up from 100.
type fakePosix struct {
	calls []string
	next  int   // last descriptor handed out
	err   error // returned by every call when set
	data  []byte
	from  tzrpc.Sockaddr
	// revents answers Poll, by descriptor; pollN is what Poll returns.
	revents map[int32]int16
	polls   []pollCall
	sockopt int64
}

type pollCall struct {
	fds     []tzposix.PollFd
	timeout int
}

func (f *fakePosix) rec(format string, a ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

func (f *fakePosix) newFD() int {
	if f.next == 0 {
		f.next = 99
	}
	f.next++
	return f.next
}

func (f *fakePosix) fdOrErr() (int, error) {
	if f.err != nil {
		return -1, f.err
	}
	return f.newFD(), nil
}

func (f *fakePosix) Open(path string, flags int, mode uint32) (int, error) {
	f.rec("open %s %#x %#o", path, flags, mode)
	return f.fdOrErr()
}
func (f *fakePosix) Close(fd int) error { f.rec("close %d", fd); return f.err }
func (f *fakePosix) Read(fd int, b []byte) (int, error) {
	f.rec("read %d %d", fd, len(b))
	if f.err != nil {
		return 0, f.err
	}
	return copy(b, f.data), nil
}
func (f *fakePosix) Write(fd int, b []byte) (int, error) {
	f.rec("write %d %q", fd, b)
	if f.err != nil {
		return 0, f.err
	}
	return len(b), nil
}
func (f *fakePosix) Recv(fd int, b []byte, flags int) (int, error) {
	f.rec("recv %d %d %#x", fd, len(b), flags)
	if f.err != nil {
		return 0, f.err
	}
	return copy(b, f.data), nil
}
func (f *fakePosix) Send(fd int, b []byte, flags int) (int, error) {
	f.rec("send %d %q %#x", fd, b, flags)
	if f.err != nil {
		return 0, f.err
	}
	return len(b), nil
}
func (f *fakePosix) Recvfrom(fd int, b []byte, flags int) (int, tzrpc.Sockaddr, error) {
	f.rec("recvfrom %d %d %#x", fd, len(b), flags)
	if f.err != nil {
		return 0, tzrpc.Sockaddr{}, f.err
	}
	return copy(b, f.data), f.from, nil
}
func (f *fakePosix) Sendto(fd int, b []byte, flags int, to tzrpc.Sockaddr) (int, error) {
	f.rec("sendto %d %q %#x %v", fd, b, flags, to)
	if f.err != nil {
		return 0, f.err
	}
	return len(b), nil
}
func (f *fakePosix) Mkfifo(path string, mode uint32) error {
	f.rec("mkfifo %s %#o", path, mode)
	return f.err
}
func (f *fakePosix) Mkdir(path string, mode uint32) error {
	f.rec("mkdir %s %#o", path, mode)
	return f.err
}
func (f *fakePosix) Unlink(path string) error { f.rec("unlink %s", path); return f.err }
func (f *fakePosix) Rmdir(path string) error  { f.rec("rmdir %s", path); return f.err }
func (f *fakePosix) Rename(a, b string) error { f.rec("rename %s %s", a, b); return f.err }
func (f *fakePosix) Socket(domain, typ, proto int) (int, error) {
	f.rec("socket %d %#x %d", domain, typ, proto)
	return f.fdOrErr()
}
func (f *fakePosix) Bind(fd int, sa tzrpc.Sockaddr) error {
	f.rec("bind %d %v", fd, sa)
	return f.err
}
func (f *fakePosix) Connect(fd int, sa tzrpc.Sockaddr) error {
	f.rec("connect %d %v", fd, sa)
	return f.err
}
func (f *fakePosix) Listen(fd, backlog int) error { f.rec("listen %d %d", fd, backlog); return f.err }
func (f *fakePosix) Accept4(fd, flags int) (int, tzrpc.Sockaddr, error) {
	f.rec("accept %d %#x", fd, flags)
	nfd, err := f.fdOrErr()
	return nfd, tzrpc.Sockaddr{}, err
}
func (f *fakePosix) Shutdown(fd, how int) error { f.rec("shutdown %d %d", fd, how); return f.err }
func (f *fakePosix) Getsockname(fd int) (tzrpc.Sockaddr, error) {
	f.rec("getsockname %d", fd)
	return f.from, f.err
}
func (f *fakePosix) Getpeername(fd int) (tzrpc.Sockaddr, error) {
	f.rec("getpeername %d", fd)
	return f.from, f.err
}
func (f *fakePosix) SetSockopt(fd int, opt int64, value int) error {
	o, _ := tzrpc.LookupSockopt(opt)
	f.rec("setsockopt %d %s %d", fd, o.Name, value)
	return f.err
}
func (f *fakePosix) Sockopt(fd int, opt int64) (int64, error) {
	o, _ := tzrpc.LookupSockopt(opt)
	f.rec("getsockopt %d %s", fd, o.Name)
	return f.sockopt, f.err
}
func (f *fakePosix) SetNonblock(fd int, nb bool) error {
	f.rec("setnonblock %d %v", fd, nb)
	return f.err
}
func (f *fakePosix) Poll(fds []tzposix.PollFd, timeout int) (int, error) {
	f.polls = append(f.polls, pollCall{fds: slices.Clone(fds), timeout: timeout})
	f.rec("poll %d %d", len(fds), timeout)
	if f.err != nil {
		return 0, f.err
	}
	n := 0
	for i := range fds {
		fds[i].Revents = f.revents[fds[i].Fd] & (fds[i].Events | tzposix.POLLERR | tzposix.POLLHUP | tzposix.POLLNVAL)
		if fds[i].Revents != 0 {
			n++
		}
	}
	if n == 0 && timeout > 0 {
		// Nothing will happen: a poll times out (briefly, for tests).
		time.Sleep(min(time.Duration(timeout)*time.Millisecond, 20*time.Millisecond))
	}
	return n, nil
}

// memModule instantiates a module that is nothing but one page of memory,
// for calling host functions on directly.
func memModule(t testing.TB) api.Module {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { r.Close(ctx) })
	bin := wmod{memPages: 1}.bytes()
	mod, err := r.InstantiateWithConfig(ctx, bin, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// testInstance is an instance over a fakePosix with no waiting.
func testInstance(t testing.TB, f *fakePosix) *instance {
	st := newInstance(context.Background(), f, "t", newLogSink((&logBuffer{}).logger(), 1000, 1000))
	st.sleep = func(api.Module, time.Time) {}
	return st
}

// addHost puts a host descriptor of kind in st's table, returning the
// guest's number.
func addHost(t testing.TB, st *instance, kind fdKind, host int) uint32 {
	t.Helper()
	fd, er := st.fds.add(&fdEntry{kind: kind, host: host})
	if er != errnoSuccess {
		t.Fatal(er)
	}
	return fd
}

var errCanceled = syscall.ECANCELED

// u32 reads a result the host wrote to guest memory.
func (g mem) u32(ptr uint32) (uint32, bool) { return g.m.ReadUint32Le(ptr) }
