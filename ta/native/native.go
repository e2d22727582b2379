// Package native hosts a Trusted Application built for the host — a C TA
// linked with libtzposix (ta/c) and its host shim — in the simulated secure
// world: configuration kind "native".
//
// Each TA instance is one child process, started by Create and ended by
// Destroy, and confined by package sandbox as OP-TEE confines a TA: its
// own uid and gid, no capabilities, empty namespaces, a root holding only
// the program, and a seccomp allow-list of the few system calls the TA
// runtime makes to talk to the secure world. Check validates a program
// without running it (tzbridge check); Definition runs it once, in the
// sandbox, to read its HELLO.
//
// The entry points are messages on a SOCK_SEQPACKET socket
// (descriptor 3 in the child; fixed 128-byte records, see wire.go and
// ta/c/host/host_main.c): HELLO (child → secure world: UUID and TA flags
// from its user_ta_header_defines.h), CREATE, OPEN_SESSION, INVOKE,
// CLOSE_SESSION, DESTROY, each answered by a reply with the TEE_Result and
// the output parameters, and CANCEL, which sets the TA's cancellation flag.
//
// Memory references travel through shared memory, not the socket: a sealed
// memfd (F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL, so that neither side can
// make the other fault, and not executable) mapped in both processes,
// handed over once with SCM_RIGHTS and replaced only when a call needs
// more. An entry point copies the client's memrefs in before the call and
// out after it: the client's own shared memory is mapped only in the
// secure world. For RESUME with the tzrpc mailbox only the live part is
// copied: the header and the payload its length names, bounded by the
// mailbox.
//
// The child dies with the secure world (PR_SET_PDEATHSIG, set from a thread
// that lives as long as the child, again by the sandbox after it changes
// credentials, and in the child itself). A child that exits, crashes,
// makes a forbidden system call that it cannot survive, or breaks the
// message protocol kills its instance: the entry point panics, and the
// host reports TEE_ERROR_TARGET_DEAD for its sessions from then on, as
// OP-TEE does after a TA panic.
//
// This package uses no cgo: the product binary stays pure Go and only
// executes the TA program.
package native

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/child"
	"github.com/tzmediator/tzbridge/internal/sandbox"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// Timeouts for a child that does not answer.
const (
	// helloTimeout bounds the start of a program up to its HELLO.
	helloTimeout = 10 * time.Second
	// exitGrace is how long Destroy waits for the child to exit.
	exitGrace = 2 * time.Second
	// shmAlign is the granularity of the shared memory.
	shmAlign = 64 << 10
)

// cancelGrace is how long a call may go on after its cancellation before
// the instance is killed (a variable for tests).
var cancelGrace = 5 * time.Second

// Definition describes the native TA program at path for the secure world.
// It checks the file (Check) and runs the program once, confined like
// every instance (package sandbox), to read its HELLO: the flags there
// give the instance properties, and the UUID there must be uuid (on a
// device, the UUID is what selects the TA, so a mismatch is a
// configuration error).
func Definition(name string, uuid gp.UUID, path string) (securesim.Definition, error) {
	id := sandbox.ID(uuid)
	if err := sandbox.CheckID(id); err != nil {
		return securesim.Definition{}, fmt.Errorf("native TA %s: %w", name, err)
	}
	info, err := describe(path, id)
	if err != nil {
		return securesim.Definition{}, err
	}
	if info.UUID != uuid {
		return securesim.Definition{}, fmt.Errorf("native TA %s: %s declares UUID %v, the configuration says %v", name, path, info.UUID, uuid)
	}
	return securesim.Definition{
		Name:  name,
		UUID:  uuid,
		Props: info.Props(),
		New:   func() securesim.TA { return &ta{name: name, path: path, uuid: uuid, id: id} },
	}, nil
}

// Describe checks the TA program at path, starts it in the sandbox (as
// the TA with the given UUID would run), reads its HELLO and lets it go.
func Describe(path string, uuid gp.UUID) (Info, error) {
	return describe(path, sandbox.ID(uuid))
}

func describe(path string, id uint32) (Info, error) {
	if err := Check(path); err != nil {
		return Info{}, err
	}
	p, err := start(path, id)
	if err != nil {
		return Info{}, err
	}
	defer p.stop()
	info, err := p.hello()
	if err != nil {
		return Info{}, fmt.Errorf("native TA %s: %w", path, err)
	}
	return info, nil
}

