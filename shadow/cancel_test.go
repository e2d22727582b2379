package shadow

import (
	"context"
	"testing"
	"time"

	. "github.com/tzmediator/tzbridge/tzrpc"
)

type request struct {
	op      Op
	arg     [6]int64
	payload []byte
}

// TestCancelBlockedCalls: a call blocked for a blocking TA descriptor
// returns EINTR once its context is cancelled, and leaves nothing behind.
func TestCancelBlockedCalls(t *testing.T) {
	cases := []struct {
		name  string
		setup func(a *testTA) request
	}{
		{"read on an empty FIFO", func(a *testTA) request {
			a.ok(OpMkfifo, args(0o600), []byte("p"))
			fd := a.ok(OpOpen, args(O_RDWR), []byte("p"))
			return request{OpRead, args(fd, 10), nil}
		}},
		{"write to a full FIFO", func(a *testTA) request {
			a.ok(OpMkfifo, args(0o600), []byte("p"))
			fd := a.ok(OpOpen, args(O_RDWR|O_NONBLOCK), []byte("p"))
			for a.call(OpWrite, args(fd), make([]byte, 4096)).Errno == 0 {
			}
			a.ok(OpFcntl, args(fd, F_SETFL, 0), nil)
			return request{OpWrite, args(fd), []byte("x")}
		}},
		{"accept", func(a *testTA) request {
			l := a.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil)
			a.ok(OpBind, args(l), inetAddr(a.t, "127.0.0.1:0"))
			a.ok(OpListen, args(l, 1), nil)
			return request{OpAccept, args(l), nil}
		}},
		{"recvfrom", func(a *testTA) request {
			u := a.ok(OpSocket, args(AF_INET6, SOCK_DGRAM), nil)
			return request{OpRecvfrom, args(u, 100, MSG_WAITALL), nil}
		}},
		{"poll forever on nothing", func(a *testTA) request {
			return request{OpPoll, args(0, -1), nil}
		}},
		{"poll forever on a FIFO", func(a *testTA) request {
			a.ok(OpMkfifo, args(0o600), []byte("p"))
			fd := a.ok(OpOpen, args(O_RDWR), []byte("p"))
			return request{OpPoll, args(1, -1), AppendPollFd(nil, PollFd{Fd: int32(fd), Events: POLLIN})}
		}},
		{"open a FIFO for reading without a writer", func(a *testTA) request {
			a.ok(OpMkfifo, args(0o600), []byte("p"))
			return request{OpOpen, args(O_RDONLY), []byte("p")}
		}},
		{"open a FIFO for writing without a reader", func(a *testTA) request {
			a.ok(OpMkfifo, args(0o600), []byte("p"))
			return request{OpOpen, args(O_WRONLY), []byte("p")}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newTA(t, options{})
			req := c.setup(a)
			open := a.s.Stats().OpenDescriptors
			fds := countFDs(t)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			var resp Response
			var err error
			go func() {
				defer close(done)
				resp, err = a.try(ctx, req.op, req.arg, req.payload)
			}()
			// Give the call time to block; returning before cancellation
			// would be a bug, not a race.
			time.Sleep(50 * time.Millisecond)
			select {
			case <-done:
				t.Fatalf("returned before cancellation: %+v, %v", resp, err)
			default:
			}
			cancel()
			await(t, done, c.name)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Errno != EINTR {
				t.Errorf("errno %v, want EINTR", resp.Errno)
			}
			if n := a.s.Stats().OpenDescriptors; n != open {
				t.Errorf("%d descriptors open, %d before", n, open)
			}
			if n := countFDs(t); n != fds {
				t.Errorf("%d host descriptors open, %d before", n, fds)
			}
			// The wake-up is spent: a new call with a live context waits
			// its full timeout instead of failing EINTR.
			a.t = t
			if n := a.ok(OpPoll, args(0, 20), nil); n != 0 {
				t.Errorf("poll after cancellation: %d", n)
			}
		})
	}
}

func TestCancelledBeforeCall(t *testing.T) {
	a := newTA(t, options{})
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	fd := a.ok(OpOpen, args(O_RDWR), []byte("p"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := a.try(ctx, OpRead, args(fd, 1), nil)
	if err != nil || r.Errno != EINTR {
		t.Errorf("blocking read with a done context: %v, %v", r.Errno, err)
	}
	// Calls that do not block are unaffected.
	r, err = a.try(ctx, OpFcntl, args(fd, F_GETFL), nil)
	if err != nil || r.Errno != 0 {
		t.Errorf("fcntl with a done context: %v, %v", r.Errno, err)
	}
	r, err = a.try(ctx, OpPoll, args(0, 0), nil)
	if err != nil || r.Errno != 0 {
		t.Errorf("poll(0) with a done context: %v, %v", r.Errno, err)
	}
}
