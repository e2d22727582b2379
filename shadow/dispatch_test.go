package shadow

import (
	"encoding/binary"
	"net"
	"testing"

	. "github.com/tzmediator/tzbridge/tzrpc"
)

func TestDescriptorNumbers(t *testing.T) {
	a := newTA(t, options{maxFDs: 4})
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	for _, fd := range []int64{-1, 0, 1, 2, 3, 99, FDLimit - 1, FDLimit, 1 << 62} {
		a.fails(EBADF, OpClose, args(fd), nil)
		a.fails(EBADF, OpRead, args(fd, 1), nil)
		a.fails(EBADF, OpFcntl, args(fd, F_GETFL), nil)
	}
	var fds []int64
	for range 4 {
		fds = append(fds, a.ok(OpSocket, args(AF_UNIX, SOCK_STREAM), nil))
	}
	if fds[0] != 3 || fds[3] != 6 {
		t.Errorf("descriptors %v, want 3..6", fds)
	}
	a.fails(EMFILE, OpSocket, args(AF_UNIX, SOCK_STREAM), nil)
	a.fails(EMFILE, OpOpen, args(O_RDWR), []byte("p"))
	a.ok(OpClose, args(4), nil)
	a.fails(EBADF, OpClose, args(4), nil)
	a.fails(EBADF, OpSend, args(4), []byte("x"))
	if fd := a.ok(OpOpen, args(O_RDWR), []byte("p")); fd != 4 {
		t.Errorf("reused slot %d, want the lowest free, 4", fd)
	}
	if n := a.s.Stats().OpenDescriptors; n != 4 {
		t.Errorf("OpenDescriptors %d", n)
	}
}

// TestAcceptAtLimit: EMFILE leaves the connection queued for later.
func TestAcceptAtLimit(t *testing.T) {
	a := newTA(t, options{maxFDs: 2})
	l := a.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil)
	a.ok(OpBind, args(l), inetAddr(t, "127.0.0.1:0"))
	a.ok(OpListen, args(l, 1), nil)
	addr := parseAddr(t, a.call(OpGetsockname, args(l), nil).Payload)
	extra := a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
	ca, err := net.Dial("tcp", addr.AddrPort().String())
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	a.fails(EMFILE, OpAccept, args(l), nil)
	a.ok(OpClose, args(extra), nil)
	c := a.ok(OpAccept, args(l), nil)
	ca.Write([]byte("still here"))
	if r := a.call(OpRecv, args(c, 100), nil); string(r.Payload) != "still here" {
		t.Errorf("recv %q", r.Payload)
	}
}

// rawHeader writes a request header by hand, to say what the encoder
// refuses to.
func rawHeader(mb []byte, magic uint32, version, op uint16, seq, plen uint32) {
	le := binary.LittleEndian
	clear(mb[:HeaderSize])
	le.PutUint32(mb[0:], magic)
	le.PutUint16(mb[4:], version)
	le.PutUint16(mb[6:], op)
	le.PutUint32(mb[8:], seq)
	le.PutUint32(mb[12:], plen)
}

func TestUndecodableRequests(t *testing.T) {
	a := newTA(t, options{mailbox: MinMailbox})
	cases := []struct {
		name    string
		magic   uint32
		version uint16
		op      uint16
		plen    uint32
		want    Errno
	}{
		{"bad magic", 0xdeadbeef, Version, uint16(OpClose), 0, EINVAL},
		{"response magic", MagicResponse, Version, uint16(OpClose), 0, EINVAL},
		{"newer version", MagicRequest, 2, uint16(OpClose), 0, ENOSYS},
		{"version 0", MagicRequest, 0, uint16(OpClose), 0, ENOSYS},
		{"unknown op", MagicRequest, Version, 99, 0, ENOSYS},
		{"op 0", MagicRequest, Version, 0, 0, ENOSYS},
		{"payload beyond mailbox", MagicRequest, Version, uint16(OpWrite), uint32(PayloadCap(a.mb)) + 1, EINVAL},
		{"payload 4 GiB", MagicRequest, Version, uint16(OpWrite), ^uint32(0), EINVAL},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seq := uint32(1000 + i)
			rawHeader(a.mb, c.magic, c.version, c.op, seq, c.plen)
			if exited, _ := a.s.Dispatch(a.ctx, a.mb); exited {
				t.Fatal("exited")
			}
			r, err := DecodeResponse(a.mb)
			if err != nil {
				t.Fatal(err)
			}
			if r.Errno != c.want || r.Op != Op(c.op) || r.Seq != seq || len(r.Payload) != 0 {
				t.Errorf("response op %v seq %d errno %v payload %d, want op %d seq %d errno %v", r.Op, r.Seq, r.Errno, len(r.Payload), c.op, seq, c.want)
			}
		})
	}
	// Below the protocol's minimum: refused, whatever the op.
	small := make([]byte, HeaderSize+8)
	for _, op := range []Op{OpRecvfrom, OpAccept, OpGetsockname, OpPoll} {
		if err := EncodeRequestHeader(small, op, 5, args(3, 8), 0); err != nil {
			t.Fatal(err)
		}
		a.s.Dispatch(a.ctx, small)
		if r, err := DecodeResponse(small); err != nil || r.Errno != EINVAL || r.Op != op {
			t.Errorf("%v in a %d-byte mailbox: %+v, %v", op, len(small), r, err)
		}
	}
	// Too short for a header: nothing to answer, nothing written.
	short := []byte{1, 2, 3}
	if exited, _ := a.s.Dispatch(a.ctx, short); exited || short[0] != 1 {
		t.Errorf("short mailbox: exited %v, %v", exited, short)
	}
	a.s.Dispatch(a.ctx, nil)
}