// Check says whether the file at path can be a native TA for this
// machine without running it (tzbridge check): a regular file, readable,
// executable by someone, an ELF executable of this machine's class,
// byte order and architecture, and static: the sandbox's root holds
// nothing but the program, so there is no dynamic loader to run it.
func Check(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("native TA: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("native TA: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("native TA %s: not a regular file (%v)", path, st.Mode().Type())
	}
	if st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("native TA %s: not executable (mode %v)", path, st.Mode().Perm())
	}
	e, err := elf.NewFile(f)
	if err != nil {
		return fmt.Errorf("native TA %s: not an ELF program: %w", path, err)
	}
	switch {
	case sandbox.Supported() != nil:
		return fmt.Errorf("native TA %s: native TAs are not supported on %s", path, runtime.GOARCH)
	case e.Class != elf.ELFCLASS64 || e.Machine != sandbox.ELFMachine || e.ByteOrder != binary.LittleEndian:
		return fmt.Errorf("native TA %s: built for %v %v %v, this machine is %v %v %v", path, e.Class, e.Machine, e.ByteOrder, elf.ELFCLASS64, sandbox.ELFMachine, binary.LittleEndian)
	case e.Type != elf.ET_EXEC && e.Type != elf.ET_DYN:
		return fmt.Errorf("native TA %s: an ELF %v, not an executable", path, e.Type)
	}
	for _, p := range e.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("native TA %s: dynamically linked; the sandbox has no file system for a loader: build it with ta/c/build-host.sh (static)", path)
		}
	}
	if e.Entry == 0 {
		return fmt.Errorf("native TA %s: no entry point", path)
	}
	return nil
}

// proc is one running TA program. Messages are received in the calling
// goroutine, which blocks in recvmsg until the reply comes (or the end of
// file a dead child leaves): no reader goroutine, no channel hop on the
// path of every call.
type proc struct {
	*child.Process
	path   string
	fd     int // our end of the socket
	closed sync.Once
}

// start runs the program at path, confined as id (package sandbox), with
// its end of a socket pair as descriptor 3.
func start(path string, id uint32) (*proc, error) {
	if err := sandbox.Supported(); err != nil {
		return nil, fmt.Errorf("native TA %s: %w", path, err)
	}
	prog, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("native TA: %w", err)
	}
	defer prog.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("native TA %s: socketpair: %w", path, err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "native-ta-socket")
	defer theirs.Close()
	cmd := sandbox.Command(prog, theirs, id)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	cp, err := child.Start(cmd, nil)
	if err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("native TA %s: the sandbox (needs root): %w", path, err)
	}
	return &proc{Process: cp, path: path, fd: fds[0]}, nil
}

// recv waits for the child's next message. A child that dies, or is
// killed, leaves end of file.
func (p *proc) recv(m *msg) error {
	for {
		n, _, flags, _, err := unix.Recvmsg(p.fd, m[:], nil, 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("receive: %w", err)
		case n == 0:
			return errors.New("the program closed its end")
		case n != msgSize || flags&unix.MSG_TRUNC != 0:
			return fmt.Errorf("malformed message of %d bytes", n)
		}
		return nil
	}
}

// send writes one message, with a descriptor if fd >= 0.
func (p *proc) send(m *msg, fd int) error {
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	for {
		err := unix.Sendmsg(p.fd, m[:], oob, nil, unix.MSG_NOSIGNAL)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		return nil
	}
}

// hello waits for the program's first message.
func (p *proc) hello() (Info, error) {
	var late atomic.Bool
	timer := time.AfterFunc(helloTimeout, func() {
		late.Store(true)
		_ = p.Cmd.Process.Kill()
	})
	defer timer.Stop()
	var m msg
	if err := p.recv(&m); err != nil {
		if late.Load() {
			return Info{}, fmt.Errorf("no HELLO within %v: is it a TA built with ta/c/build-host.sh?", helloTimeout)
		}
		return Info{}, fmt.Errorf("no HELLO: %v%s", err, p.status())
	}
	return parseHello(&m)
}

// status describes how the process ended, if it has.
func (p *proc) status() string {
	select {
	case <-p.Done():
	case <-time.After(100 * time.Millisecond):
		return ""
	}
	if p.Err() == nil {
		return " (exited with status 0)"
	}
	return fmt.Sprintf(" (%v)", p.Err())
}

