package securesim

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/simwire"
)

// Server serves a Host to clients on a SOCK_SEQPACKET UNIX socket, one
// simwire message per packet. Each connection is a TEE context: its sessions
// and shared memory go away with it.
type Server struct {
	host *Host
	log  *slog.Logger
}

// NewServer returns a server for host.
func NewServer(host *Host, log *slog.Logger) *Server {
	return &Server{host: host, log: log}
}

// Serve accepts clients on l until ctx is done, then closes l and every
// connection and waits for their calls to end.
func (s *Server) Serve(ctx context.Context, l *net.UnixListener) error {
	var wg sync.WaitGroup
	conns := make(map[*net.UnixConn]struct{})
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("securesim: accept: %w", err)
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			s.serveConn(ctx, c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		})
	}
}

// Limits on the shared memory one client (one TEE context) may have
// registered at once: every region is mapped into the secure world, which
// would otherwise die of one client's exhausting its address space. A
// shadow needs its mailbox (at most 8 MiB), a doorbell page and the
// temporary memrefs of the calls in flight.
const (
	MaxSharedMemoryRegions = 1024
	MaxSharedMemory        = 1 << 30
)

type conn struct {
	s    *Server
	c    *net.UnixConn
	cred *unix.Ucred

	wmu sync.Mutex // one reply at a time on the socket

	mu       sync.Mutex
	shms     map[uint64]*sharedMem
	shmBytes uint64 // the sizes in shms, against MaxSharedMemory
	nextShm  uint64
	cancels  map[uint32]context.CancelFunc // by cancel id, for calls in progress
	calls    sync.WaitGroup

	doorbells []*doorbell // guarded by mu
	bells     sync.WaitGroup
}

func (s *Server) serveConn(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	cn := &conn{s: s, c: c, shms: map[uint64]*sharedMem{}, cancels: map[uint32]context.CancelFunc{}}
	cn.cred = peerCred(c)
	// The connection's calls end with it: an open still waiting for a
	// busy instance gives up.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	switch err := cn.readLoop(ctx); {
	case err == nil, errors.Is(err, net.ErrClosed), errors.Is(err, io.EOF):
		// The client closed its end (a shadow that stops, at every
		// clean stop of the bridge), or the server is stopping: normal.
	default:
		s.log.Warn("secure world: dropping client", "err", err)
	}
	cancel()
	// Like the kernel on close(2) of a TEE descriptor: the client's sessions
	// close (cancelling what they run), then its shared memory goes. The
	// doorbells take no new calls from now on.
	cn.mu.Lock()
	bells := cn.doorbells
	cn.doorbells = nil
	cn.mu.Unlock()
	for _, d := range bells {
		d.bell.Close()
	}
	s.host.CloseOwner(cn)
	cn.bells.Wait()
	for _, d := range bells {
		d.mem.remove()
		closeRing(d.ring) // only now: Close above may have written it
	}
	cn.calls.Wait()
	// An open that was running above has registered its session only
	// now, for a client that will never close it.
	s.host.CloseOwner(cn)
	cn.mu.Lock()
	for id, m := range cn.shms {
		m.remove()
		delete(cn.shms, id)
	}
	cn.mu.Unlock()
}

func peerCred(c *net.UnixConn) *unix.Ucred {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	var cred *unix.Ucred
	_ = raw.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	return cred
}

func (cn *conn) readLoop(ctx context.Context) error {
	buf := make([]byte, simwire.MaxSize+1)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, flags, _, err := cn.c.ReadMsgUnix(buf, oob)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil // peer closed
		}
		fds, ferr := parseRights(oob[:oobn])
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || n > simwire.MaxSize {
			closeAll(fds)
			return fmt.Errorf("oversized message")
		}
		m, err := simwire.Unmarshal(buf[:n])
		if err == nil && m.Kind&simwire.ReplyBit != 0 {
			err = fmt.Errorf("%w: a reply from the client", simwire.ErrMalformed)
		}
		if err == nil && ferr != nil {
			err = ferr
		}
		if err != nil {
			closeAll(fds)
			return err
		}
		if m.Kind != simwire.KindShmAdd && m.Kind != simwire.KindDoorbell && len(fds) > 0 {
			closeAll(fds)
			return fmt.Errorf("descriptors sent with a %v message", m.Kind)
		}
		if err := cn.dispatch(ctx, m, fds); err != nil {
			return err
		}
	}
}

