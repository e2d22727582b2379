package shadow

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/internal/netif"

	. "github.com/tzmediator/tzbridge/tzrpc"
)

// privateNetns creates a network namespace with only a loopback that is
// up, so that fuzzed sockets can reach nothing beyond this machine. It
// returns an O_RDONLY descriptor of it and of the namespace it came from.
func privateNetns(tb testing.TB) (ns, orig int) {
	tb.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		tb.Skipf("no network namespaces: %v", err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		unix.Close(orig)
		tb.Skipf("cannot create a network namespace (root needed): %v", err)
	}
	ns, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = netif.LoopbackUp()
	}
	if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
		// This thread is lost to the namespace; keep it locked so that it
		// dies with this goroutine.
		runtime.LockOSThread()
		tb.Fatalf("return to the original network namespace: %v", rerr)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(ns); unix.Close(orig) })
	return ns, orig
}

// fuzzRequest encodes one request as a fuzz chunk: a u16 length, then a
// mailbox image (header and payload).
func fuzzRequest(op Op, arg [6]int64, payload []byte) []byte {
	mb := make([]byte, HeaderSize+len(payload))
	copy(mb[HeaderSize:], payload)
	if err := EncodeRequestHeader(mb, op, 1, arg, len(payload)); err != nil {
		panic(err)
	}
	return append(binary.LittleEndian.AppendUint16(nil, uint16(len(mb))), mb...)
}

func fuzzSeq(reqs ...[]byte) []byte { return slices.Concat(reqs...) }

// maxChunks bounds the requests of one input, so that one input stays
// cheap to run and to minimise.
const maxChunks = 16

// chunks splits fuzz input into mailbox images.
func chunks(data []byte) [][]byte {
	var c [][]byte
	for len(data) > 0 && len(c) < maxChunks {
		if len(data) < 2 {
			return append(c, data)
		}
		n := int(binary.LittleEndian.Uint16(data))
		data = data[2:]
		n = min(n, len(data))
		c = append(c, data[:n])
		data = data[n:]
	}
	return c
}

