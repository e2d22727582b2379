package simwire

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A doorbell is the fast path for invokes: one page of shared memory (a
// sealed memfd, registered with KindDoorbell) that carries one invoke at a
// time between the client and the secure world, without the socket. The
// request and the reply are the same simwire messages as on the socket,
// written at DoorbellMsgOffset; the hand-off is a state word that both
// sides watch, spinning briefly and then sleeping on it as a futex (a
// shared one: the page is mapped in two processes).
//
// States move IDLE or DONE → POSTED (client: a request is there) → RUNNING
// (secure world: it took a private copy and registered the call's cancel
// id, so a KindCancel on the socket now finds it) → DONE (secure world:
// the reply is there). A side that sleeps sets its waiting word first, and
// the other side wakes it only then: the common case makes no syscall.
//
// The secure world trusts nothing in the page: it copies the request out
// before decoding it, and only ever acts on POSTED.
//
// The secure world may sleep on a ring instead of the futex: an eventfd
// registered with the doorbell, which the client writes where it would
// wake the futex. A Go program that sleeps on a ring (an *os.File, so the
// runtime's netpoller) gives its P back at once; sleeping in FUTEX_WAIT it
// would hold the P until the runtime's monitor takes it back (20 µs to
// 10 ms later). That matters to the simulator, which by default runs on
// one P, plus one per running wasm TA (secure-world --procs, config
// sim_threads): every other doorbell and session waits for it.
const (
	DoorbellSize      = 4096
	DoorbellMsgOffset = 64

	offState      = 0
	offClientWait = 4
	offServerWait = 8
	offClosed     = 12
)

// Doorbell states.
const (
	StateIdle    uint32 = 0
	StatePosted  uint32 = 1
	StateRunning uint32 = 2
	StateDone    uint32 = 3
)

// InvokeSize is the size of an invoke message, request or reply.
const InvokeSize = headerSize + 4*5 + 4 + paramsSize

// Doorbell is a view of a mapped doorbell page.
type Doorbell struct {
	mem []byte
	// ring, if not -1, is the eventfd the secure world sleeps on; both
	// sides write it to wake the secure world. The Doorbell does not own
	// it.
	ring int
	// sleeper is the secure world's *os.File for ring, read to sleep.
	sleeper *os.File
}

// NewDoorbell views mem, which must be at least DoorbellSize bytes of
// shared memory aligned to a page.
func NewDoorbell(mem []byte) *Doorbell {
	if len(mem) < DoorbellSize {
		panic("simwire: doorbell page too small")
	}
	return &Doorbell{mem: mem, ring: -1}
}

// UseRing makes the client wake the secure world by writing ring, an
// eventfd, rather than by FUTEX_WAKE. It is called before the doorbell is
// used.
func (d *Doorbell) UseRing(ring int) { d.ring = ring }

// SleepOnRing makes the secure world's side sleep by reading f, its end of
// the ring (nonblocking, so that the read parks the goroutine in the
// netpoller), rather than in FUTEX_WAIT. It is called before the doorbell
// is used; f stays the caller's to close, after the last Wait.
func (d *Doorbell) SleepOnRing(f *os.File) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("simwire: ring: %w", err)
	}
	ring := -1
	if err := raw.Control(func(fd uintptr) { ring = int(fd) }); err != nil {
		return fmt.Errorf("simwire: ring: %w", err)
	}
	d.ring, d.sleeper = ring, f
	return nil
}

// NewRing makes the eventfd for UseRing.
func NewRing() (int, error) {
	return unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
}

// ringServer wakes the secure world's side: on its ring if it has one,
// else on the futex.
func (d *Doorbell) ringServer() {
	if d.ring < 0 {
		futexWake(d.word(offState))
		return
	}
	one := [8]byte{1} // the eventfd counter is a host-endian uint64; 1 is nonzero either way
	// EAGAIN only when the counter is near overflow, when it is nonzero
	// and so wakes the reader anyway.
	_, _ = unix.Write(d.ring, one[:])
}

func (d *Doorbell) word(off int) *uint32 { return (*uint32)(unsafe.Pointer(&d.mem[off])) }

// Msg is the message area.
func (d *Doorbell) Msg() []byte { return d.mem[DoorbellMsgOffset : DoorbellMsgOffset+MaxSize] }

// The state word holds the state in its low byte; Wake and Close bump the
// rest, so that a sleeper that has just looked at its other conditions
// cannot miss their wake-up: its FUTEX_WAIT finds the word changed.
const (
	stateMask = 0xff
	kick      = 0x100
)

// State reads the state.
func (d *Doorbell) State() uint32 { return atomic.LoadUint32(d.word(offState)) & stateMask }

// Closed reports whether either side closed the doorbell.
func (d *Doorbell) Closed() bool { return atomic.LoadUint32(d.word(offClosed)) != 0 }

// Close marks the doorbell closed and wakes whoever sleeps on it.
func (d *Doorbell) Close() {
	atomic.StoreUint32(d.word(offClosed), 1)
	d.Wake()
}

// Wake wakes a sleeper without changing the state, so that it looks again
// at what else it watches (cancellation, a lost connection).
func (d *Doorbell) Wake() {
	atomic.AddUint32(d.word(offState), kick)
	futexWake(d.word(offState))
	if d.ring >= 0 {
		d.ringServer()
	}
}

