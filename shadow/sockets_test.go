package shadow

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	. "github.com/tzmediator/tzbridge/tzrpc"
)

// TestUnixStream: the TA listens on a UNIX socket in its root, a CA
// connects by the host path, and the TA connects to its own listener.
func TestUnixStream(t *testing.T) {
	a := newTA(t, options{})
	l := a.ok(OpSocket, args(AF_UNIX, SOCK_STREAM, SOCK_CLOEXEC), nil)
	a.ok(OpMkdir, args(0o700), []byte("run"))
	a.ok(OpBind, args(l), unixAddr(t, "run/echo.sock"))
	a.ok(OpListen, args(l, 8), nil)
	if sa := parseAddr(t, a.call(OpGetsockname, args(l), nil).Payload); sa.Path() != "run/echo.sock" {
		t.Errorf("getsockname %v, want the path the TA bound", sa)
	}

	ca, err := net.Dial("unix", a.path("run/echo.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	r := a.call(OpAccept, args(l, SOCK_NONBLOCK), nil)
	if r.Errno != 0 {
		t.Fatal(r.Errno)
	}
	c := r.Ret
	if sa := parseAddr(t, r.Payload); sa.Family() != FamilyUnix || sa.Path() != "" {
		t.Errorf("accepted peer %v, want unnamed", sa)
	}
	if fl := a.ok(OpFcntl, args(c, F_GETFL), nil); fl != O_RDWR|O_NONBLOCK {
		t.Errorf("accepted socket F_GETFL %#x", fl)
	}
	a.fails(EAGAIN, OpRecv, args(c, 10), nil)
	ca.Write([]byte("ping"))
	a.ok(OpFcntl, args(c, F_SETFL, 0), nil)
	if r := a.call(OpRecv, args(c, 10, MSG_PEEK), nil); string(r.Payload) != "ping" {
		t.Errorf("peek %q, %v", r.Payload, r.Errno)
	}
	if r := a.call(OpRead, args(c, 10), nil); string(r.Payload) != "ping" {
		t.Errorf("read %q, %v", r.Payload, r.Errno)
	}
	a.ok(OpWrite, args(c), []byte("pong"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(ca, buf); err != nil || string(buf) != "pong" {
		t.Errorf("CA got %q, %v", buf, err)
	}

	// The TA connects to its own listener by the path it bound.
	cl := a.ok(OpSocket, args(AF_UNIX, SOCK_STREAM), nil)
	a.ok(OpConnect, args(cl), unixAddr(t, "/run/../run/echo.sock"))
	if sa := parseAddr(t, a.call(OpGetpeername, args(cl), nil).Payload); sa.Path() != "/run/../run/echo.sock" {
		t.Errorf("getpeername %v, want the path the TA connected to", sa)
	}
	srv := a.ok(OpAccept, args(l), nil)
	a.ok(OpSend, args(cl, MSG_NOSIGNAL), []byte("self"))
	if r := a.call(OpRecv, args(srv, 10), nil); string(r.Payload) != "self" {
		t.Errorf("recv %q", r.Payload)
	}
	if v := a.ok(OpGetsockopt, args(cl, SO_TYPE), nil); v != SOCK_STREAM {
		t.Errorf("SO_TYPE %d", v)
	}
	a.fails(ENOTCONN, OpGetpeername, args(l), nil)

	// Closing the TA's end is what the CA sees.
	a.ok(OpClose, args(c), nil)
	if n, err := ca.Read(buf); err != io.EOF {
		t.Errorf("CA read after TA close: %d, %v", n, err)
	}
}

// TestTCP: listen, accept, MSG_WAITALL, shutdown, a blocking connect,
// socket options.
func TestTCP(t *testing.T) {
	a := newTA(t, options{})
	l := a.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil)
	a.ok(OpSetsockopt, args(l, SO_REUSEADDR, 7), nil) // any nonzero int32 is on
	if v := a.ok(OpGetsockopt, args(l, SO_REUSEADDR), nil); v != 1 {
		t.Errorf("SO_REUSEADDR reads %d", v)
	}
	a.ok(OpBind, args(l), inetAddr(t, "127.0.0.1:0"))
	a.ok(OpListen, args(l, 4), nil)
	sa := parseAddr(t, a.call(OpGetsockname, args(l), nil).Payload)
	if sa.Family() != FamilyInet || sa.Addr() != netip.MustParseAddr("127.0.0.1") || sa.Port() == 0 {
		t.Fatalf("getsockname %v", sa)
	}

	ca, err := net.Dial("tcp", sa.AddrPort().String())
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	r := a.call(OpAccept, args(l), nil)
	c := r.Ret
	peer := parseAddr(t, r.Payload)
	if peer.AddrPort().String() != ca.LocalAddr().String() {
		t.Errorf("accepted peer %v, CA is %v", peer, ca.LocalAddr())
	}
	if p := parseAddr(t, a.call(OpGetpeername, args(c), nil).Payload); p != peer {
		t.Errorf("getpeername %v, accept said %v", p, peer)
	}

	// MSG_WAITALL waits for all ten bytes written in two pieces.
	go func() {
		ca.Write([]byte("01234"))
		time.Sleep(20 * time.Millisecond)
		ca.Write([]byte("56789"))
	}()
	if r := a.call(OpRecv, args(c, 10, MSG_WAITALL), nil); string(r.Payload) != "0123456789" {
		t.Errorf("MSG_WAITALL got %q, %v", r.Payload, r.Errno)
	}
	a.ok(OpSetsockopt, args(c, TCP_NODELAY, 1), nil)
	if v := a.ok(OpGetsockopt, args(c, TCP_NODELAY), nil); v != 1 {
		t.Errorf("TCP_NODELAY reads %d", v)
	}
	a.ok(OpSetsockopt, args(c, SO_RCVBUF, 1<<30), nil)
	if v := a.ok(OpGetsockopt, args(c, SO_RCVBUF), nil); v > 2*maxSockBuf {
		t.Errorf("SO_RCVBUF %d above the shadow's cap", v)
	}
	a.fails(ENOPROTOOPT, OpSetsockopt, args(c, SO_ERROR, 0), nil)
	a.ok(OpSend, args(c), []byte("reply"))
	a.ok(OpShutdown, args(c, SHUT_WR), nil)
	if b, err := io.ReadAll(ca); err != nil || string(b) != "reply" {
		t.Errorf("CA read %q, %v", b, err)
	}
	ca.Close()
	if r := a.call(OpRecv, args(c, 10), nil); r.Errno != 0 || r.Ret != 0 {
		t.Errorf("recv after peer close: %d, %v", r.Ret, r.Errno)
	}

	// A blocking connect to a CA's listener; a nonblocking one to a
	// closed port reports through SO_ERROR.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := a.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil)
	a.ok(OpConnect, args(cl), inetAddr(t, ln.Addr().String()))
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	closedPort := ln.Addr().String()
	ln.Close()
	nb := a.ok(OpSocket, args(AF_INET, SOCK_STREAM, SOCK_NONBLOCK), nil)
	if r := a.call(OpConnect, args(nb), inetAddr(t, closedPort)); r.Errno != EINPROGRESS && r.Errno != ECONNREFUSED {
		t.Errorf("nonblocking connect: %v", r.Errno)
	}
	a.ok(OpPoll, args(1, 5000), AppendPollFd(nil, PollFd{Fd: int32(nb), Events: POLLOUT}))
	if v := a.ok(OpGetsockopt, args(nb, SO_ERROR), nil); v != int64(ECONNREFUSED) && v != 0 {
		t.Errorf("SO_ERROR %d", v)
	}
	bl := a.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil)
	a.fails(ECONNREFUSED, OpConnect, args(bl), inetAddr(t, closedPort))
}

// TestUDP: sendto and recvfrom with addresses, both ways.
func TestUDP(t *testing.T) {
	a := newTA(t, options{})
	u := a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
	a.ok(OpBind, args(u), inetAddr(t, "127.0.0.1:0"))
	taAddr := parseAddr(t, a.call(OpGetsockname, args(u), nil).Payload)
	if v := a.ok(OpGetsockopt, args(u, SO_TYPE), nil); v != SOCK_DGRAM {
		t.Errorf("SO_TYPE %d", v)
	}

	ca, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	if _, err := ca.WriteToUDPAddrPort([]byte("datagram"), taAddr.AddrPort()); err != nil {
		t.Fatal(err)
	}
	r := a.call(OpRecvfrom, args(u, 100), nil)
	if r.Errno != 0 {
		t.Fatal(r.Errno)
	}
	from, data := r.RecvfromParts()
	src := parseAddr(t, from)
	if string(data) != "datagram" || src.AddrPort().String() != ca.LocalAddr().String() {
		t.Errorf("recvfrom %q from %v", data, src)
	}
	// Reply to the source it reported.
	msg := append(bytes.Clone(from), "answer"...)
	if n := a.ok(OpSendto, args(u, 0, int64(len(from))), msg); n != 6 {
		t.Errorf("sendto sent %d", n)
	}
	buf := make([]byte, 100)
	ca.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := ca.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "answer" {
		t.Errorf("CA got %q, %v", buf[:n], err)
	}
	// A datagram larger than asked for is truncated, as recv(2) does.
	ca.WriteToUDPAddrPort([]byte("0123456789"), taAddr.AddrPort())
	if r := a.call(OpRecv, args(u, 4), nil); string(r.Payload) != "0123" {
		t.Errorf("truncated recv %q", r.Payload)
	}
	a.fails(EAGAIN, OpRecvfrom, args(u, 100, MSG_DONTWAIT), nil)
	a.fails(EDESTADDRREQ, OpSend, args(u), []byte("nowhere"))
}

// TestDatagramBoundaries: with a burst of datagrams queued, every receive
// returns exactly one, whatever the call and its flags: MSG_WAITALL means
// nothing for a datagram socket (recv(2)), so it must not merge them.
func TestDatagramBoundaries(t *testing.T) {
	msg := func(i int) []byte { return []byte(fmt.Sprintf("datagram %d %s", i, strings.Repeat("x", i))) }
	for _, tt := range []struct {
		name string
		op   Op
		args func(fd int64) [6]int64
	}{
		{"RECV MSG_WAITALL", OpRecv, func(fd int64) [6]int64 { return args(fd, 1000, MSG_WAITALL) }},
		{"RECVFROM MSG_WAITALL", OpRecvfrom, func(fd int64) [6]int64 { return args(fd, 1000, MSG_WAITALL) }},
		{"RECV", OpRecv, func(fd int64) [6]int64 { return args(fd, 1000, 0) }},
		{"READ", OpRead, func(fd int64) [6]int64 { return args(fd, 1000) }},
	} {
		for _, family := range []string{"udp", "unixgram"} {
			t.Run(tt.name+" "+family, func(t *testing.T) {
				a := newTA(t, options{})
				var u int64
				var send func([]byte) error
				// A UNIX datagram socket queues at most
				// net.unix.max_dgram_qlen (10) datagrams; the
				// sender blocks beyond.
				burst := 8
				if family == "udp" {
					burst = 64
					u = a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
					a.ok(OpBind, args(u), inetAddr(t, "127.0.0.1:0"))
					to := parseAddr(t, a.call(OpGetsockname, args(u), nil).Payload).AddrPort()
					ca, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
					if err != nil {
						t.Fatal(err)
					}
					defer ca.Close()
					send = func(b []byte) error { _, err := ca.WriteToUDPAddrPort(b, to); return err }
				} else {
					u = a.ok(OpSocket, args(AF_UNIX, SOCK_DGRAM), nil)
					a.ok(OpBind, args(u), unixAddr(t, "dg"))
					ca, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: a.path("dg"), Net: "unixgram"})
					if err != nil {
						t.Fatal(err)
					}
					defer ca.Close()
					send = func(b []byte) error { _, err := ca.Write(b); return err }
				}
				for i := range burst {
					if err := send(msg(i)); err != nil {
						t.Fatal(err)
					}
				}
				for i := range burst {
					r := a.call(tt.op, tt.args(u), nil)
					got := r.Payload
					if tt.op == OpRecvfrom {
						_, got = r.RecvfromParts()
					}
					if r.Errno != 0 || !bytes.Equal(got, msg(i)) {
						t.Fatalf("receive %d got %q, %v; want %q", i, got, r.Errno, msg(i))
					}
				}
			})
		}
	}
}

