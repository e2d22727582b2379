package securesim

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// requiredSeals make a client's memfd safe to map: without them the normal
// world could shrink the file under the mapping and make the secure world
// fault (SIGBUS) on its next access.
const requiredSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL

// sharedMem is a client's memfd mapped into the secure world. It is unmapped
// only when the client has removed it and no call still references it.
type sharedMem struct {
	size    uint64 // as registered; counted against the client's limit
	mu      sync.Mutex
	mem     []byte
	refs    int
	removed bool
}

// mapSharedMem maps fd, which must be a sealed memfd of exactly size bytes.
// It takes ownership of fd.
func mapSharedMem(fd int, size uint64) (*sharedMem, error) {
	defer unix.Close(fd)
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, fmt.Errorf("shared memory is not a sealable memfd: %w", err)
	}
	if seals&requiredSeals != requiredSeals {
		return nil, fmt.Errorf("shared memory memfd lacks F_SEAL_SHRINK|F_SEAL_SEAL (seals 0x%x)", seals)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("stat shared memory: %w", err)
	}
	if st.Size < 0 || uint64(st.Size) != size {
		return nil, fmt.Errorf("shared memory is %d bytes, client said %d", st.Size, size)
	}
	if size == 0 {
		return &sharedMem{}, nil
	}
	if size > 1<<40 {
		return nil, fmt.Errorf("shared memory of %d bytes is too large", size)
	}
	mem, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map shared memory: %w", err)
	}
	return &sharedMem{mem: mem}, nil
}

// acquire takes a reference for a call; it fails once the memory is removed.
func (m *sharedMem) acquire() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.removed {
		return false
	}
	m.refs++
	return true
}

func (m *sharedMem) put() {
	m.mu.Lock()
	m.refs--
	m.unmapLocked()
	m.mu.Unlock()
}

func (m *sharedMem) remove() {
	m.mu.Lock()
	m.removed = true
	m.unmapLocked()
	m.mu.Unlock()
}

func (m *sharedMem) unmapLocked() {
	if m.removed && m.refs == 0 && m.mem != nil {
		_ = unix.Munmap(m.mem) // only fails for a bad address, which m.mem is not
		m.mem = nil
	}
}