func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		f, err := unix.ParseUnixRights(&m)
		if err != nil {
			closeAll(fds)
			return nil, fmt.Errorf("control message: %w", err)
		}
		fds = append(fds, f...)
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func (cn *conn) reply(m *simwire.Msg) {
	m.Kind |= simwire.ReplyBit
	var b [simwire.MaxSize]byte
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	// A failed write means the client is gone; the read loop notices.
	_, _ = cn.c.Write(m.Append(b[:0]))
}

// dispatch handles one request. Calls that may block (open, invoke, close)
// run in their own goroutine so that cancel requests keep flowing.
func (cn *conn) dispatch(ctx context.Context, m simwire.Msg, fds []int) error {
	switch m.Kind {
	case simwire.KindShmAdd:
		m.Status = uint32(cn.addShm(&m, fds))
	case simwire.KindDoorbell:
		m.Status = uint32(cn.addDoorbell(ctx, &m, fds))
	case simwire.KindShmRemove:
		m.Status = uint32(cn.removeShm(m.ShmID))
	case simwire.KindOpen, simwire.KindInvoke:
		reg, ok := cn.begin(ctx, &m)
		if !ok {
			break
		}
		go func() {
			defer reg.end()
			cn.call(&reg, &m, new(Params))
			cn.reply(&m)
		}()
		return nil
	case simwire.KindCancel:
		cn.mu.Lock()
		cancel := cn.cancels[m.CancelID]
		cn.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	case simwire.KindClose:
		cn.calls.Add(1)
		go func() {
			defer cn.calls.Done()
			if !cn.s.host.CloseSession(cn, m.Session) {
				m.Status = uint32(unix.ENOENT)
			}
			cn.reply(&m)
		}()
		return nil
	default:
		return fmt.Errorf("unexpected %v", m.Kind)
	}
	cn.reply(&m)
	return nil
}

// addShm maps a client's shared memory region (fds: its one descriptor)
// and numbers it in m.ShmID. A refusal is the errno the client gets; the
// descriptors are closed then.
func (cn *conn) addShm(m *simwire.Msg, fds []int) unix.Errno {
	if len(fds) != 1 {
		closeAll(fds)
		return unix.EINVAL
	}
	// Each region is mapped into the secure world's address space,
	// so one client must not be able to exhaust it for everyone.
	cn.mu.Lock()
	full := len(cn.shms) >= MaxSharedMemoryRegions || m.Size > MaxSharedMemory-cn.shmBytes
	cn.mu.Unlock()
	if full {
		unix.Close(fds[0])
		cn.s.log.Warn("secure world: refusing shared memory: the client's limit is reached",
			"bytes", m.Size, "regions_max", MaxSharedMemoryRegions, "bytes_max", MaxSharedMemory)
		return unix.ENOMEM
	}
	sm, err := mapSharedMem(fds[0], m.Size)
	if err != nil {
		cn.s.log.Warn("secure world: refusing shared memory", "err", err)
		return unix.EINVAL
	}
	cn.mu.Lock()
	cn.shmBytes += m.Size
	sm.size = m.Size
	cn.nextShm++
	m.ShmID = cn.nextShm
	cn.shms[m.ShmID] = sm
	cn.mu.Unlock()
	return 0
}