func TestInvalidArguments(t *testing.T) {
	a := newTA(t, options{mailbox: MinMailbox})
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	fd := a.ok(OpOpen, args(O_RDWR), []byte("p"))
	s := a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
	pollOne := AppendPollFd(nil, PollFd{Fd: int32(fd), Events: POLLIN})
	cases := []struct {
		name    string
		op      Op
		arg     [6]int64
		payload []byte
		want    Errno
	}{
		{"open flag bit", OpOpen, args(0x4), []byte("p"), EINVAL},
		{"open O_ACCMODE", OpOpen, args(3), []byte("p"), EINVAL},
		{"open mode", OpOpen, args(O_RDWR, 0o10000), []byte("p"), EINVAL},
		{"open unused arg", OpOpen, args(O_RDWR, 0, 1), []byte("p"), EINVAL},
		{"open empty path", OpOpen, args(O_RDWR), nil, ENOENT},
		{"close with payload", OpClose, args(fd), []byte("x"), EINVAL},
		{"read negative", OpRead, args(fd, -1), nil, EINVAL},
		{"socket domain", OpSocket, args(99, SOCK_STREAM), nil, EAFNOSUPPORT},
		{"socket type", OpSocket, args(AF_INET, 3), nil, EINVAL},
		{"socket type with flags", OpSocket, args(AF_INET, SOCK_STREAM|SOCK_NONBLOCK), nil, EINVAL},
		{"socket flags", OpSocket, args(AF_INET, SOCK_STREAM, 1), nil, EINVAL},
		{"send recv-only flag", OpSend, args(s, MSG_PEEK), []byte("x"), EINVAL},
		{"recv flag bit", OpRecv, args(s, 1, 0x8000), nil, EINVAL},
		{"sendto addrlen beyond payload", OpSendto, args(s, 0, 100), []byte("x"), EINVAL},
		{"sendto garbage addr", OpSendto, args(s, 0, 4), []byte("\x09\x00\x00\x00data"), EINVAL},
		{"bind truncated addr", OpBind, args(s), inetAddr(t, "127.0.0.1:1")[:6], EINVAL},
		{"bind trailing bytes", OpBind, args(s), append(inetAddr(t, "127.0.0.1:1"), 0), EINVAL},
		{"listen backlog", OpListen, args(s, 1<<20), nil, EINVAL},
		{"shutdown how", OpShutdown, args(s, 3), nil, EINVAL},
		{"setsockopt unknown", OpSetsockopt, args(s, 42, 1), nil, ENOPROTOOPT},
		{"setsockopt SO_TYPE", OpSetsockopt, args(s, SO_TYPE, 1), nil, ENOPROTOOPT},
		{"setsockopt not int32", OpSetsockopt, args(s, SO_KEEPALIVE, 1<<40), nil, EINVAL},
		{"setsockopt negative buffer", OpSetsockopt, args(s, SO_SNDBUF, -1), nil, EINVAL},
		{"getsockopt unknown", OpGetsockopt, args(s, 0), nil, ENOPROTOOPT},
		{"socket op on a FIFO", OpGetsockopt, args(fd, SO_TYPE), nil, ENOTSOCK},
		{"accept on a FIFO", OpAccept, args(fd), nil, ENOTSOCK},
		{"poll nfds", OpPoll, args(MaxPollFDs+1, 0), nil, EINVAL},
		{"poll nfds negative", OpPoll, args(-1, 0), nil, EINVAL},
		{"poll payload short", OpPoll, args(2, 0), pollOne, EINVAL},
		{"poll event bits", OpPoll, args(1, 0), AppendPollFd(nil, PollFd{Fd: int32(fd), Events: 0x40}), EINVAL},
		{"poll revents set", OpPoll, args(1, 0), AppendPollFd(nil, PollFd{Fd: int32(fd), Events: POLLIN, Revents: POLLIN}), EINVAL},
		{"poll timeout", OpPoll, args(1, -2), pollOne, EINVAL},
		{"fcntl cmd", OpFcntl, args(fd, 3), nil, EINVAL},
		{"fcntl flag bit", OpFcntl, args(fd, F_SETFL, 0x4), nil, EINVAL},
		{"rename length 0", OpRename, args(0), []byte("ab"), EINVAL},
		{"rename length beyond", OpRename, args(3), []byte("ab"), EINVAL},
		{"rename no new path", OpRename, args(2), []byte("ab"), EINVAL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			a.fails(c.want, c.op, c.arg, c.payload)
		})
	}
	a.t = t
	// A request whose payload fills the mailbox exactly is fine.
	big := make([]byte, PayloadCap(a.mb))
	a.ok(OpFcntl, args(fd, F_SETFL, O_NONBLOCK), nil)
	if n := a.ok(OpWrite, args(fd), big); n != int64(len(big)) {
		t.Errorf("write of a full mailbox: %d", n)
	}
	// A count beyond the mailbox reads what fits.
	if r := a.call(OpRead, args(fd, 1<<62), nil); int(r.Ret) != PayloadCap(a.mb) {
		t.Errorf("read capped at %d, want the payload capacity %d", r.Ret, PayloadCap(a.mb))
	}
}

