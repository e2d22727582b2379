package shadow

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// firstFD is the lowest descriptor handed to a TA: 0–2 are its standard
// streams, which the TA-side library owns.
const firstFD = 3

// desc is one TA descriptor. The host descriptor is always O_NONBLOCK; the
// TA's view of blocking is nonblock.
type desc struct {
	inUse    bool
	socket   bool // else a FIFO or a directory, which read and write serve alike
	fifo     bool
	nonblock bool
	append   bool  // O_APPEND as the TA set it; reported by F_GETFL only
	access   int64 // tzrpc O_RDONLY, O_WRONLY or O_RDWR
	fd       int

	// Sockets.
	domain    int64 // tzrpc AF_*
	sockType  int64 // tzrpc SOCK_*
	listening bool
	// The UNIX paths the TA bound and connected to, as it named them: the
	// kernel only knows their /proc/self/fd/N form.
	boundPath, peerPath string
	// boundAddr is where the socket was bound, as a listen entry of the
	// configuration names it (tcp://IP:PORT, udp://…, unix:/PATH); set
	// only for Config.OnListening.
	boundAddr string
	// host: the socket is in the host's network namespace, and kept holds
	// the options the shadow keeps from it (Config.HostNamespace), by
	// tzrpc option number: bit 0 SO_REUSEADDR, bit 1 SO_REUSEPORT.
	host bool
	kept uint8
}

// fdTable maps a TA's virtual descriptors to host ones. Only the dispatch
// goroutine touches slots; open is read by Stats from anywhere.
type fdTable struct {
	slots      []desc // slot i is TA descriptor firstFD+i
	max        int
	maxSockets int // 0: as many as max
	open       atomic.Int64
	sockets    atomic.Int64
}

func (t *fdTable) count() int { return int(t.open.Load()) }

// Limits a new descriptor may run into, as the log names them.
const (
	limitDescriptors = "descriptors"
	limitSockets     = "sockets"
)

// exceeded names the limit a new descriptor would exceed, or "". Callers
// check it before creating a host descriptor, so that at the limit nothing
// is consumed (a pending connection stays queued for a later ACCEPT).
func (t *fdTable) exceeded(socket bool) string {
	if t.count() >= t.max {
		return limitDescriptors
	}
	if socket && t.maxSockets > 0 && int(t.sockets.Load()) >= t.maxSockets {
		return limitSockets
	}
	return ""
}

// add installs d at the lowest free number and returns that number.
// The caller has checked full.
func (t *fdTable) add(d desc) int64 {
	d.inUse = true
	t.open.Add(1)
	if d.socket {
		t.sockets.Add(1)
	}
	for i := range t.slots {
		if !t.slots[i].inUse {
			t.slots[i] = d
			return int64(firstFD + i)
		}
	}
	t.slots = append(t.slots, d)
	return int64(firstFD + len(t.slots) - 1)
}

// get returns the descriptor numbered vfd, or EBADF. The pointer is valid
// until the next add or remove.
func (t *fdTable) get(vfd int64) (*desc, tzrpc.Errno) {
	i := vfd - firstFD
	if i < 0 || i >= int64(len(t.slots)) || !t.slots[i].inUse {
		return nil, tzrpc.EBADF
	}
	return &t.slots[i], 0
}

// remove frees vfd and returns its host descriptor for the caller to close.
func (t *fdTable) remove(vfd int64) (int, tzrpc.Errno) {
	d, e := t.get(vfd)
	if e != 0 {
		return -1, e
	}
	fd := d.fd
	if d.socket {
		t.sockets.Add(-1)
	}
	*d = desc{}
	t.open.Add(-1)
	// Trim free slots at the end so a burst of descriptors does not keep
	// the table long.
	for n := len(t.slots); n > 0 && !t.slots[n-1].inUse; n-- {
		t.slots = t.slots[:n-1]
	}
	return fd, 0
}

func (t *fdTable) closeAll() {
	for i := range t.slots {
		if t.slots[i].inUse {
			unix.Close(t.slots[i].fd)
		}
	}
	t.slots = nil
	t.open.Store(0)
	t.sockets.Store(0)
}
