package supervisor

import (
	"net/netip"
	"sync"

	"github.com/tzmediator/tzbridge/internal/netaddr"
)

// listenWait follows a TA's listen addresses (a wasm TA's listen:, made
// by the host before the module starts, after its compilation) until the
// TA serves every one of them, so that "ready" can mean that a CA finds
// them. The shadow reports each address the TA serves (control.MsgListening).
type listenWait struct {
	mu      sync.Mutex
	missing map[string]bool // by listenKey
	done    chan struct{}   // closed when missing is empty, or given up
}

// newListenWait waits for listen, entries that netaddr.Parse accepts
// (the configuration was checked).
func newListenWait(listen []string) *listenWait {
	w := &listenWait{missing: map[string]bool{}, done: make(chan struct{})}
	for _, l := range listen {
		if a, err := netaddr.Parse(l); err == nil {
			w.missing[listenKey(a)] = true
		}
	}
	if len(w.missing) == 0 {
		close(w.done)
	}
	return w
}

// listenKey is an address in the form the shadow reports it
// (shadow.Config.OnListening).
func listenKey(a netaddr.Addr) string {
	if ap, err := netip.ParseAddrPort(a.Addr); err == nil {
		a.Addr = ap.String()
	}
	return a.String()
}

// serving notes that the TA serves addr.
func (w *listenWait) serving(addr string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.missing[addr] {
		return
	}
	delete(w.missing, addr)
	if len(w.missing) == 0 {
		close(w.done)
	}
}

// giveUp stops the wait: the TA's shadow ended (or never started), so
// the TA is as ready as it will be; its restart is not waited for.
func (w *listenWait) giveUp() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.missing) > 0 {
		clear(w.missing)
		close(w.done)
	}
}
