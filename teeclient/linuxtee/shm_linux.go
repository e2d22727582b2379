//go:build linux

package linuxtee

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/tzmediator/tzbridge/teeclient"
)

// errBadReply marks an answer from the kernel that breaks its own ABI.
var errBadReply = errors.New("unexpected answer from the TEE driver")

// enotsupp is the kernel-internal ENOTSUPP (524) that the TEE core returns
// when the driver cannot register memory; it has no libc name.
const enotsupp = syscall.Errno(524)

// AllocSharedMemory allocates size bytes that the TEE and this process
// share (TEE_IOC_SHM_ALLOC), mapped MAP_SHARED. The memory belongs to the
// kernel, so the Go runtime neither moves nor frees it; Release unmaps it
// and closes its descriptor, after which Bytes must not be used.
func (d *Device) AllocSharedMemory(size int) (teeclient.SharedMem, error) {
	if size < 0 {
		return nil, badParam("shared memory of %d bytes", size)
	}
	n := size
	if n == 0 {
		// GP allows an empty block that memrefs can still name; the
		// kernel and mmap want bytes. libteec reserves 8 as well.
		n = 8
	}
	arg := encodeShmAlloc(uint64(n))
	fd, err := d.call(iocShmAlloc, arg)
	if err != nil {
		return nil, err
	}
	got, id := decodeShmAlloc(arg)
	if id < 0 || got < uint64(n) {
		_ = d.k.closeFD(fd)
		return nil, commsError(errBadReply, "TEE_IOC_SHM_ALLOC of %d bytes on %s: id %d, size %d", n, d.path, id, got)
	}
	b, err := d.k.mmap(fd, n)
	if err != nil {
		_ = d.k.closeFD(fd)
		return nil, commsError(err, "map %d bytes of TEE shared memory from %s", n, d.path)
	}
	return &allocatedMem{k: d.k, id: uint64(id), fd: fd, mapping: b, size: size}, nil
}

type allocatedMem struct {
	k        kernel
	id       uint64
	fd       int
	mapping  []byte
	size     int
	released atomic.Bool
}

func (m *allocatedMem) ID() uint64 { return m.id }

func (m *allocatedMem) Bytes() []byte {
	if m.released.Load() {
		return nil
	}
	return m.mapping[:m.size:m.size]
}

// Release unmaps the memory and closes its descriptor; the kernel frees
// the block when the TEE no longer references it. Only the first call
// acts, so a descriptor number is never closed twice.
func (m *allocatedMem) Release() error {
	if m.released.Swap(true) {
		return nil
	}
	err := errors.Join(m.k.munmap(m.mapping), m.k.closeFD(m.fd))
	if err != nil {
		return fmt.Errorf("linuxtee: release shared memory %d: %w", m.id, err)
	}
	return nil
}

// RegisterSharedMemory shares buf with the TEE in place
// (TEE_IOC_SHM_REGISTER). It registers exactly buf — the kernel rounds to
// whole pages itself and keeps buf's offset in the first page — so ID
// names buf from its first byte, memref offsets are offsets into buf, and
// Bytes returns buf. buf is pinned until Release.
//
// It returns an error wrapping teeclient.ErrRegisterUnsupported when the
// TEE lacks TEE_GEN_CAP_REG_MEM, when the driver refuses registration as
// unsupported, or when buf is empty (the kernel registers no empty range),
// so that the core falls back to allocated memory and copies.
func (d *Device) RegisterSharedMemory(buf []byte) (teeclient.SharedMem, error) {
	if d.version.GenCaps&teeclient.CapRegMem == 0 {
		return nil, fmt.Errorf("linuxtee: %s has gen caps %s, without REG_MEM: %w",
			d.path, FormatGenCaps(d.version.GenCaps), teeclient.ErrRegisterUnsupported)
	}
	if len(buf) == 0 {
		return nil, fmt.Errorf("linuxtee: empty buffer: %w", teeclient.ErrRegisterUnsupported)
	}
	reg := &registration{k: d.k, buf: buf}
	// Pin before the kernel takes the address: from then on the pages
	// are the TEE's view of buf and buf must stay where it is.
	reg.pin.Pin(&buf[0])
	arg := encodeShmRegister(uint64(uintptr(unsafe.Pointer(&buf[0]))), uint64(len(buf)))
	fd, err := d.ioctl(iocShmRegister, arg)
	if err != nil {
		reg.pin.Unpin()
		if errors.Is(err, enotsupp) || errors.Is(err, syscall.EOPNOTSUPP) {
			return nil, fmt.Errorf("linuxtee: TEE_IOC_SHM_REGISTER on %s: %w (%w)", d.path, teeclient.ErrRegisterUnsupported, err)
		}
		return nil, commsError(err, "TEE_IOC_SHM_REGISTER of %d bytes on %s", len(buf), d.path)
	}
	reg.fd = fd
	id := decodeShmRegister(arg)
	if id < 0 {
		_ = reg.release()
		return nil, commsError(errBadReply, "TEE_IOC_SHM_REGISTER on %s: id %d", d.path, id)
	}
	m := &registeredMem{id: uint64(id), reg: reg}
	// A block dropped without Release would leave the registration, and
	// with it the TEE's access to memory the GC may reuse: unregister it
	// when the block becomes unreachable.
	m.cleanup = runtime.AddCleanup(m, func(r *registration) { _ = r.release() }, reg)
	return m, nil
}

// registration is what must outlive a leaked registeredMem until its
// cleanup runs; it must not point back at the registeredMem.
type registration struct {
	k   kernel
	fd  int
	buf []byte
	pin runtime.Pinner
}

// release closes the descriptor, which unregisters the memory, and only
// then unpins it.
func (r *registration) release() error {
	err := r.k.closeFD(r.fd)
	r.pin.Unpin()
	if err != nil {
		return fmt.Errorf("linuxtee: unregister shared memory: %w", err)
	}
	return nil
}

type registeredMem struct {
	id       uint64
	reg      *registration
	cleanup  runtime.Cleanup
	released atomic.Bool
}

func (m *registeredMem) ID() uint64 { return m.id }

// Bytes is the caller's buffer itself.
func (m *registeredMem) Bytes() []byte { return m.reg.buf }

// Release unregisters the memory; only the first call acts.
func (m *registeredMem) Release() error {
	if m.released.Swap(true) {
		return nil
	}
	m.cleanup.Stop()
	if err := m.reg.release(); err != nil {
		return fmt.Errorf("linuxtee: release shared memory %d: %w", m.id, err)
	}
	return nil
}
