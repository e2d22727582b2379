package tzposix

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// fuzzCalls are the kinds of call FuzzResult answers with arbitrary bytes.
// Each checks that whatever came back stays within what was asked.
var fuzzCalls = []func(p *Proc) error{
	func(p *Proc) error { // read
		b := make([]byte, 8)
		n, err := p.Read(3, b)
		return within(n, err, b, 8)
	},
	func(p *Proc) error { // recv
		b := make([]byte, 8)
		n, err := p.Recv(5, b, MSG_PEEK)
		return within(n, err, b, 8)
	},
	func(p *Proc) error { // recvfrom
		b := make([]byte, 8)
		n, from, err := p.Recvfrom(7, b, 0)
		if err != nil && from.IsValid() {
			return fmt.Errorf("address %v with error %v", from, err)
		}
		return within(n, err, b, 8)
	},
	func(p *Proc) error { // write
		n, err := p.Write(3, []byte("abc"))
		if n < 0 || n > 3 {
			return fmt.Errorf("wrote %d of 3", n)
		}
		return errnoOnly(err)
	},
	func(p *Proc) error { // sendto
		n, err := p.Sendto(7, []byte("abc"), 0, loopback)
		if n < 0 || n > 3 {
			return fmt.Errorf("sent %d of 3", n)
		}
		return errnoOnly(err)
	},
	func(p *Proc) error { fd, err := p.Open("f", O_RDWR, 0); return newFD(p, fd, err) },
	func(p *Proc) error { fd, err := p.Socket(AF_INET, SOCK_STREAM, 0); return newFD(p, fd, err) },
	func(p *Proc) error { fd, _, err := p.Accept(5); return newFD(p, fd, err) },
	func(p *Proc) error { _, err := p.Getsockname(5); return errnoOnly(err) },
	func(p *Proc) error { _, err := p.Getpeername(5); return errnoOnly(err) },
	func(p *Proc) error { // poll
		fds := []PollFd{{Fd: 3, Events: POLLIN}, {Fd: -1, Events: POLLIN}, {Fd: 5, Events: POLLOUT}, {Fd: 99, Events: POLLIN}}
		n, err := p.Poll(fds, 0)
		ready := 0
		for i, f := range fds {
			if f.Revents&^(f.Events|POLLERR|POLLHUP|POLLNVAL) != 0 || (f.Fd < 0 && f.Revents != 0) {
				return fmt.Errorf("entry %d: revents %#x for events %#x", i, f.Revents, f.Events)
			}
			if f.Revents != 0 {
				ready++
			}
		}
		if err == nil && n != ready || n < 0 || n > len(fds) {
			return fmt.Errorf("poll returned %d with %d entries ready", n, ready)
		}
		if err != nil {
			return errnoOnly(err)
		}
		// Whatever was read ahead serves reads within their bounds.
		b := make([]byte, 8)
		for _, fd := range []int{3, 5} {
			if n, err := p.Read(fd, b); n < 0 || n > len(b) || (err != nil && n != 0) {
				return fmt.Errorf("read %d after poll: %d, %v", fd, n, err)
			} else if err := errnoOnly(err); err != nil {
				return err
			}
		}
		return nil
	},
	func(p *Proc) error { // poll a datagram socket, then receive what was read ahead
		if _, err := p.Poll([]PollFd{{Fd: 7, Events: POLLIN}}, 0); err != nil {
			return errnoOnly(err)
		}
		b := make([]byte, 8)
		n, _, err := p.Recvfrom(7, b, 0)
		if n < 0 || n > len(b) || (err != nil && n != 0) {
			return fmt.Errorf("recvfrom after poll: %d, %v", n, err)
		}
		return errnoOnly(err)
	},
	func(p *Proc) error { // getsockopt, boolean
		v, err := p.GetsockoptInt(5, unix.SOL_SOCKET, unix.SO_REUSEADDR)
		if v != 0 && v != 1 {
			return fmt.Errorf("boolean option = %d", v)
		}
		return errnoOnly(err)
	},
	func(p *Proc) error {
		_, err := p.GetsockoptInt(5, unix.SOL_SOCKET, unix.SO_ERROR)
		return errnoOnly(err)
	},
	func(p *Proc) error { return errnoOnly(p.SetsockoptInt(5, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)) },
	func(p *Proc) error { return errnoOnly(p.SetNonblock(3, true)) },
	func(p *Proc) error { return errnoOnly(p.Rename("a", "b")) },
	func(p *Proc) error { return errnoOnly(p.Close(3)) },
}

// within checks a read's result: no more than asked, nothing written past
// the count (b starts zeroed and the fuzzer's data is what lands in it).
func within(n int, err error, b []byte, asked int) error {
	if n < 0 || n > asked || (err != nil && n != 0) {
		return fmt.Errorf("read %d of %d (err %v)", n, asked, err)
	}
	if !bytes.Equal(b[n:], make([]byte, len(b)-n)) {
		return fmt.Errorf("bytes written past the count %d", n)
	}
	return errnoOnly(err)
}

