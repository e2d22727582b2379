//go:build linux

package linuxtee

import (
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernel is everything a Device asks of the operating system. Each ioctl
// takes the byte image of its logical argument; for OPEN_SESSION and
// INVOKE that is the argument structure with its parameters, and the
// kernel implementation wraps it in the tee_ioctl_buf_data the driver
// wants. Tests put a fake TEE behind this interface.
type kernel interface {
	open(path string) (*os.File, error)
	ioctl(fd uintptr, req uint32, arg []byte) (int, error)
	mmap(fd, length int) ([]byte, error)
	munmap(b []byte) error
	closeFD(fd int) error
	// interrupt sends a signal to thread tid of this process, which is
	// blocked in an ioctl (see Device.OpenSession).
	interrupt(tid int) error
}

// sysKernel is the real one.
type sysKernel struct{}

func (sysKernel) open(path string) (*os.File, error) {
	// os.OpenFile adds O_CLOEXEC.
	return os.OpenFile(path, os.O_RDWR, 0)
}

func (sysKernel) ioctl(fd uintptr, req uint32, arg []byte) (int, error) {
	if len(arg) == 0 {
		return -1, unix.EINVAL
	}
	ptr := unsafe.Pointer(&arg[0])
	var pin runtime.Pinner
	defer pin.Unpin()
	if takesBufData(req) {
		// The kernel finds arg through an address stored as an integer in
		// the buf_data, where the garbage collector cannot see it: pin
		// arg so that it neither moves nor goes away during the call.
		pin.Pin(&arg[0])
		bd := make([]byte, bufDataSize)
		ne.PutUint64(bd[offBufPtr:], uint64(uintptr(ptr)))
		ne.PutUint64(bd[offBufLen:], uint64(len(arg)))
		ptr = unsafe.Pointer(&bd[0])
	}
	if returnsFD(req) {
		// The kernel makes shared-memory descriptors without O_CLOEXEC;
		// hold ForkLock until it is set, so that no child started by
		// os/exec in between inherits (and pins) the memory.
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
	}
	// Converting ptr in the call expression keeps its object live and in
	// place until the system call returns.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(ptr))
	if errno != 0 {
		return -1, errno
	}
	if returnsFD(req) {
		unix.CloseOnExec(int(r))
	}
	return int(r), nil
}

func (sysKernel) mmap(fd, length int) ([]byte, error) {
	return unix.Mmap(fd, 0, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

func (sysKernel) munmap(b []byte) error { return unix.Munmap(b) }

func (sysKernel) closeFD(fd int) error { return unix.Close(fd) }

// interrupt sends SIGURG: the Go runtime's own preemption signal, which it
// expects at any time and ignores when it did not ask for a preemption,
// and which no part of tzbridge asks to be notified of.
func (sysKernel) interrupt(tid int) error {
	return unix.Tgkill(unix.Getpid(), tid, unix.SIGURG)
}
