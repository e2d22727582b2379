package securesim

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/internal/simwire"
)

// maxDoorbells bounds the doorbells (and so the goroutines) one client
// may register.
const maxDoorbells = 64

// doorbell serves invokes posted on one doorbell page (simwire.Doorbell):
// the fast path, with no socket message and no goroutine per call. Each
// invoke is handled exactly as one that came on the socket: the same
// checks, the same cancel-id registration, the same Host.Invoke.
type doorbell struct {
	cn   *conn
	mem  *sharedMem
	ring *os.File // the eventfd the loop sleeps on; nil: the futex
	bell *simwire.Doorbell
}

// openRing takes fd, a doorbell's ring from the client, as a nonblocking
// *os.File, so that sleeping on it parks the goroutine in the netpoller.
// Anything but an eventfd is refused: a pipe or a socket would serve as
// well, but a regular file or a device could block a thread.
func openRing(fd int) (*os.File, error) {
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err == nil && target != "anon_inode:[eventfd]" {
		err = fmt.Errorf("doorbell ring is %q, not an eventfd", target)
	}
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("doorbell ring: %w", err)
	}
	return os.NewFile(uintptr(fd), "doorbell-ring"), nil
}

func closeRing(f *os.File) {
	if f != nil {
		f.Close()
	}
}

func (d *doorbell) serve(ctx context.Context) {
	var spin simwire.Spinner
	posted := func(s uint32) bool { return s == simwire.StatePosted }
	// The connection's end closes the doorbell (serveConn), which wakes
	// this loop; ctx, which ends the connection, is looked at too.
	closed := func() bool { return d.bell.Closed() || ctx.Err() != nil }
	var raw [simwire.InvokeSize]byte
	// One call at a time: these are reused (both escape, into the TA
	// and into the session's table of calls to cancel).
	var params Params
	var reg callReg
	for {
		if !d.bell.Wait(&spin, false, posted, closed, nil) {
			return
		}
		// A private copy: the client may rewrite the page at any time.
		copy(raw[:], d.bell.Msg())
		m, err := simwire.Unmarshal(raw[:])
		if err == nil && m.Kind != simwire.KindInvoke {
			err = simwire.ErrMalformed
		}
		if err != nil {
			m = simwire.Msg{Kind: simwire.KindInvoke, Tag: m.Tag, Status: uint32(unix.EINVAL)}
			d.reply(&m)
			continue
		}
		var ok bool
		reg, ok = d.cn.begin(ctx, &m)
		if !ok {
			d.reply(&m)
			continue
		}
		d.bell.Post(simwire.StateRunning, false)
		d.cn.call(&reg, &m, &params)
		reg.end()
		d.reply(&m)
	}
}

func (d *doorbell) reply(m *simwire.Msg) {
	m.Kind |= simwire.ReplyBit
	m.Append(d.bell.Msg()[:0])
	d.bell.Post(simwire.StateDone, false)
}