// stop ends the program: the socket closes (the child exits at end of
// file) and after exitGrace it is killed.
func (p *proc) stop() {
	p.closed.Do(func() {
		unix.Shutdown(p.fd, unix.SHUT_RDWR)
		select {
		case <-p.Done():
		case <-time.After(exitGrace):
			_ = p.Cmd.Process.Kill()
			<-p.Done()
		}
		unix.Close(p.fd)
	})
}

// kill ends the program at once.
func (p *proc) kill() {
	_ = p.Cmd.Process.Kill()
	p.stop()
}

// ta is one instance of a native TA: one process.
type ta struct {
	name, path string
	uuid       gp.UUID
	id         uint32 // the sandbox's uid and gid

	p           *proc
	shm         []byte // shared memory, mapped here and in the child
	nextSession uint32
}

// died is what an entry point panics with when the instance is gone.
type died struct {
	ta  string
	why string
}

func (d *died) Error() string { return fmt.Sprintf("native TA %s: %s", d.ta, d.why) }

// fail kills the instance and panics, so that the host marks it dead.
func (t *ta) fail(format string, args ...any) {
	why := fmt.Sprintf(format, args...)
	if t.p != nil {
		t.p.kill()
		why += t.p.status()
	}
	t.release()
	panic(&died{ta: t.name, why: why})
}

func (t *ta) release() {
	if t.shm != nil {
		_ = unix.Munmap(t.shm)
		t.shm = nil
	}
}

// Create starts the program and runs TA_CreateEntryPoint.
func (t *ta) Create() gp.Result {
	p, err := start(t.path, t.id)
	if err != nil {
		panic(&died{ta: t.name, why: err.Error()})
	}
	t.p = p
	info, err := p.hello()
	if err != nil {
		t.fail("%v", err)
	}
	if info.UUID != t.uuid {
		t.fail("the program now declares UUID %v, not %v", info.UUID, t.uuid)
	}
	r := t.call(context.Background(), newMsg(kindCreate, 0, 0, 0), -1)
	return gp.Result(r.result())
}

// Destroy runs TA_DestroyEntryPoint and ends the program.
func (t *ta) Destroy() {
	if t.p == nil {
		return
	}
	t.call(context.Background(), newMsg(kindDestroy, 0, 0, 0), -1)
	t.p.stop()
	t.release()
}

// call sends m and waits for its reply. Cancelling ctx sends CANCEL; a
// child that still has not answered cancelGrace later is killed.
func (t *ta) call(ctx context.Context, m *msg, fd int) *msg {
	if err := t.p.send(m, fd); err != nil {
		t.fail("%v", err)
	}
	var (
		mu       sync.Mutex
		answered bool
		killed   bool
		grace    *time.Timer
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if answered {
			return
		}
		// The reply may still come: the call is waited for either way.
		_ = t.p.send(newMsg(kindCancel, m.session(), 0, 0), -1)
		grace = time.AfterFunc(cancelGrace, func() {
			mu.Lock()
			killed = !answered
			mu.Unlock()
			if killed {
				_ = t.p.Cmd.Process.Kill()
			}
		})
	})
	r := new(msg)
	err := t.p.recv(r)
	stop()
	mu.Lock()
	answered = true
	if grace != nil {
		grace.Stop()
	}
	wasKilled := killed
	mu.Unlock()
	switch {
	case wasKilled:
		t.fail("no answer within %v of a cancellation", cancelGrace)
	case err != nil:
		t.fail("the program died: %v", err)
	case r.kind() != m.kind()|kindReply || r.session() != m.session():
		t.fail("answered message kind %d with kind %d", m.kind(), r.kind())
	}
	return r
}

// OpenSession runs TA_OpenSessionEntryPoint.
func (t *ta) OpenSession(ctx context.Context, p *securesim.Params) (any, gp.Result) {
	t.nextSession++
	id := t.nextSession
	r := t.entry(ctx, kindOpen, id, 0, p)
	if r != gp.Success {
		return nil, r
	}
	return id, r
}

// CloseSession runs TA_CloseSessionEntryPoint.
func (t *ta) CloseSession(state any) {
	id, ok := state.(uint32)
	if !ok {
		return
	}
	t.call(context.Background(), newMsg(kindClose, id, 0, 0), -1)
}