// addDoorbell maps a client's doorbell page (fds[0]), and the ring to
// sleep on if there is one (fds[1]), and starts serving it; m.ShmID
// numbers it. A refusal is the errno the client gets; the descriptors are
// closed then.
func (cn *conn) addDoorbell(ctx context.Context, m *simwire.Msg, fds []int) unix.Errno {
	if len(fds) < 1 || len(fds) > 2 || m.Size != simwire.DoorbellSize {
		closeAll(fds)
		return unix.EINVAL
	}
	var ring *os.File
	if len(fds) == 2 {
		var err error
		if ring, err = openRing(fds[1]); err != nil {
			cn.s.log.Warn("secure world: refusing a doorbell", "err", err)
			unix.Close(fds[0])
			return unix.EINVAL
		}
	}
	sm, err := mapSharedMem(fds[0], m.Size)
	if err != nil {
		cn.s.log.Warn("secure world: refusing a doorbell", "err", err)
		closeRing(ring)
		return unix.EINVAL
	}
	cn.mu.Lock()
	if len(cn.doorbells) >= maxDoorbells {
		cn.mu.Unlock()
		sm.remove()
		closeRing(ring)
		return unix.ENOSPC
	}
	d := &doorbell{cn: cn, mem: sm, ring: ring, bell: simwire.NewDoorbell(sm.mem)}
	if ring != nil {
		if err := d.bell.SleepOnRing(ring); err != nil {
			// Cannot happen for an open *os.File; the futex works
			// all the same.
			cn.s.log.Warn("secure world: doorbell ring unused", "err", err)
		}
	}
	cn.doorbells = append(cn.doorbells, d)
	m.ShmID = uint64(len(cn.doorbells))
	cn.bells.Add(1)
	cn.mu.Unlock()
	go func() {
		defer cn.bells.Done()
		d.serve(ctx)
	}()
	return 0
}

// removeShm unmaps shared memory region id once no call uses it.
func (cn *conn) removeShm(id uint64) unix.Errno {
	cn.mu.Lock()
	sm := cn.shms[id]
	delete(cn.shms, id)
	if sm != nil {
		cn.shmBytes -= sm.size
	}
	cn.mu.Unlock()
	if sm == nil {
		return unix.ENOENT
	}
	sm.remove()
	return 0
}

// callReg is a call registered under its cancel id (begin): its context,
// which the id cancels. A value, not a closure, so that registering
// allocates only the context.
type callReg struct {
	cn     *conn
	id     uint32
	ctx    context.Context
	cancel context.CancelFunc
}

// begin registers a call's cancel id, so that a KindCancel finds it. It
// fails, setting m.Status, when the id is in use by another call.
func (cn *conn) begin(ctx context.Context, m *simwire.Msg) (callReg, bool) {
	callCtx, cancel := context.WithCancel(ctx)
	cn.mu.Lock()
	if _, dup := cn.cancels[m.CancelID]; dup && m.CancelID != 0 {
		cn.mu.Unlock()
		cancel()
		m.Status = uint32(unix.EBUSY)
		return callReg{}, false
	}
	if m.CancelID != 0 {
		cn.cancels[m.CancelID] = cancel
	}
	cn.calls.Add(1)
	cn.mu.Unlock()
	return callReg{cn: cn, id: m.CancelID, ctx: callCtx, cancel: cancel}, true
}

// end unregisters the call.
func (r *callReg) end() {
	cn := r.cn
	cn.mu.Lock()
	if r.id != 0 {
		delete(cn.cancels, r.id)
	}
	cn.mu.Unlock()
	r.cancel()
	cn.calls.Done()
}