// TestUnixDatagram: a UNIX datagram socket in the root, and the CA's
// source address reported inside the root.
func TestUnixDatagram(t *testing.T) {
	a := newTA(t, options{})
	u := a.ok(OpSocket, args(AF_UNIX, SOCK_DGRAM), nil)
	a.ok(OpBind, args(u), unixAddr(t, "dg"))
	ca, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: a.path("ca"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	if _, err := ca.WriteToUnix([]byte("hi"), &net.UnixAddr{Name: a.path("dg"), Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
	r := a.call(OpRecvfrom, args(u, 100), nil)
	from, data := r.RecvfromParts()
	if sa := parseAddr(t, from); string(data) != "hi" || sa.Path() != "/ca" {
		t.Errorf("recvfrom %q from %v, want from /ca", data, sa)
	}
	a.ok(OpSendto, args(u, 0, int64(len(from))), append(bytes.Clone(from), "back"...))
	buf := make([]byte, 10)
	ca.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := ca.Read(buf); err != nil || string(buf[:n]) != "back" {
		t.Errorf("CA got %q, %v", buf[:n], err)
	}
}

func TestPollMixed(t *testing.T) {
	a := newTA(t, options{})
	u := a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
	a.ok(OpBind, args(u), inetAddr(t, "127.0.0.1:0"))
	var p []byte
	p = AppendPollFd(p, PollFd{Fd: int32(u), Events: POLLIN | POLLOUT})
	p = AppendPollFd(p, PollFd{Fd: -1, Events: POLLIN})
	p = AppendPollFd(p, PollFd{Fd: 77, Events: POLLIN}) // never opened
	p = AppendPollFd(p, PollFd{Fd: int32(u), Events: POLLIN})
	// POLLNVAL makes even an infinite poll return at once.
	r := a.call(OpPoll, args(4, -1), p)
	want := []uint16{POLLOUT, 0, POLLNVAL, 0}
	for i, w := range want {
		if got := GetPollFd(r.Payload, i).Revents; got != w {
			t.Errorf("entry %d revents %#x, want %#x", i, got, w)
		}
	}
	if r.Ret != 2 {
		t.Errorf("poll ret %d, want 2", r.Ret)
	}
	// A timeout passes with nothing ready.
	if n := a.ok(OpPoll, args(1, 20), p[24:]); n != 0 {
		t.Errorf("poll with timeout: %d", n)
	}
	if n := a.ok(OpPoll, args(0, 10), nil); n != 0 {
		t.Errorf("empty poll: %d", n)
	}
}
