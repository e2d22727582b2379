// Package simtee is the teeclient backend for tzbridge's simulated secure
// world (securesim): requests travel as simwire messages on a UNIX
// SOCK_SEQPACKET socket, and shared memory is a sealed memfd mapped by both
// processes, so memrefs are never copied.
package simtee

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/internal/simwire"
	"github.com/tzmediator/tzbridge/teeclient"
)

// Backend is a connection to the simulated secure world. It implements
// teeclient.Backend.
type Backend struct {
	c *net.UnixConn

	wmu sync.Mutex // one request at a time on the socket

	mu      sync.Mutex
	nextTag uint32
	pending map[uint32]chan simwire.Msg
	err     error // set once the connection is lost
	done    chan struct{}

	// Doorbells for the invoke fast path (doorbell.go): idle ones, and
	// all of them, to be woken when the connection is lost.
	bellMu  sync.Mutex
	idle    []*bell
	bells   []*bell
	noBells bool // the secure world refused one: use the socket
	lost    atomic.Bool
}

var _ teeclient.Backend = (*Backend)(nil)

// Dial connects to the secure world listening at path.
func Dial(ctx context.Context, path string) (*Backend, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unixpacket", path)
	if err != nil {
		return nil, fmt.Errorf("simtee: connect to the simulated secure world at %s: %w", path, err)
	}
	b := &Backend{c: c.(*net.UnixConn), pending: map[uint32]chan simwire.Msg{}, done: make(chan struct{})}
	go b.readLoop()
	return b, nil
}

func (b *Backend) readLoop() {
	buf := make([]byte, simwire.MaxSize+1)
	var err error
	for {
		var n int
		n, err = b.c.Read(buf)
		if err != nil {
			break
		}
		if n == 0 {
			err = errors.New("secure world closed the connection")
			break
		}
		var m simwire.Msg
		if m, err = simwire.Unmarshal(buf[:n]); err != nil {
			break
		}
		if m.Kind&simwire.ReplyBit == 0 {
			err = fmt.Errorf("secure world sent a request (%v)", m.Kind)
			break
		}
		b.mu.Lock()
		ch := b.pending[m.Tag]
		delete(b.pending, m.Tag)
		b.mu.Unlock()
		if ch == nil {
			err = fmt.Errorf("secure world answered unknown request %d", m.Tag)
			break
		}
		ch <- m
	}
	b.mu.Lock()
	b.err = fmt.Errorf("simtee: connection to the secure world lost: %w", err)
	if !errors.Is(err, net.ErrClosed) {
		// Not closed by this side: the secure world is gone, and every
		// session with it. As after a TA panic, each call from now on
		// is TEEC_ERROR_TARGET_DEAD. Op is set so that callers sharing
		// this error never write to it.
		b.err = &teeclient.Error{Op: "secure world", Code: teeclient.ErrorTargetDead, Origin: teeclient.OriginComms, Err: b.err}
	}
	b.mu.Unlock()
	close(b.done)
	b.c.Close()
	b.wakeBells()
}

// roundTrip sends m (with fds, if any) and waits for its reply. When
// ctx is done before the reply comes, it asks the secure world to cancel m
// (by its cancel id) and goes on waiting: the cancellation is sent after m,
// on the same ordered socket, so it cannot overtake it.
func (b *Backend) roundTrip(ctx context.Context, m *simwire.Msg, fds ...int) (simwire.Msg, error) {
	ch := make(chan simwire.Msg, 1)
	b.mu.Lock()
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return simwire.Msg{}, err
	}
	b.nextTag++
	m.Tag = b.nextTag
	b.pending[m.Tag] = ch
	b.mu.Unlock()

	var buf [simwire.MaxSize]byte
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	b.wmu.Lock()
	_, _, err := b.c.WriteMsgUnix(m.Append(buf[:0]), oob, nil)
	b.wmu.Unlock()
	if err != nil {
		b.mu.Lock()
		delete(b.pending, m.Tag)
		b.mu.Unlock()
		return simwire.Msg{}, fmt.Errorf("simtee: send %v: %w", m.Kind, err)
	}
	cancel := ctx.Done()
	if m.CancelID == 0 {
		cancel = nil // nothing to name the request by
	}
	for {
		select {
		case r := <-ch:
			if r.Kind != m.Kind|simwire.ReplyBit {
				return r, fmt.Errorf("simtee: %v answered with %v", m.Kind, r.Kind)
			}
			if r.Status != 0 {
				return r, refused(m.Kind.String(), unix.Errno(r.Status))
			}
			return r, nil
		case <-cancel:
			cancel = nil
			// Best effort, like TEE_IOC_CANCEL: the reply to m still comes.
			_ = b.Cancel(m.Session, m.CancelID)
		case <-b.done:
			b.mu.Lock()
			err := b.err
			b.mu.Unlock()
			return simwire.Msg{}, err
		}
	}
}

