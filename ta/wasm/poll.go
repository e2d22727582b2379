package wasm

import (
	"errors"
	"math"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/tzmediator/tzbridge/ta/tzposix"
)

// poll_oneoff layouts (WASI preview 1).
const (
	subscriptionSize = 48
	eventSize        = 32

	eventtypeClock   = 0
	eventtypeFdRead  = 1
	eventtypeFdWrite = 2

	subclockAbstime   = 0x1
	eventrwflagHangup = 0x1

	// maxSubscriptions bounds one poll_oneoff call. Go's runtime has at
	// most 65535 subscriptions.
	maxSubscriptions = 1 << 16
	// pollChunk is the most descriptors put in one tzposix Poll: the
	// entries must fit the smallest mailbox the protocol allows.
	pollChunk = 512
	// chunkWait is how long one chunk is waited on when there are more
	// descriptors than one Poll carries.
	chunkWait = 10 * time.Millisecond
)

// subscription is a decoded WASI subscription.
type subscription struct {
	userdata uint64
	tag      uint8
	// clock
	clockID uint32
	timeout uint64
	flags   uint16
	// fd_read, fd_write
	fd uint32

	deadline time.Time // for clocks, once computed
}

// event is one WASI event to report.
type event struct {
	userdata uint64
	errno    errno
	typ      uint8
	hangup   bool
}

// decodeSubscriptions parses subscriptions from b (a private copy: the
// events may be written over the same memory). An unknown tag fails the
// whole call with EINVAL, as the spec's tagged union allows nothing else.
func decodeSubscriptions(b []byte, into []subscription) ([]subscription, errno) {
	out := into[:0]
	for len(b) >= subscriptionSize {
		s := subscription{userdata: le64(b), tag: b[8]}
		switch s.tag {
		case eventtypeClock:
			s.clockID = le32(b[16:])
			s.timeout = le64(b[24:])
			s.flags = le16(b[40:])
		case eventtypeFdRead, eventtypeFdWrite:
			s.fd = le32(b[16:])
		default:
			return nil, errnoInval
		}
		out = append(out, s)
		b = b[subscriptionSize:]
	}
	return out, errnoSuccess
}

func encodeEvents(b []byte, evs []event) {
	for i, e := range evs {
		o := b[i*eventSize : (i+1)*eventSize]
		clear(o)
		put64(o, e.userdata)
		put16(o[8:], uint16(e.errno))
		o[10] = e.typ
		if e.hangup {
			put16(o[24:], eventrwflagHangup)
		}
	}
}

// pollOneoff is poll_oneoff(in, out, nsubscriptions, result.nevents): it
// waits for the first of the guest's subscriptions to fire. Fd
// subscriptions become one tzposix Poll — the shadow waits on the real
// descriptors — with the earliest clock as its timeout; with no
// descriptors to wait on, the wait is local. Problems with one
// subscription are reported in its event, never as the call's errno, since
// Go's runtime treats a failing poll_oneoff as fatal.
func (st *instance) pollOneoff(mod api.Module, s []uint64) errno {
	in, out, n, nPtr := uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])
	if n == 0 || n > maxSubscriptions {
		return errnoInval
	}
	m := memOf(mod)
	src, ok := m.bytes(in, n*subscriptionSize)
	if !ok {
		return errnoFault
	}
	dst, ok := m.bytes(out, n*eventSize)
	if !ok || !m.writable(nPtr, 4) {
		return errnoFault
	}
	// Decode from a copy: in and out may overlap.
	raw := st.scratch(len(src))
	copy(raw, src)
	subs, er := decodeSubscriptions(raw, st.subs)
	if er != errnoSuccess {
		return er
	}
	st.subs = subs
	evs := st.wait(mod, subs)
	encodeEvents(dst, evs)
	m.put32(nPtr, uint32(len(evs)))
	return errnoSuccess
}

