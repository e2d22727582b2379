package wasm

import (
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// blockedAfter is how long a host call may block before the log says so.
// A WASI preview 1 module has one thread: while a host call blocks, so
// does every goroutine of a Go guest, which is easy to miss.
const blockedAfter = 2 * time.Second

// watchdog says once, in the log, that a guest is blocked in a host call:
// which call, on which descriptor or path, and what to do instead. Only
// calls that can block for long are watched — on a blocking descriptor,
// or a path_open without NONBLOCK — so the nonblocking sockets Go's poller
// uses cost nothing. One timer, armed per watched call, never allocated
// again.
type watchdog struct {
	log   *slog.Logger
	after time.Duration

	mu    sync.Mutex
	timer *time.Timer
	busy  bool
	call  string
	fd    int // the guest's descriptor, -1 for a path
	path  string
	since time.Time
	said  map[string]bool // call and target already reported
}

func newWatchdog(log *slog.Logger) *watchdog {
	return &watchdog{log: log, after: blockedAfter}
}

// enter marks the start of a call that may block: call is the WASI
// function, fd the guest's descriptor (-1 if none), path what it names or
// was opened as ("" if unknown). exit must follow.
func (w *watchdog) enter(call string, fd int, path string) {
	w.mu.Lock()
	w.busy, w.call, w.fd, w.path, w.since = true, call, fd, path, time.Now()
	if w.timer == nil {
		w.timer = time.AfterFunc(w.after, func() { w.fire() })
	} else {
		w.timer.Reset(w.after)
	}
	w.mu.Unlock()
}

func (w *watchdog) exit() {
	w.mu.Lock()
	w.busy = false
	w.timer.Stop()
	w.mu.Unlock()
}

// fire runs when a watched call has lasted w.after. A timer that fired as
// the call ended finds busy false, one that fired for an earlier call as a
// later one began finds the later one too young.
func (w *watchdog) fire() {
	w.mu.Lock()
	if !w.busy || time.Since(w.since) < w.after {
		w.mu.Unlock()
		return
	}
	target := w.path
	if w.fd >= 0 {
		target = "fd " + strconv.Itoa(w.fd)
		if w.path != "" {
			target += " (" + w.path + ")"
		}
	}
	key := w.call + " " + target
	if w.said[key] {
		w.mu.Unlock()
		return
	}
	if w.said == nil {
		w.said = map[string]bool{}
	}
	w.said[key] = true
	call := w.call
	w.mu.Unlock()
	w.log.Warn("wasm TA blocked in a host call: every goroutine of the module waits with it",
		"call", call, "target", target, "for", w.after,
		"remedy", remedy(call))
}

func remedy(call string) string {
	switch call {
	case "path_open":
		return "a FIFO's open waits for its peer: open it O_RDWR (it never waits on Linux), or with guest.OpenFile(name, flag|guest.O_NONBLOCK, perm) and wait in Go's poller"
	case "sock_accept":
		return "accept on a nonblocking listener (the preopened ones are; net.FileListener waits in Go's poller)"
	default:
		return "use a nonblocking descriptor (guest.OpenFile with guest.O_NONBLOCK, or the sockets of ta/wasm/guest), so that Go's poller waits instead of the whole module"
	}
}