// FuzzDispatch feeds arbitrary mailboxes, and mutated request sequences,
// through the real dispatcher in a fresh root each time. It must not
// panic, must leave the root's parent as it was, and must hold no host
// descriptor beyond those in its table. Sockets live in a private network
// namespace, so fuzzed addresses reach nothing outside this machine.
func FuzzDispatch(f *testing.F) {
	parent := f.TempDir()
	root := filepath.Join(parent, "root")
	outside := filepath.Join(parent, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		f.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(outside, "fifo"), 0o666); err != nil {
		f.Fatal(err)
	}
	if err := os.Mkdir(root, 0o755); err != nil {
		f.Fatal(err)
	}
	ns, orig := privateNetns(f)

	inet := func(s string) []byte {
		sa, _ := InetSockaddr(netip.MustParseAddrPort(s))
		return sa.Marshal()
	}
	unixSA := func(p string) []byte {
		sa, _ := UnixSockaddr(p)
		return sa.Marshal()
	}
	poll := AppendPollFd(AppendPollFd(nil, PollFd{Fd: 3, Events: POLLIN | POLLOUT}), PollFd{Fd: 9, Events: POLLIN})
	f.Add(fuzzSeq(
		fuzzRequest(OpMkfifo, args(0o600), []byte("f")),
		fuzzRequest(OpOpen, args(O_RDWR), []byte("f")),
		fuzzRequest(OpWrite, args(3), []byte("hello")),
		fuzzRequest(OpPoll, args(2, 0), poll),
		fuzzRequest(OpRead, args(3, 10), nil),
		fuzzRequest(OpFcntl, args(3, F_SETFL, O_NONBLOCK), nil),
		fuzzRequest(OpRead, args(3, 10), nil),
		fuzzRequest(OpClose, args(3), nil),
	))
	f.Add(fuzzSeq(
		fuzzRequest(OpSocket, args(AF_UNIX, SOCK_STREAM, SOCK_NONBLOCK), nil),
		fuzzRequest(OpBind, args(3), unixSA("s")),
		fuzzRequest(OpListen, args(3, 4), nil),
		fuzzRequest(OpGetsockname, args(3), nil),
		fuzzRequest(OpSocket, args(AF_UNIX, SOCK_STREAM), nil),
		fuzzRequest(OpConnect, args(4), unixSA("s")),
		fuzzRequest(OpAccept, args(3, SOCK_NONBLOCK), nil),
		fuzzRequest(OpSend, args(4, 0), []byte("ping")),
		fuzzRequest(OpRecv, args(5, 100, MSG_PEEK), nil),
		fuzzRequest(OpGetpeername, args(4), nil),
		fuzzRequest(OpShutdown, args(4, SHUT_RDWR), nil),
	))
	f.Add(fuzzSeq(
		fuzzRequest(OpSocket, args(AF_INET, SOCK_DGRAM), nil),
		fuzzRequest(OpBind, args(3), inet("127.0.0.1:0")),
		fuzzRequest(OpSetsockopt, args(3, SO_RCVBUF, 1<<20), nil),
		fuzzRequest(OpGetsockopt, args(3, SO_ERROR), nil),
		fuzzRequest(OpSendto, args(3, 0, 8), append(inet("127.0.0.1:9"), "dgram"...)),
		fuzzRequest(OpRecvfrom, args(3, 100, MSG_DONTWAIT), nil),
		fuzzRequest(OpSocket, args(AF_INET6, SOCK_STREAM), nil),
		fuzzRequest(OpConnect, args(4), inet("[::1]:9")),
	))
	f.Add(fuzzSeq(
		fuzzRequest(OpMkdir, args(0o700), []byte("d")),
		fuzzRequest(OpRename, args(1), []byte("d../esc")),
		fuzzRequest(OpOpen, args(O_RDONLY|O_DIRECTORY), []byte("esc")),
		fuzzRequest(OpMkfifo, args(0o600), []byte("link/x")),
		fuzzRequest(OpUnlink, args(), []byte("link")),
		fuzzRequest(OpRmdir, args(), []byte("/esc/..")),
		fuzzRequest(OpOpen, args(O_WRONLY|O_CREAT, 0o600), []byte("/proc/self/root/x")),
	))
	f.Add(fuzzRequest(OpOpen, args(O_RDONLY), []byte("p"))) // would block: EINTR
	f.Add(fuzzRequest(OpExit, args(0), nil))
	f.Add([]byte("\x40\x00TZRQ\x01\x00\x63\x00garbage"))
	f.Add([]byte{})

	// A call that would block fails EINTR at once: fuzzing explores what
	// the TA can send, and a deadline would make coverage depend on timing
	// (the cancellation paths have tests of their own).
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	f.Fuzz(func(t *testing.T, data []byte) {
		// A root with a FIFO and a symlink out, rebuilt when the last
		// input changed it (anything it creates shows at the top).
		if !slices.Equal(names(t, root), []string{"link", "p"}) {
			resetRoot(t, root, outside)
		}

		runtime.LockOSThread()
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			t.Fatal(err)
		}
		defer func() {
			if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
				t.Fatalf("leave the fuzz network namespace: %v", err) // thread stays locked, and dies
			}
			runtime.UnlockOSThread()
		}()

		before := countFDs(t)
		s, err := New(Config{Name: "fuzz", Root: root, Mailbox: MinMailbox, MaxDescriptors: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		base := countFDs(t)
		mb := make([]byte, MinMailbox)
		for _, c := range chunks(data) {
			copy(mb, c)
			// The TA's own copy of what it asked, to check the answer
			// against as a TA library would.
			req, reqErr := DecodeRequest(mb)
			req.Detach(nil)
			exited, _ := s.Dispatch(cancelled, mb)
			if reqErr == nil && req.Op != OpExit {
				resp, err := DecodeResponse(mb)
				if err == nil {
					resp.Detach(nil)
					err = CheckResponse(&req, &resp, PayloadCap(mb))
				}
				if err != nil {
					t.Fatalf("the shadow's answer to %v fails the TA's check: %v", req.Op, err)
				}
			}
			if n, want := countFDs(t), base+s.Stats().OpenDescriptors; n != want {
				t.Fatalf("%d host descriptors open, want %d (table holds %d)", n, want, s.Stats().OpenDescriptors)
			}
			if exited {
				break
			}
		}
		s.Close()
		if n := countFDs(t); n != before {
			t.Fatalf("%d host descriptors open after Close, %d before New", n, before)
		}
		if got := names(t, parent); !slices.Equal(got, []string{"outside", "root"}) {
			t.Fatalf("parent of root holds %q", got)
		}
		if got := names(t, outside); !slices.Equal(got, []string{"fifo"}) {
			t.Fatalf("outside holds %q", got)
		}
	})
}

func resetRoot(t *testing.T, root, outside string) {
	t.Helper()
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "p"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
}
