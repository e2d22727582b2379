//go:build linux

package linuxtee

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/tzmediator/tzbridge/teeclient"
)

// fakeTEE is a TEE driver behind the kernel interface: it answers the
// ioctls on their byte images, read and written at the offsets of
// <linux/tee.h> spelled out here (not the package's constants), so the
// Device is exercised end to end without /dev/tee0.
type fakeTEE struct {
	t *testing.T

	mu       sync.Mutex
	versions map[string]teeclient.Version // by device base name; default below
	openErr  map[string]error             // by device base name
	fail     map[uint32]syscall.Errno     // requests that fail
	opened   []string
	fdName   map[uintptr]string
	reqs     []uint32
	nextFD   int
	nextID   int32
	allocs   []uint64 // sizes asked of SHM_ALLOC
	regs     []fakeReg
	closed   []int
	unmapped int
	cancels  chan [2]uint32 // {session, cancel_id}
	closes   []uint32
	badID    bool // answer SHM_ALLOC/REGISTER with id -1

	// ta answers OPEN_SESSION and INVOKE by editing the buffer in place,
	// as the kernel would; nil leaves it (ret 0, session 0).
	ta func(req uint32, buf []byte)

	interrupts chan int // the thread ids interrupt was asked to signal
}

type fakeReg struct {
	addr, length uint64
	id           int32
	fd           int
}

var defaultVersion = teeclient.Version{
	ImplID: teeclient.ImplOPTEE, ImplCaps: 1,
	GenCaps: teeclient.CapGP | teeclient.CapRegMem | teeclient.CapMemrefNull,
}

func newFake(t *testing.T) *fakeTEE {
	return &fakeTEE{
		t:          t,
		versions:   map[string]teeclient.Version{},
		openErr:    map[string]error{},
		fail:       map[uint32]syscall.Errno{},
		fdName:     map[uintptr]string{},
		nextFD:     1000, // never handed to a real system call
		nextID:     1,
		cancels:    make(chan [2]uint32, 16),
		interrupts: make(chan int, 64),
	}
}

// device opens a Device on the fake.
func (f *fakeTEE) device(t *testing.T) *Device {
	t.Helper()
	d, err := openWith("/dev/tee0", f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func (f *fakeTEE) open(path string) (*os.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := filepath.Base(path)
	f.opened = append(f.opened, name)
	if err := f.openErr[name]; err != nil {
		return nil, err
	}
	file, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	f.fdName[file.Fd()] = name
	return file, nil
}

func (f *fakeTEE) requests() []uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint32(nil), f.reqs...)
}

func (f *fakeTEE) ioctl(fd uintptr, req uint32, arg []byte) (int, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	if errno := f.fail[req]; errno != 0 {
		f.mu.Unlock()
		return -1, errno
	}
	want := map[uint32]int{
		iocVersion: 12, iocShmAlloc: 16, iocOpenSession: 56 + 4*32, iocInvoke: 24 + 4*32,
		iocCancel: 8, iocCloseSession: 4, iocShmRegister: 24,
	}[req]
	if want == 0 || len(arg) != want {
		f.mu.Unlock()
		f.t.Errorf("fake: request %#x with %d bytes", req, len(arg))
		return -1, syscall.EINVAL
	}
	switch req {
	case iocVersion:
		v, ok := f.versions[f.fdName[fd]]
		if !ok {
			v = defaultVersion
		}
		ne.PutUint32(arg[0:], v.ImplID)
		ne.PutUint32(arg[4:], v.ImplCaps)
		ne.PutUint32(arg[8:], uint32(v.GenCaps))
	case iocShmAlloc:
		if ne.Uint32(arg[8:]) != 0 {
			f.mu.Unlock()
			return -1, syscall.EINVAL
		}
		size := ne.Uint64(arg[0:])
		f.allocs = append(f.allocs, size)
		ne.PutUint64(arg[0:], (size+4095)&^4095) // the kernel rounds to pages
		ne.PutUint32(arg[12:], uint32(f.newID()))
		fd := f.newFD()
		f.mu.Unlock()
		return fd, nil
	case iocShmRegister:
		if ne.Uint32(arg[16:]) != 0 {
			f.mu.Unlock()
			return -1, syscall.EINVAL
		}
		r := fakeReg{addr: ne.Uint64(arg[0:]), length: ne.Uint64(arg[8:]), id: f.newID(), fd: f.newFD()}
		f.regs = append(f.regs, r)
		ne.PutUint32(arg[20:], uint32(r.id))
		f.mu.Unlock()
		return r.fd, nil
	case iocCancel:
		f.cancels <- [2]uint32{ne.Uint32(arg[4:]), ne.Uint32(arg[0:])}
	case iocCloseSession:
		f.closes = append(f.closes, ne.Uint32(arg[0:]))
	case iocOpenSession, iocInvoke:
		if n := ne.Uint32(arg[map[uint32]int{iocOpenSession: 52, iocInvoke: 20}[req]:]); n != 4 {
			f.t.Errorf("fake: num_params %d", n)
		}
		ta := f.ta
		f.mu.Unlock()
		if ta != nil {
			ta(req, arg) // may block, as a TA does: without the lock
		}
		return 0, nil
	}
	f.mu.Unlock()
	return 0, nil
}

func (f *fakeTEE) interrupt(tid int) error {
	select {
	case f.interrupts <- tid:
	default: // enough recorded
	}
	return nil
}

func (f *fakeTEE) newID() int32 {
	if f.badID {
		return -1
	}
	id := f.nextID
	f.nextID++
	return id
}

func (f *fakeTEE) newFD() int {
	fd := f.nextFD
	f.nextFD++
	return fd
}

func (f *fakeTEE) mmap(fd, length int) ([]byte, error) {
	return make([]byte, length), nil
}

func (f *fakeTEE) munmap(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unmapped++
	return nil
}

func (f *fakeTEE) closeFD(fd int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.closed {
		if c == fd {
			f.t.Errorf("fake: descriptor %d closed twice", fd)
		}
	}
	f.closed = append(f.closed, fd)
	return nil
}

func (f *fakeTEE) closedFDs() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.closed...)
}