// call runs an open or invoke with its memrefs mapped onto shared memory,
// and writes outputs back into m.
// p is where the TA's parameters go: the caller's, so that a doorbell
// reuses one (Params escape into the TA's interface) rather than allocate
// them per call.
func (cn *conn) call(reg *callReg, m *simwire.Msg, p *Params) {
	ctx := reg.ctx
	*p = Params{}
	var heldBuf [gp.NumParams]*sharedMem // no allocation per call
	held, ok := cn.mapParams(&m.Params, p, heldBuf[:0])
	defer func() {
		for _, sm := range held {
			sm.put()
		}
	}()
	if !ok {
		m.Ret, m.Origin = gp.ErrorBadParameters, gp.OriginTEE
		return
	}
	if m.Kind == simwire.KindOpen {
		client, errno := cn.client(m.Login, m.ClientUUID)
		if errno != 0 {
			m.Status = uint32(errno) // the driver refuses, as the kernel's does
			return
		}
		m.Session, m.Ret, m.Origin = cn.s.host.OpenSession(ctx, cn, m.UUID, client, p)
	} else {
		m.Ret, m.Origin = cn.s.host.invoke(ctx, &reg.cancel, cn, m.Session, m.Func, p)
	}
	for i := range p {
		switch r := &m.Params[i]; {
		case r.Attr == gp.AttrValueOutput || r.Attr == gp.AttrValueInout:
			r.A, r.B, r.C = uint64(p[i].A), uint64(p[i].B), 0
		case r.Attr == gp.AttrMemrefOutput || r.Attr == gp.AttrMemrefInout:
			// As the Linux TEE driver: an input memref's size is the
			// client's, whatever the TA wrote there.
			r.B = p[i].Size
		}
	}
}

// mapParams gives each memref a view of the shared memory it names, after
// checking that the range lies inside it. The memory it acquires is
// appended to held, and returned, also on failure.
func (cn *conn) mapParams(raw *[gp.NumParams]gp.RawParam, p *Params, held []*sharedMem) ([]*sharedMem, bool) {
	for i := range raw {
		r := &raw[i]
		p[i] = Param{Type: r.Attr}
		switch {
		case r.Attr.IsValue():
			if r.A > 0xffffffff || r.B > 0xffffffff {
				return held, false
			}
			p[i].A, p[i].B = uint32(r.A), uint32(r.B)
		case r.Attr.IsMemref():
			p[i].Size = r.B
			if r.C == gp.MemrefNull {
				if r.A != 0 {
					return held, false
				}
				continue
			}
			cn.mu.Lock()
			sm := cn.shms[r.C]
			cn.mu.Unlock()
			if sm == nil || !sm.acquire() {
				return held, false
			}
			held = append(held, sm)
			size := uint64(len(sm.mem))
			if r.A > size || r.B > size-r.A {
				return held, false
			}
			p[i].Mem = sm.mem[r.A : r.A+r.B : r.A+r.B]
			if p[i].Mem == nil {
				p[i].Mem = []byte{} // an empty block is still not a null memref
			}
		}
	}
	return held, true
}

// client derives the session's identity from the socket peer, as the
// kernel does for /dev/teeN: the client's word is not taken for it. It
// refuses what Linux's TEE driver refuses (tee_session_calc_client_uuid),
// with the same errno, before the secure world sees the open: the
// application login methods (EINVAL: Linux does not support them), and a
// group login for a group the caller is not in (EPERM).
func (cn *conn) client(login gp.LoginMethod, connData [16]byte) (Client, unix.Errno) {
	c := Client{Login: login}
	switch login {
	case gp.LoginPublic:
		return c, 0
	case gp.LoginUser:
		if cn.cred == nil {
			return c, unix.EPERM
		}
		c.UID, c.GID = cn.cred.Uid, cn.cred.Gid
		return c, 0
	case gp.LoginGroup:
		if cn.cred == nil {
			return c, unix.EPERM
		}
		gid := binary.NativeEndian.Uint32(connData[:4]) // as the kernel reads it
		if gid != cn.cred.Gid && !inGroups(cn.cred.Pid, gid) {
			return c, unix.EPERM
		}
		c.UID, c.GID = cn.cred.Uid, gid
		return c, 0
	}
	return c, unix.EINVAL
}

// inGroups reports whether process pid has gid among its supplementary
// groups.
func inGroups(pid int32, gid uint32) bool {
	f, err := os.Open("/proc/" + strconv.Itoa(int(pid)) + "/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		for _, g := range strings.Fields(rest) {
			if v, err := strconv.ParseUint(g, 10, 32); err == nil && uint32(v) == gid {
				return true
			}
		}
	}
	return false
}