// wait is the logic of poll_oneoff over decoded subscriptions; it returns
// the events, at most one per subscription.
func (st *instance) wait(mod api.Module, subs []subscription) []event {
	now := time.Now()
	evs := st.evs[:0]
	fds := st.pollFDs[:0]
	idx := st.pollIdx[:0] // per subscription: its entry in fds, or -1
	if st.pollPos == nil {
		st.pollPos = make(map[int]int)
	}
	clear(st.pollPos)
	var deadline time.Time
	for i := range subs {
		s := &subs[i]
		j := -1
		switch s.tag {
		case eventtypeClock:
			d, er := st.clockDeadline(s, now)
			if er != errnoSuccess {
				evs = append(evs, event{userdata: s.userdata, errno: er, typ: s.tag})
				break
			}
			s.deadline = d
			if deadline.IsZero() || d.Before(deadline) {
				deadline = d
			}
		default:
			e, er := st.fds.get(s.fd)
			switch {
			case er != errnoSuccess:
				evs = append(evs, event{userdata: s.userdata, errno: errnoBadf, typ: s.tag})
			case e.host < 0:
				// stdin is at end of file, stdout and stderr always take
				// more, the root is a directory: all ready at once.
				evs = append(evs, event{userdata: s.userdata, typ: s.tag, hangup: e.kind == kindStdin})
			default:
				ev := int16(tzposix.POLLIN)
				if s.tag == eventtypeFdWrite {
					ev = tzposix.POLLOUT
				}
				// One entry per descriptor: Go subscribes to reads and
				// writes of a connection separately.
				k, seen := st.pollPos[e.host]
				if !seen {
					k = len(fds)
					st.pollPos[e.host] = k
					fds = append(fds, tzposix.PollFd{Fd: int32(e.host)})
				}
				j = k
				fds[j].Events |= ev
			}
		}
		idx = append(idx, j)
	}
	st.pollFDs, st.pollIdx = fds, idx

	// How long to wait: not at all if something is ready, else until the
	// earliest clock, else for ever.
	timeout := -1
	switch {
	case len(evs) > 0:
		timeout = 0
	case !deadline.IsZero():
		timeout = msUntil(deadline, now)
	}
	if len(fds) == 0 {
		if len(evs) == 0 {
			st.sleep(mod, deadline)
		}
	} else if err := st.pollHost(fds, timeout); err != nil {
		if errors.Is(err, syscall.EINTR) {
			return evs // the guest polls again
		}
		er := st.result(mod, err)
		for k, s := range subs {
			if idx[k] >= 0 {
				evs = append(evs, event{userdata: s.userdata, errno: er, typ: s.tag})
			}
		}
		return evs
	} else {
		for k, s := range subs {
			if idx[k] < 0 {
				continue
			}
			rev := fds[idx[k]].Revents
			want := int16(tzposix.POLLIN | tzposix.POLLPRI)
			if s.tag == eventtypeFdWrite {
				want = tzposix.POLLOUT
			}
			// Errors and hang-ups wake both directions: the next read
			// or write reports what happened.
			if rev&(want|tzposix.POLLERR|tzposix.POLLHUP|tzposix.POLLNVAL) == 0 {
				continue
			}
			ev := event{userdata: s.userdata, typ: s.tag, hangup: rev&tzposix.POLLHUP != 0}
			if rev&tzposix.POLLNVAL != 0 {
				ev.errno = errnoBadf
			}
			evs = append(evs, ev)
		}
	}
	if !deadline.IsZero() {
		now = time.Now()
		for _, s := range subs {
			if s.tag == eventtypeClock && !s.deadline.IsZero() && !now.Before(s.deadline) {
				evs = append(evs, event{userdata: s.userdata, typ: eventtypeClock})
			}
		}
	}
	st.evs = evs
	return evs
}

// clockDeadline is when a clock subscription fires.
func (st *instance) clockDeadline(s *subscription, now time.Time) (time.Time, errno) {
	d := durationNs(s.timeout)
	abs := s.flags&subclockAbstime != 0
	switch s.clockID {
	case clockRealtime:
		if abs {
			return time.Unix(0, int64(d)), errnoSuccess
		}
	case clockMonotonic:
		if abs {
			return st.monoBase.Add(d), errnoSuccess
		}
	default:
		return time.Time{}, errnoInval
	}
	return now.Add(d), errnoSuccess
}

// msUntil is a poll timeout reaching t: rounded up, so that the wait does
// not end just short of it and spin.
func msUntil(t, now time.Time) int {
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(ms)
}

// sleepUntil waits for t (for ever if zero) or the end of the session.
func (st *instance) sleepUntil(mod api.Module, t time.Time) {
	if t.IsZero() {
		<-st.ctx.Done()
		st.terminate(mod)
	}
	d := time.Until(t)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-st.ctx.Done():
		st.terminate(mod)
	}
}

// pollHost polls descriptors in the shadow. More than pollChunk of them
// take several Polls: all chunks are checked at once, and if none is
// ready, one chunk at a time is waited on briefly, in turn.
func (st *instance) pollHost(fds []tzposix.PollFd, timeout int) error {
	if len(fds) <= pollChunk {
		_, err := st.p.Poll(fds, timeout)
		return err
	}
	var end time.Time
	if timeout >= 0 {
		end = time.Now().Add(time.Duration(timeout) * time.Millisecond)
	}
	for round := 0; ; round++ {
		ready := false
		for c := 0; c < len(fds); c += pollChunk {
			n, err := st.p.Poll(fds[c:min(c+pollChunk, len(fds))], 0)
			if err != nil {
				return err
			}
			ready = ready || n > 0
		}
		if ready || timeout == 0 {
			return nil
		}
		wait := chunkWait
		if !end.IsZero() {
			left := time.Until(end)
			if left <= 0 {
				return nil
			}
			wait = min(wait, left)
		}
		nchunks := (len(fds) + pollChunk - 1) / pollChunk
		c := (round % nchunks) * pollChunk
		n, err := st.p.Poll(fds[c:min(c+pollChunk, len(fds))], int((wait+time.Millisecond-1)/time.Millisecond))
		if err != nil || n > 0 {
			return err
		}
	}
}
