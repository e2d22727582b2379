package shadow

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// pollEvents pairs tzrpc's poll bits with the host's.
var pollEvents = [...]struct {
	ta   uint16
	host int16
}{
	{tzrpc.POLLIN, unix.POLLIN},
	{tzrpc.POLLPRI, unix.POLLPRI},
	{tzrpc.POLLOUT, unix.POLLOUT},
	{tzrpc.POLLERR, unix.POLLERR},
	{tzrpc.POLLHUP, unix.POLLHUP},
	{tzrpc.POLLNVAL, unix.POLLNVAL},
}

func hostEvents(ev uint16) int16 {
	var h int16
	for _, p := range pollEvents {
		if ev&p.ta != 0 {
			h |= p.host
		}
	}
	return h
}

func taEvents(h int16) uint16 {
	var ev uint16
	for _, p := range pollEvents {
		if h&p.host != 0 {
			ev |= p.ta
		}
	}
	return ev
}

// Markers in pollIdx for entries that are not polled.
const (
	pollIgnored = -1 // negative fd: poll(2) ignores the entry
	pollInvalid = -2 // unknown descriptor: POLLNVAL
)

// poll serves POLL. in holds the (validated, private) entries; the result
// entries, with revents, go to out.
func (s *Shadow) poll(ctx context.Context, nfds, timeout int, in, out []byte) result {
	pfds, idx := s.pollFds[:0], s.pollIdx[:0]
	for i := range nfds {
		p := tzrpc.GetPollFd(in, i)
		slot := int32(pollIgnored)
		if p.Fd >= 0 {
			if d, e := s.fds.get(int64(p.Fd)); e == 0 {
				slot = int32(len(pfds))
				pfds = append(pfds, unix.PollFd{Fd: int32(d.fd), Events: hostEvents(p.Events)})
			} else {
				slot = pollInvalid
				timeout = 0 // POSIX: POLLNVAL is reported at once
			}
		}
		idx = append(idx, slot)
	}
	if timeout == 0 {
		for {
			_, err := unix.Poll(pfds, 0)
			if err == nil {
				break
			}
			if err != unix.EINTR {
				return fail(errno(err))
			}
		}
	} else {
		// block puts its wake-up descriptor in the extra entry.
		pfds = append(pfds, unix.PollFd{})
		_, e := s.block(ctx, pfds, timeout)
		pfds = pfds[:len(pfds)-1]
		if e != 0 {
			return fail(e)
		}
	}
	count := 0
	for i := range nfds {
		p := tzrpc.GetPollFd(in, i)
		switch slot := idx[i]; {
		case slot == pollInvalid:
			p.Revents = tzrpc.POLLNVAL
		case slot >= 0:
			// Only what was asked, plus what poll(2) always reports.
			p.Revents = taEvents(pfds[slot].Revents) & (p.Events | tzrpc.POLLERR | tzrpc.POLLHUP | tzrpc.POLLNVAL)
		}
		if p.Revents != 0 {
			count++
		}
		tzrpc.PutPollFd(out, i, p)
	}
	s.pollFds, s.pollIdx = pfds[:0], idx[:0]
	return result{ret: int64(count), plen: nfds * tzrpc.PollFdSize}
}