// refused is the simulator's refusal of a request with errno, as the
// device's driver refuses an ioctl: origin COMMS, the result from
// teeclient.ResultForErrno, the errno kept for errors.Is.
func refused(what string, errno unix.Errno) error {
	return &teeclient.Error{
		Code:   teeclient.ResultForErrno(errno),
		Origin: teeclient.OriginComms,
		Err:    fmt.Errorf("simtee: %s refused: %w", what, errno),
	}
}

// Version reports the simulator: GP, with null memrefs; caller memory
// cannot be registered in place across processes.
func (b *Backend) Version() teeclient.Version {
	return teeclient.Version{ImplID: teeclient.ImplSimulator, GenCaps: teeclient.CapGP | teeclient.CapMemrefNull}
}

// OpenSession implements teeclient.Backend.
func (b *Backend) OpenSession(ctx context.Context, a *teeclient.OpenArgs) error {
	m := simwire.Msg{Kind: simwire.KindOpen, UUID: a.UUID, Login: a.Login, ClientUUID: a.ClientUUID, CancelID: a.CancelID, Params: a.Params}
	r, err := b.roundTrip(ctx, &m)
	if err != nil {
		return err
	}
	a.Session, a.Ret, a.Origin, a.Params = r.Session, r.Ret, r.Origin, r.Params
	return nil
}

// Invoke implements teeclient.Backend. It takes the doorbell fast path
// when one is free, and the socket otherwise.
func (b *Backend) Invoke(ctx context.Context, a *teeclient.InvokeArgs) error {
	if d := b.getBell(); d != nil {
		err := b.invokeBell(ctx, d, a)
		b.putBell(d)
		return err
	}
	m := simwire.Msg{Kind: simwire.KindInvoke, Session: a.Session, Func: a.Func, CancelID: a.CancelID, Params: a.Params}
	r, err := b.roundTrip(ctx, &m)
	if err != nil {
		return err
	}
	a.Ret, a.Origin, a.Params = r.Ret, r.Origin, r.Params
	return nil
}

// Cancel implements teeclient.Backend.
func (b *Backend) Cancel(session, cancelID uint32) error {
	_, err := b.roundTrip(context.Background(), &simwire.Msg{Kind: simwire.KindCancel, Session: session, CancelID: cancelID})
	return err
}

// CloseSession implements teeclient.Backend.
func (b *Backend) CloseSession(session uint32) error {
	_, err := b.roundTrip(context.Background(), &simwire.Msg{Kind: simwire.KindClose, Session: session})
	return err
}

// RegisterSharedMemory implements teeclient.Backend: caller memory cannot
// be shared with another process in place.
func (b *Backend) RegisterSharedMemory([]byte) (teeclient.SharedMem, error) {
	return nil, teeclient.ErrRegisterUnsupported
}

// AllocSharedMemory implements teeclient.Backend with a sealed memfd: the
// seals let the secure world map it without fearing that it shrinks.
func (b *Backend) AllocSharedMemory(size int) (teeclient.SharedMem, error) {
	if size < 0 {
		return nil, fmt.Errorf("simtee: negative shared memory size %d", size)
	}
	fd, err := unix.MemfdCreate("tzbridge-shm", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("simtee: memfd_create: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return nil, fmt.Errorf("simtee: size shared memory: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		return nil, fmt.Errorf("simtee: seal shared memory: %w", err)
	}
	var mem []byte
	if size > 0 {
		if mem, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
			return nil, fmt.Errorf("simtee: map shared memory: %w", err)
		}
	}
	r, err := b.roundTrip(context.Background(), &simwire.Msg{Kind: simwire.KindShmAdd, Size: uint64(size)}, fd)
	if err != nil {
		if mem != nil {
			unix.Munmap(mem)
		}
		if errors.Is(err, unix.ENOMEM) {
			// The secure world's limit for this client, which GP
			// reports as libteec does a driver's ENOMEM.
			return nil, &teeclient.Error{Code: teeclient.ErrorOutOfMemory, Origin: teeclient.OriginComms, Err: err}
		}
		return nil, err
	}
	return &sharedMem{b: b, id: r.ShmID, mem: mem}, nil
}

type sharedMem struct {
	b   *Backend
	id  uint64
	mem []byte
}

func (m *sharedMem) ID() uint64    { return m.id }
func (m *sharedMem) Bytes() []byte { return m.mem }

func (m *sharedMem) Release() error {
	_, err := m.b.roundTrip(context.Background(), &simwire.Msg{Kind: simwire.KindShmRemove, ShmID: m.id})
	if m.mem != nil {
		if uerr := unix.Munmap(m.mem); uerr != nil && err == nil {
			err = fmt.Errorf("simtee: unmap shared memory: %w", uerr)
		}
		m.mem = nil
	}
	return err
}

// Close implements teeclient.Backend: the secure world closes every session
// and frees every shared block of this connection.
func (b *Backend) Close() error {
	// Before the socket goes: a doorbell reply that races with the close
	// must not be taken.
	b.lost.Store(true)
	err := b.c.Close()
	<-b.done
	b.closeBells()
	return err
}
