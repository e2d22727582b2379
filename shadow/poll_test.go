package shadow

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/tzmediator/tzbridge/tzrpc"
)

// readAheadRecords returns, by entry index, what a POLL response read
// ahead: the data (after the sender and " > " for a datagram), or the
// errno as a string.
func readAheadRecords(t *testing.T, r Response, nfds int) map[uint32]string {
	t.Helper()
	got := map[uint32]string{}
	rest := r.Payload[nfds*PollFdSize:]
	for range r.Aux[0] {
		rec, addr, data, tail, ok := NextReadAhead(rest)
		if !ok {
			t.Fatalf("record cut short in %q", rest)
		}
		switch {
		case rec.Errno != 0:
			got[rec.Index] = rec.Errno.String()
		case len(addr) > 0:
			got[rec.Index] = parseAddr(t, addr).String() + " > " + string(data)
		default:
			got[rec.Index] = string(data)
		}
		rest = tail
	}
	return got
}

// udpPair makes a TA UDP socket on loopback and a CA socket connected to
// it, closed when the test ends.
func udpPair(t *testing.T, a *testTA) (int64, net.Conn) {
	t.Helper()
	u := a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
	a.ok(OpBind, args(u), inetAddr(t, "127.0.0.1:0"))
	uaddr := parseAddr(t, a.call(OpGetsockname, args(u), nil).Payload)
	uc, err := net.Dial("udp", uaddr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	return u, uc
}

// TestPollReadAhead: a POLL with a budget reads ahead the FIFOs, stream
// sockets and datagram sockets (with the sender) it reports readable, and
// nothing else: not a listener (its POLLIN is a connection), a directory,
// or a FIFO at end of file.
func TestPollReadAhead(t *testing.T) {
	a := newTA(t, options{})
	a.ok(OpMkfifo, args(0o600), []byte("in"))
	a.ok(OpMkfifo, args(0o600), []byte("gone"))
	a.ok(OpMkdir, args(0o700), []byte("d"))
	fifo := a.ok(OpOpen, args(O_RDONLY|O_NONBLOCK), []byte("in"))
	gone := a.ok(OpOpen, args(O_RDONLY|O_NONBLOCK), []byte("gone"))
	dir := a.ok(OpOpen, args(O_RDONLY|O_DIRECTORY), []byte("d"))

	ca, err := os.OpenFile(a.path("in"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	ca.WriteString("fifo bytes")
	// A writer that wrote and left: POLLIN and POLLHUP.
	if w, err := os.OpenFile(a.path("gone"), os.O_WRONLY, 0); err != nil {
		t.Fatal(err)
	} else {
		w.WriteString("last words")
		w.Close()
	}

	l := a.ok(OpSocket, args(AF_UNIX, SOCK_STREAM), nil)
	a.ok(OpBind, args(l), unixAddr(t, "s.sock"))
	a.ok(OpListen, args(l, 4), nil)
	c1, err := net.Dial("unix", a.path("s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	conn := a.ok(OpAccept, args(l, SOCK_NONBLOCK), nil)
	c1.Write([]byte("stream bytes"))
	c2, err := net.Dial("unix", a.path("s.sock")) // pending: the listener is readable
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()

	u, uc := udpPair(t, a)
	uc.Write([]byte("datagram"))

	entries := []PollFd{
		{Fd: int32(fifo), Events: POLLIN},
		{Fd: int32(gone), Events: POLLIN},
		{Fd: int32(dir), Events: POLLIN},
		{Fd: int32(l), Events: POLLIN},
		{Fd: int32(conn), Events: POLLIN | POLLOUT},
		{Fd: int32(u), Events: POLLIN},
		{Fd: int32(conn), Events: POLLOUT}, // readable, but POLLIN not asked
	}
	var p []byte
	for _, e := range entries {
		p = AppendPollFd(p, e)
	}
	// Wait until the datagram has arrived, without reading ahead.
	deadline := time.Now().Add(5 * time.Second)
	for GetPollFd(a.call(OpPoll, args(int64(len(entries)), 0), p).Payload, 5).Revents == 0 {
		if time.Now().After(deadline) {
			t.Fatal("datagram never arrived")
		}
		time.Sleep(time.Millisecond)
	}

	r := a.call(OpPoll, args(int64(len(entries)), -1, 1<<20), p)
	got := readAheadRecords(t, r, len(entries))
	want := map[uint32]string{0: "fifo bytes", 4: "stream bytes", 5: uc.LocalAddr().String() + " > datagram"}
	if len(got) != len(want) || got[0] != want[0] || got[4] != want[4] || got[5] != want[5] {
		t.Errorf("read ahead %v, want %v", got, want)
	}
	if n := a.ok(OpPoll, args(int64(len(entries)), 0), p); n != 5 {
		t.Errorf("after read-ahead %d entries ready, want 5 (the read-ahead ones drained)", n)
	}
	// What was not read ahead is still there for the TA's own calls.
	if r := a.call(OpRead, args(gone, 100), nil); string(r.Payload) != "last words" {
		t.Errorf("read of the FIFO at end of file: %q, %v", r.Payload, r.Errno)
	}
	if fd := a.ok(OpAccept, args(l, 0), nil); fd < 0 {
		t.Error("pending connection lost")
	}
	if st := a.s.Stats(); st.BytesIn < uint64(len("fifo bytes")+len("stream bytes")+len("datagram")) {
		t.Errorf("BytesIn %d does not count the bytes read ahead", st.BytesIn)
	}
}

// TestPollReadAheadBudget: the budget bounds the data of all records; what
// is beyond it stays in the kernel for the next read.
func TestPollReadAheadBudget(t *testing.T) {
	tests := []struct {
		name   string
		budget int64
		want   []string // records for the two FIFOs
	}{
		{"room for both", 100, []string{"0123456789", "abcdefghij"}},
		{"room for the first and part of the second", 14, []string{"0123456789", "abcd"}},
		{"part of the first", 4, []string{"0123"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTA(t, options{})
			var fds [2]int64
			for i, name := range []string{"x", "y"} {
				a.ok(OpMkfifo, args(0o600), []byte(name))
				fds[i] = a.ok(OpOpen, args(O_RDONLY|O_NONBLOCK), []byte(name))
				w, err := os.OpenFile(a.path(name), os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				w.WriteString([]string{"0123456789", "abcdefghij"}[i])
			}
			p := AppendPollFd(AppendPollFd(nil, PollFd{Fd: int32(fds[0]), Events: POLLIN}), PollFd{Fd: int32(fds[1]), Events: POLLIN})
			r := a.call(OpPoll, args(2, -1, tt.budget), p)
			got := readAheadRecords(t, r, 2)
			if len(got) != len(tt.want) {
				t.Fatalf("records %v, want %q", got, tt.want)
			}
			var rest strings.Builder
			for i, w := range tt.want {
				if got[uint32(i)] != w {
					t.Errorf("record %d %q, want %q", i, got[uint32(i)], w)
				}
				rest.WriteString(w)
			}
			// Whatever was not read ahead is read normally.
			for _, fd := range fds {
				if r := a.call(OpRead, args(fd, 100), nil); r.Errno == 0 {
					rest.Write(r.Payload)
				}
			}
			if rest.String() != "0123456789abcdefghij" {
				t.Errorf("bytes seen in all %q: some lost or repeated", rest.String())
			}
		})
	}
}

// TestPollReadAheadDatagram: a datagram is read ahead whole, with its
// sender, or not at all.
func TestPollReadAheadDatagram(t *testing.T) {
	tests := []struct {
		name     string
		budget   int64
		datagram string
		ahead    bool
	}{
		{"fits", 100, "datagram", true},
		{"exactly fits", 8, "datagram", true},
		{"beyond the budget: left whole", 7, "datagram", false},
		{"empty", 100, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTA(t, options{})
			u, uc := udpPair(t, a)
			uc.Write([]byte(tt.datagram))
			p := AppendPollFd(nil, PollFd{Fd: int32(u), Events: POLLIN})
			got := readAheadRecords(t, a.call(OpPoll, args(1, 5000, tt.budget), p), 1)
			if !tt.ahead {
				if len(got) != 0 {
					t.Fatalf("read ahead %v beyond the budget", got)
				}
				r := a.call(OpRecvfrom, args(u, 100), nil)
				if _, data := r.RecvfromParts(); r.Errno != 0 || string(data) != tt.datagram {
					t.Errorf("recvfrom %q, %v: want the datagram whole", data, r.Errno)
				}
				return
			}
			if want := uc.LocalAddr().String() + " > " + tt.datagram; got[0] != want {
				t.Errorf("read ahead %q, want %q", got[0], want)
			}
		})
	}
}

// TestPollReadAheadLeavesErrors: a socket with an error queued (here an
// ICMP port unreachable) polls POLLERR and is not read ahead, in however
// many entries: its receives report the error first, then the datagram
// behind it, as the kernel does. (An error that arrives between poll and
// read is recorded instead, and then nothing more for that descriptor.)
func TestPollReadAheadLeavesErrors(t *testing.T) {
	a := newTA(t, options{})
	peer, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peerAddr := peer.LocalAddr().String()
	peer.Close() // nobody listens there now: a send is refused by ICMP
	u := a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
	a.ok(OpBind, args(u), inetAddr(t, "127.0.0.1:0"))
	a.ok(OpConnect, args(u), inetAddr(t, peerAddr))
	a.ok(OpSend, args(u, 0), []byte("refused"))
	back, err := net.ListenPacket("udp", peerAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	uaddr := parseAddr(t, a.call(OpGetsockname, args(u), nil).Payload)
	dst, _ := net.ResolveUDPAddr("udp", uaddr.String())
	back.WriteTo([]byte("after the error"), dst)

	p := AppendPollFd(AppendPollFd(nil, PollFd{Fd: int32(u), Events: POLLIN}), PollFd{Fd: int32(u), Events: POLLIN})
	deadline := time.Now().Add(5 * time.Second)
	var r Response
	for r = a.call(OpPoll, args(2, 5000, 1<<20), p); GetPollFd(r.Payload, 0).Revents&POLLERR == 0; r = a.call(OpPoll, args(2, 5000, 1<<20), p) {
		if time.Now().After(deadline) {
			t.Fatal("no ICMP error queued")
		}
		time.Sleep(time.Millisecond)
	}
	if got := readAheadRecords(t, r, 2); len(got) != 0 {
		t.Fatalf("read ahead %v from a socket reporting POLLERR", got)
	}
	a.fails(ECONNREFUSED, OpRecvfrom, args(u, 100), nil)
	if r := a.call(OpRecvfrom, args(u, 100), nil); r.Errno != 0 {
		t.Errorf("recvfrom after the error: %v", r.Errno)
	} else if _, data := r.RecvfromParts(); string(data) != "after the error" {
		t.Errorf("recvfrom %q", data)
	}
}

// TestReadAheadNothingAfterErrno: when a read ahead meets an error (one
// that arrived between poll and read, which revents cannot show), the
// errno record is the last for that descriptor: a datagram queued behind
// the error is left for the TA's next read, which the protocol says
// returns the error first (docs/protocol.md). The race is staged by
// handing readAhead revents that say POLLIN only.
func TestReadAheadNothingAfterErrno(t *testing.T) {
	a := newTA(t, options{})
	peer, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peerAddr := peer.LocalAddr().String()
	peer.Close() // nobody listens there now: a send is refused by ICMP
	u := a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
	a.ok(OpBind, args(u), inetAddr(t, "127.0.0.1:0"))
	a.ok(OpConnect, args(u), inetAddr(t, peerAddr))
	a.ok(OpSend, args(u, 0), []byte("refused"))
	back, err := net.ListenPacket("udp", peerAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	uaddr := parseAddr(t, a.call(OpGetsockname, args(u), nil).Payload)
	dst, _ := net.ResolveUDPAddr("udp", uaddr.String())
	if _, err := back.WriteTo([]byte("after the error"), dst); err != nil {
		t.Fatal(err)
	}
	// Wait, without reading ahead (budget 0), until the error and the
	// datagram are both queued.
	p := AppendPollFd(AppendPollFd(nil, PollFd{Fd: int32(u), Events: POLLIN}), PollFd{Fd: int32(u), Events: POLLIN})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		r := a.call(OpPoll, args(2, 5000, 0), p)
		if rev := GetPollFd(r.Payload, 0).Revents; rev&POLLERR != 0 && rev&POLLIN != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ICMP error and the datagram were never both queued")
		}
	}

	out := make([]byte, DefaultMailbox)
	records, plen := a.s.readAhead(p, []uint16{POLLIN, POLLIN}, out, 1<<20, 2*PollFdSize)
	got := readAheadRecords(t, Response{Payload: out[:plen], Aux: [4]int64{int64(records)}}, 2)
	if records != 1 || got[0] != "ECONNREFUSED" {
		t.Fatalf("read ahead %d records %v; want only entry 0's ECONNREFUSED", records, got)
	}
	if r := a.call(OpRecvfrom, args(u, 100), nil); r.Errno != 0 {
		t.Errorf("recvfrom after the error: %v", r.Errno)
	} else if _, data := r.RecvfromParts(); string(data) != "after the error" {
		t.Errorf("recvfrom %q, want the datagram left behind the error", data)
	}
}