func errnoOnly(err error) error {
	if _, ok := err.(syscall.Errno); err != nil && !ok {
		return fmt.Errorf("error %T %v is not an errno", err, err)
	}
	return nil
}

var fuzzFDs = map[int32]fdInfo{3: file, 5: stream, 7: dgram}

func newFD(p *Proc, fd int, err error) error {
	if err != nil {
		if fd != -1 {
			return fmt.Errorf("descriptor %d with error %v", fd, err)
		}
		return errnoOnly(err)
	}
	if _, was := fuzzFDs[int32(fd)]; was || fd < 0 || fd >= tzrpc.FDLimit {
		return fmt.Errorf("descriptor %d accepted", fd)
	}
	return nil
}

// FuzzResult answers one call of each kind with arbitrary response bytes:
// no panic, no result outside what was asked, every rejection counted.
// data[0] picks the call; if data[1] is odd the header's magic, version, op
// and seq are made to echo the request, so the fuzzer reaches the checks
// behind them; data[2:] is the mailbox.
func FuzzResult(f *testing.F) {
	for k := range fuzzCalls {
		f.Add([]byte{byte(k), 0})
		f.Add(append([]byte{byte(k), 1}, honestHeader(0, 0, nil)...))
		f.Add(append([]byte{byte(k), 1}, honestHeader(3, 0, []byte("abc"))...))
		f.Add(append([]byte{byte(k), 1}, honestHeader(0, tzrpc.EAGAIN, nil)...))
	}
	f.Add(append([]byte{7, 1}, honestHeader(9, 0, peer4.Marshal())...))
	f.Add(append([]byte{2, 1}, withAux(honestHeader(1, 0, cat(peer6.Marshal(), []byte("x"))), int64(peer6.Len()))...))
	f.Add(append([]byte{10, 1}, honestHeader(1, 0, pollBytes(
		tzrpc.PollFd{Fd: 3, Events: POLLIN, Revents: POLLIN}, tzrpc.PollFd{Fd: -1, Events: POLLIN},
		tzrpc.PollFd{Fd: 5, Events: POLLOUT}, tzrpc.PollFd{Fd: -1, Events: POLLIN}))...))
	f.Add(append([]byte{10, 1}, withAux(honestHeader(1, 0, cat(pollBytes(
		tzrpc.PollFd{Fd: 3, Events: POLLIN, Revents: POLLIN}, tzrpc.PollFd{Fd: -1, Events: POLLIN},
		tzrpc.PollFd{Fd: 5, Events: POLLOUT}, tzrpc.PollFd{Fd: -1, Events: POLLIN}), readAheadRecord(0, 0, "read ahead"))), 1)...))

	f.Add(append([]byte{11, 1}, withAux(honestHeader(1, 0, cat(pollBytes(tzrpc.PollFd{Fd: 7, Events: POLLIN, Revents: POLLIN}),
		datagramRecord(0, peer6, "a datagram"))), 1)...))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		call := fuzzCalls[int(data[0])%len(fuzzCalls)]
		fix, resp := data[1]&1 == 1, data[2:]
		fk, wait := runCall(t, tzrpc.MinMailbox, fuzzFDs, func(p *Proc) (any, error) { return nil, call(p) })
		// A blocking write that made progress asks again; each request gets
		// the same bytes.
		answers := uint64(0)
		for {
			req, ok := fk.nextOrExit()
			if !ok {
				break
			}
			answers++
			clear(fk.mb)
			copy(fk.mb, resp)
			if fix {
				put32(fk.mb, offMagic, tzrpc.MagicResponse)
				put16(fk.mb, 4, tzrpc.Version)
				put16(fk.mb, offOp, uint16(req.Op))
				put32(fk.mb, offSeq, req.Seq)
			}
		}
		o := wait()
		if o.err != nil {
			t.Fatal(o.err)
		}
		if o.violations > answers {
			t.Fatalf("%d violations for %d responses", o.violations, answers)
		}
	})
}

// nextOrExit resumes and returns the posted request, or false at EXIT
// (leaving it for wait to see).
func (f *fake) nextOrExit() (tzrpc.Request, bool) {
	f.t.Helper()
	req := f.next()
	if req.Op == tzrpc.OpExit {
		f.pendingExit = &req
		return req, false
	}
	return req, true
}

func honestHeader(ret int64, errno tzrpc.Errno, payload []byte) []byte {
	mb := make([]byte, tzrpc.HeaderSize+len(payload))
	writeResp(mb, 0, 0, ret, errno, [4]int64{}, payload)
	return mb
}

func withAux(mb []byte, aux0 int64) []byte {
	put64(mb, offAux0, aux0)
	return mb
}
