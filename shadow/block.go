package shadow

import (
	"context"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// errCancelled is what a call interrupted by its context's cancellation
// answers: EINTR, as for a blocking call interrupted by a signal.
const errCancelled = tzrpc.EINTR

// wakeUp makes every current and future blocking wait of s return until
// drainWake. Context cancellation calls it from another goroutine.
func (s *Shadow) wakeUp() {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	if s.wake < 0 {
		return
	}
	one := [8]byte{1} // the eventfd counter is a host-endian uint64; 1 is nonzero either way
	unix.Write(s.wake, one[:])
}

// drainWake resets the eventfd after a wake-up meant for an earlier call
// (its context was cancelled after that call returned).
func (s *Shadow) drainWake() {
	var buf [8]byte
	unix.Read(s.wake, buf[:])
}

// block polls pfds until one is ready, the timeout (ms, -1 for none)
// passes, or ctx is done (errCancelled). The last entry of pfds must be
// free: block puts the wake eventfd there. It returns poll's count, which
// includes no wake-up.
func (s *Shadow) block(ctx context.Context, pfds []unix.PollFd, timeout int) (int, tzrpc.Errno) {
	if ctx.Err() != nil {
		return 0, errCancelled
	}
	// Registered only here, where a call really waits, so that calls which
	// do not wait cost no allocation.
	stop := context.AfterFunc(ctx, s.wakeUp)
	defer stop()

	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(time.Duration(timeout) * time.Millisecond)
	}
	w := len(pfds) - 1
	for {
		pfds[w] = unix.PollFd{Fd: int32(s.wake), Events: unix.POLLIN}
		n, err := unix.Poll(pfds, timeout)
		switch {
		case err == unix.EINTR:
		case err != nil:
			return 0, errno(err)
		case pfds[w].Revents != 0:
			if ctx.Err() != nil {
				return 0, errCancelled
			}
			s.drainWake()
			if n > 1 {
				return n - 1, 0
			}
		default:
			return n, 0
		}
		if timeout > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return 0, 0
			}
			// Round up: poll(2) with a rounded-down 0 would spin.
			timeout = int((left + time.Millisecond - 1) / time.Millisecond)
		}
	}
}

// again decides what a blocking call's loop does after the host call on fd
// failed with err: try again (0) after EINTR, or after EAGAIN on a blocking
// descriptor once fd has one of events; otherwise stop with the errno.
func (s *Shadow) again(ctx context.Context, err error, fd int, events int16, nonblock bool) tzrpc.Errno {
	switch {
	case err == unix.EINTR:
		return 0
	case err == unix.EAGAIN && !nonblock:
		return s.waitFD(ctx, fd, events)
	}
	return errno(err)
}

// waitFD blocks until fd has one of events (or an error or hangup), or ctx
// is done.
func (s *Shadow) waitFD(ctx context.Context, fd int, events int16) tzrpc.Errno {
	var pfds [2]unix.PollFd
	pfds[0] = unix.PollFd{Fd: int32(fd), Events: events}
	_, e := s.block(ctx, pfds[:], -1)
	return e
}

// pause sleeps for d unless ctx is done first; it serves the rare waits
// that have no descriptor event to wait for.
func (s *Shadow) pause(ctx context.Context, d time.Duration) tzrpc.Errno {
	var pfds [1]unix.PollFd
	_, e := s.block(ctx, pfds[:], int(d/time.Millisecond))
	return e
}

// errno converts a host error from x/sys/unix to the wire.
func errno(err error) tzrpc.Errno {
	if e, ok := err.(unix.Errno); ok {
		return tzrpc.ErrnoFromSyscall(e)
	}
	return tzrpc.ErrnoOf(err)
}