// Invoke runs TA_InvokeCommandEntryPoint.
func (t *ta) Invoke(ctx context.Context, state any, cmd uint32, p *securesim.Params) gp.Result {
	id, ok := state.(uint32)
	if !ok {
		return gp.ErrorBadState
	}
	return t.entry(ctx, kindInvoke, id, cmd, p)
}

// span is where a memref parameter lives in the shared memory, and how
// much of it is copied each way.
type span struct {
	off int
	in  int // bytes copied in
}

// entry runs an entry point with parameters: memrefs are copied into the
// shared memory, and outputs copied back after the call.
func (t *ta) entry(ctx context.Context, kind, session, cmd uint32, p *securesim.Params) gp.Result {
	types, err := paramTypes(p)
	if err != nil {
		return gp.ErrorBadParameters
	}
	// The live part of a tzrpc mailbox is its header and payload.
	mailbox := kind == kindInvoke && cmd == tzrpc.CmdResume &&
		p.Types() == [gp.NumParams]gp.Attr{gp.AttrMemrefInout} &&
		len(p[0].Mem) >= tzrpc.HeaderSize

	var spans [gp.NumParams]span
	need := 0
	for i := range p {
		if p[i].Type.IsMemref() && p[i].Mem != nil {
			spans[i].off = need
			need += (len(p[i].Mem) + 63) &^ 63
		}
	}
	if err := t.ensureShm(need); err != nil {
		t.fail("%v", err)
	}

	m := newMsg(kind, session, cmd, types)
	for i := range p {
		switch a := p[i].Type; {
		case a.IsValue():
			m.setParam(i, uint64(p[i].A), uint64(p[i].B))
		case a.IsMemref() && p[i].Mem == nil:
			m.setParam(i, nullMemref, p[i].Size)
		case a.IsMemref():
			n := 0
			if a.In() {
				n = len(p[i].Mem)
				if mailbox {
					n = liveLen(p[i].Mem)
				}
			}
			copy(t.shm[spans[i].off:], p[i].Mem[:n])
			m.setParam(i, uint64(spans[i].off), uint64(len(p[i].Mem)))
		}
	}

	r := t.call(ctx, m, -1)

	for i := range p {
		a, b := r.param(i)
		switch at := p[i].Type; {
		case at == gp.AttrValueOutput || at == gp.AttrValueInout:
			p[i].A, p[i].B = uint32(a), uint32(b)
		case at.IsMemref():
			p[i].Size = b // may exceed the buffer: SHORT_BUFFER reports the size needed
			if p[i].Mem == nil || !at.Out() {
				continue
			}
			region := t.shm[spans[i].off : spans[i].off+len(p[i].Mem)]
			n := int(min(b, uint64(len(region))))
			if mailbox {
				n = min(n, liveLen(region))
			}
			copy(p[i].Mem[:n], region[:n])
		}
	}
	return gp.Result(r.result())
}

// liveLen is the part of a tzrpc mailbox that holds a message: the header
// and the payload it announces, within the mailbox. The bytes are read
// once and only to size a copy; the receiver checks the message itself.
func liveLen(mb []byte) int {
	plen := uint64(le.Uint32(mb[12:16]))
	return tzrpc.HeaderSize + int(min(plen, uint64(len(mb)-tzrpc.HeaderSize)))
}

// ensureShm makes the shared memory at least n bytes, replacing it (and
// handing the new one to the child) when it is smaller.
func (t *ta) ensureShm(n int) error {
	if n <= len(t.shm) {
		return nil
	}
	size := (n + shmAlign - 1) &^ (shmAlign - 1)
	// Not executable, and sealed so (kernels since 6.3): the TA may map
	// the memory, never run it as a program.
	fd, err := unix.MemfdCreate("tzbridge-native-ta", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_NOEXEC_SEAL)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate("tzbridge-native-ta", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return fmt.Errorf("memfd_create: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return fmt.Errorf("size shared memory: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		return fmt.Errorf("seal shared memory: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map shared memory: %w", err)
	}
	m := newMsg(kindShm, 0, 0, 0)
	le.PutUint64(m[8:], uint64(size))
	r := t.call(context.Background(), m, fd)
	if res := gp.Result(r.result()); res != gp.Success {
		_ = unix.Munmap(mem)
		return fmt.Errorf("the program refused %d bytes of shared memory: %v", size, res)
	}
	t.release()
	t.shm = mem
	return nil
}