// Post sets the state to s and wakes the other side if it sleeps: the
// client posts StatePosted, the secure world StateRunning and StateDone.
func (d *Doorbell) Post(s uint32, client bool) {
	st := d.word(offState)
	for {
		old := atomic.LoadUint32(st)
		if atomic.CompareAndSwapUint32(st, old, old&^stateMask|s&stateMask) {
			break
		}
	}
	if !client {
		if atomic.LoadUint32(d.word(offClientWait)) != 0 {
			futexWake(d.word(offState))
		}
		return
	}
	if atomic.LoadUint32(d.word(offServerWait)) != 0 {
		d.ringServer()
	}
}

// Spinner is an adaptive spin budget: how long a side spins before it
// sleeps. A wait that ended while spinning keeps the budget up. One that
// had to sleep sets it from how long the wait really took: up to MaxSpin,
// long enough to have caught it spinning (a budget that only shrank when
// a wait slept stayed stuck at MinSpin for a peer that answers in 5 to
// 50 µs — a shadow's poll that a client ends a few µs later — and paid a
// wake-up, several µs, at each such wait); beyond MaxSpin the peer is
// slow, and the budget shrinks, so that a side stops burning a CPU for
// nothing.
type Spinner struct {
	budget time.Duration
}

// Spin limits.
const (
	// pureSpins are the first checks, made back to back; after them each
	// check yields the CPU first.
	pureSpins = 256

	MaxSpin = 50 * time.Microsecond
	MinSpin = 4 * time.Microsecond
)

// Wait waits until ready returns true (checked spinning, then after each
// wake-up) or stop does. It spins for the adaptive budget, then sleeps on
// the state word while it holds a value for which ready is false; waking
// up it calls stop, and gives up when stop returns true. sleeping is
// called once, before the first sleep (to arrange for a wake-up on
// cancellation, say).
func (d *Doorbell) Wait(sp *Spinner, client bool, ready func(uint32) bool, stop func() bool, sleeping func()) bool {
	if sp.budget == 0 {
		sp.budget = MaxSpin
	}
	st := d.word(offState)
	var deadline time.Time
	for i := 0; ; i++ {
		if ready(atomic.LoadUint32(st) & stateMask) {
			sp.budget = min(sp.budget+sp.budget/4+time.Microsecond, MaxSpin)
			return true
		}
		if i >= pureSpins {
			if !client {
				// The secure world's goroutines share one P: let the
				// others (other doorbells, the socket's reader with
				// a cancellation) run. The client side is a locked
				// thread, for which a Gosched would mean a thread
				// hand-off.
				runtime.Gosched()
			}
			// Let a thread that shares this CPU run: on a busy
			// machine the peer may be waiting for it.
			_, _, _ = unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		}
		if i&63 == 63 || i >= pureSpins {
			now := time.Now()
			if deadline.IsZero() {
				deadline = now.Add(sp.budget)
			} else if now.After(deadline) {
				break
			}
			if stop() {
				return false
			}
		}
	}
	// The first time check was made about when the wait began.
	began := deadline.Add(-sp.budget)
	mine := offClientWait
	if !client {
		mine = offServerWait
	}
	if sleeping != nil {
		sleeping()
	}
	atomic.StoreUint32(d.word(mine), 1)
	defer atomic.StoreUint32(d.word(mine), 0)
	for {
		v := atomic.LoadUint32(st)
		if ready(v & stateMask) {
			sp.slept(time.Since(began))
			return true
		}
		if stop() {
			sp.budget = max(sp.budget*3/4, MinSpin)
			return false
		}
		if !client && d.sleeper != nil {
			d.sleepOnRing()
		} else {
			futexWait(st, v)
		}
	}
}

// slept adapts the budget after a wait that slept and took waited.
func (sp *Spinner) slept(waited time.Duration) {
	if waited <= MaxSpin {
		sp.budget = min(max(sp.budget, waited+waited/4+time.Microsecond), MaxSpin)
		return
	}
	sp.budget = max(sp.budget*3/4, MinSpin)
}

// sleepOnRing blocks until the ring is written (or already was since the
// last read: then it returns at once, and the caller looks again).
func (d *Doorbell) sleepOnRing() {
	var buf [8]byte
	if _, err := d.sleeper.Read(buf[:]); err != nil {
		// Only a bug gets here (the ring closed before the last Wait):
		// the client wakes nothing else, so poll rather than hang or
		// spin.
		time.Sleep(time.Millisecond)
	}
}

const (
	futexOpWait = 0 // FUTEX_WAIT, shared: the page is mapped by two processes
	futexOpWake = 1
)

// futexWait sleeps while *addr == val, or until woken or interrupted.
func futexWait(addr *uint32, val uint32) {
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexOpWait, uintptr(val), 0, 0, 0)
}

// futexWake wakes every sleeper on addr.
func futexWake(addr *uint32) {
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexOpWake, uintptr(1<<31-1), 0, 0, 0)
}

// NewDoorbellMemfd makes a sealed memfd of DoorbellSize bytes and maps it.
func NewDoorbellMemfd() (fd int, mem []byte, err error) {
	fd, err = unix.MemfdCreate("tzbridge-doorbell", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, nil, err
	}
	if err = unix.Ftruncate(fd, DoorbellSize); err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL)
	}
	if err == nil {
		mem, err = unix.Mmap(fd, 0, DoorbellSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	}
	if err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	return fd, mem, nil
}