func TestExit(t *testing.T) {
	a := newTA(t, options{})
	for _, c := range []struct {
		arg    [6]int64
		status int
	}{
		{args(0), 0},
		{args(3), 3},
		{args(-1), -1},
		{args(1 << 40), 1<<31 - 1}, // not an int32: still the end, saturated
		{args(0, 1), 0},            // malformed, still the end
	} {
		if err := EncodeRequestHeader(a.mb, OpExit, 9, c.arg, 0); err != nil {
			t.Fatal(err)
		}
		exited, status := a.s.Dispatch(a.ctx, a.mb)
		if !exited || status != c.status {
			t.Errorf("EXIT %v: exited %v status %d, want %d", c.arg, exited, status, c.status)
		}
	}
}

// TestDescriptorsOfAnotherTA: descriptor numbers are per TA; a TA naming a
// number that is open in another TA's shadow gets EBADF and touches
// nothing of the other's.
func TestDescriptorsOfAnotherTA(t *testing.T) {
	a, b := newTA(t, options{}), newTA(t, options{})
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	fd := a.ok(OpOpen, args(O_RDWR|O_NONBLOCK), []byte("p"))
	b.fails(EBADF, OpWrite, args(fd), []byte("not yours"))
	b.fails(EBADF, OpClose, args(fd), nil)
	if r := a.call(OpRead, args(fd, 16), nil); r.Errno != EAGAIN {
		t.Errorf("the owner's FIFO: read %q (%v), want it empty and open", r.Payload, r.Errno)
	}
}

// TestRequestFlood: a flood of bad and good requests leaves no host
// descriptor behind and the shadow serving.
func TestRequestFlood(t *testing.T) {
	a := newTA(t, options{maxFDs: 8})
	before := countFDs(t)
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	for i := range 20000 {
		switch i % 5 {
		case 0:
			a.fails(EBADF, OpRead, args(int64(i), 1), nil)
		case 1:
			a.fails(EINVAL, OpOpen, args(0x4), []byte("p"))
		case 2:
			a.fails(ENOENT, OpOpen, args(O_RDONLY|O_NONBLOCK), []byte("../../etc/passwd"))
		case 3:
			s := a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
			a.ok(OpClose, args(s), nil)
		case 4:
			// Left open until the limit, then all closed.
			if _, err := a.try(a.ctx, OpOpen, args(O_RDWR|O_NONBLOCK), []byte("p")); err != nil {
				t.Fatal(err)
			}
			if a.s.Stats().OpenDescriptors == 8 {
				for fd := int64(3); fd < 11; fd++ {
					a.ok(OpClose, args(fd), nil)
				}
			}
		}
	}
	for fd := int64(3); fd < 11; fd++ {
		a.try(a.ctx, OpClose, args(fd), nil)
	}
	if after := countFDs(t); after != before {
		t.Errorf("host descriptors %d before the flood, %d after", before, after)
	}
	a.ok(OpSocket, args(AF_UNIX, SOCK_STREAM), nil)
}
