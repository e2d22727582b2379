package control

import (
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/shadow"
)

// hostCallTimeout bounds a question to the supervisor for a host socket.
const hostCallTimeout = 5 * time.Second

// AskHost asks the supervisor for a host-namespace socket.
func AskHost(ctl *Conn, m *Msg) (int, error) {
	a, err := ctl.Call(m, hostCallTimeout)
	if err != nil {
		return -1, err
	}
	if a.Msg.Errno != 0 || len(a.FDs) != 1 {
		CloseFDs(a.FDs)
		if a.Msg.Errno != 0 {
			return -1, fmt.Errorf("%s: %w", a.Msg.Error, unix.Errno(a.Msg.Errno))
		}
		return -1, fmt.Errorf("supervisor answered %s with %d descriptors", m.Type, len(a.FDs))
	}
	return a.FDs[0], nil
}

// ServeShadow is the shadow's end: it answers the supervisor's questions
// and hands answers to the shadow's, until the control socket closes.
func ServeShadow(ctl *Conn, buf []byte, current *atomic.Pointer[shadow.Shadow]) {
	for {
		m, fds, err := ctl.Recv(buf)
		if err != nil {
			ctl.Close()
			return
		}
		switch {
		case m.Reply:
			ctl.Answered(m, fds)
		case m.Type == MsgStats:
			CloseFDs(fds)
			var st shadow.Stats
			if sh := current.Load(); sh != nil {
				st = sh.Stats()
			}
			_ = ctl.Send(&Msg{Type: MsgStats, Seq: m.Seq, Reply: true, Stats: &st})
		default:
			CloseFDs(fds)
		}
	}
}
