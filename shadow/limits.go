package shadow

import (
	"time"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// limitLogInterval is how often at most a TA's runs into its limits are
// logged: a TA retrying in a loop must not flood the log.
const limitLogInterval = time.Second

// admit checks that the TA may open one more descriptor (a socket if
// socket): at a configured limit it gets EMFILE, as a process does at
// RLIMIT_NOFILE, and the log says which limit it was.
func (s *Shadow) admit(socket bool) tzrpc.Errno {
	limit := s.fds.exceeded(socket)
	if limit == "" {
		return 0
	}
	now := time.Now().UnixNano()
	last := s.lastLimitLog.Load()
	if now-last >= int64(limitLogInterval) && s.lastLimitLog.CompareAndSwap(last, now) {
		max := s.fds.max
		if limit == limitSockets {
			max = s.fds.maxSockets
		}
		s.log.Warn("TA reached its limit; the call fails with EMFILE", "limit", limit, "max", max, "open_descriptors", s.fds.count())
	}
	return tzrpc.EMFILE
}
