package shadow

import (
	"context"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/internal/netaddr"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// Socket buffer sizes a TA may ask for: the kernel caps them at its
// system-wide maximum, which an administrator may have raised for other
// programs, so a TA gets a bound of its own.
const (
	minSockBuf = 4 << 10
	maxSockBuf = 4 << 20
)

// unixBacklogRetry is how long a blocking UNIX connect to a full backlog
// sleeps before trying again: the listener offers no event to wait for.
const unixBacklogRetry = 10 * time.Millisecond

func hostDomain(domain int64) int {
	switch domain {
	case tzrpc.AF_INET:
		return unix.AF_INET
	case tzrpc.AF_INET6:
		return unix.AF_INET6
	}
	return unix.AF_UNIX
}

func hostSockType(typ int64) int {
	if typ == tzrpc.SOCK_DGRAM {
		return unix.SOCK_DGRAM
	}
	return unix.SOCK_STREAM
}

func (s *Shadow) socket(domain, typ, flags int64) result {
	if e := s.admit(true); e != 0 {
		return fail(e)
	}
	fd, err := unix.Socket(hostDomain(domain), hostSockType(typ)|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(errno(err))
	}
	return ok(s.fds.add(desc{
		socket:   true,
		fd:       fd,
		access:   tzrpc.O_RDWR,
		nonblock: flags&tzrpc.SOCK_NONBLOCK != 0,
		domain:   domain,
		sockType: typ,
		host:     s.cfg.HostNamespace && domain != tzrpc.AF_UNIX,
	}))
}

// socketDesc is get for calls that need a socket.
func (s *Shadow) socketDesc(vfd int64) (*desc, tzrpc.Errno) {
	d, e := s.fds.get(vfd)
	if e != 0 {
		return nil, e
	}
	if !d.socket {
		return nil, tzrpc.ENOTSOCK
	}
	return d, 0
}

// parseSockaddr parses an address from memory the TA cannot change any
// more (a detached payload or a private copy).
func parseSockaddr(b []byte) (tzrpc.Sockaddr, tzrpc.Errno) {
	sa, n, err := tzrpc.ParseSockaddr(b)
	if err != nil || n != len(b) {
		return tzrpc.Sockaddr{}, tzrpc.EINVAL
	}
	if sa.Family() == tzrpc.FamilyUnix && sa.Path() == "" {
		return tzrpc.Sockaddr{}, tzrpc.EINVAL // would autobind to an abstract name
	}
	return sa, 0
}

// hostSockaddr converts a TA address for socket d. A UNIX path resolves
// inside the root: for bind, its parent directory (the socket node is to be
// created, and a planted symlink in its place must not be followed); for
// connect and sendto, the whole path, whose target must be a socket. The
// kernel then gets a /proc/self/fd name for the resolved descriptor, which
// is returned as held for the caller to close after the call.
func (s *Shadow) hostSockaddr(d *desc, sa tzrpc.Sockaddr, bind bool) (unix.Sockaddr, int, tzrpc.Errno) {
	switch sa.Family() {
	case tzrpc.FamilyInet:
		return &unix.SockaddrInet4{Port: int(sa.Port()), Addr: sa.Addr().As4()}, -1, 0
	case tzrpc.FamilyInet6:
		return &unix.SockaddrInet6{Port: int(sa.Port()), ZoneId: sa.Scope(), Addr: sa.Addr().As16()}, -1, 0
	}
	if d.domain != tzrpc.AF_UNIX {
		return nil, -1, tzrpc.EAFNOSUPPORT
	}
	var held int
	var name string
	if bind {
		dir, n, e := s.resolveParent(sa.Path(), true)
		if e != 0 {
			return nil, -1, e
		}
		held, name = dir, procPath(dir, n)
	} else {
		fd, e := s.resolve(sa.Path())
		if e != 0 {
			return nil, -1, e
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			unix.Close(fd)
			return nil, -1, tzrpc.ECONNREFUSED // as connect(2) to a path that is no socket
		}
		held, name = fd, procPath(fd, "")
	}
	if len(name) > tzrpc.MaxUnixPath {
		unix.Close(held)
		return nil, -1, tzrpc.ENAMETOOLONG
	}
	return &unix.SockaddrUnix{Name: name}, held, 0
}

func closeHeld(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// taSockaddr converts a host address for the TA. A UNIX peer's path is
// reported only when it lies inside the root (as the path from the root);
// anything else would name a place the TA cannot reach.
func (s *Shadow) taSockaddr(usa unix.Sockaddr) tzrpc.Sockaddr {
	switch a := usa.(type) {
	case *unix.SockaddrInet4:
		return tzrpc.Inet4Sockaddr(a.Addr, uint16(a.Port))
	case *unix.SockaddrInet6:
		return tzrpc.Inet6Sockaddr(a.Addr, uint16(a.Port), a.ZoneId)
	case *unix.SockaddrUnix:
		return s.unixSockaddr(s.rootRelative(a.Name))
	}
	return s.unixSockaddr("")
}

// unixSockaddr builds a UNIX address from a path known to fit, falling
// back to unnamed.
func (s *Shadow) unixSockaddr(path string) tzrpc.Sockaddr {
	sa, err := tzrpc.UnixSockaddr(path)
	if err != nil {
		sa, _ = tzrpc.UnixSockaddr("")
	}
	return sa
}

// rootRelative maps an absolute host path inside the root to the TA's
// absolute path ("/x" for <root>/x), and anything else to "".
func (s *Shadow) rootRelative(hostPath string) string {
	if !filepath.IsAbs(hostPath) {
		return ""
	}
	root := filepath.Clean(s.cfg.Root)
	rest, found := strings.CutPrefix(filepath.Clean(hostPath), root)
	if !found || !strings.HasPrefix(rest, "/") {
		return ""
	}
	return rest
}

// putSockaddr writes sa at the start of out and returns its length. out is
// a mailbox payload, always longer than any address.
func putSockaddr(out []byte, sa tzrpc.Sockaddr) int {
	return len(sa.AppendTo(out[:0]))
}

func (s *Shadow) bind(vfd int64, addr []byte) result {
	d, e := s.socketDesc(vfd)
	if e != 0 {
		return fail(e)
	}
	sa, e := parseSockaddr(addr)
	if e != 0 {
		return fail(e)
	}
	if r, handled := s.bindElsewhere(d, sa); handled {
		if r.errno == 0 {
			s.bound(d, sa)
		}
		return r
	}
	usa, held, e := s.hostSockaddr(d, sa, true)
	if e != 0 {
		return fail(e)
	}
	defer closeHeld(held)
	if err := unix.Bind(d.fd, usa); err != nil {
		return fail(errno(err))
	}
	if sa.Family() == tzrpc.FamilyUnix {
		d.boundPath = sa.Path()
	}
	s.bound(d, sa)
	return ok(0)
}

// bound notes the address socket d was bound to, in the form of a
// configuration's listen entry, and reports a datagram socket, which
// serves from now on, to Config.OnListening; a stream socket is reported
// when it listens.
func (s *Shadow) bound(d *desc, sa tzrpc.Sockaddr) {
	if s.cfg.OnListening == nil {
		return
	}
	switch sa.Family() {
	case tzrpc.FamilyUnix:
		d.boundAddr = netaddr.Addr{Network: "unix", Addr: path.Join("/", sa.Path())}.String()
	case tzrpc.FamilyInet, tzrpc.FamilyInet6:
		d.boundAddr = netaddr.Addr{Network: inetNetwork(d), Addr: inetAddrPort(sa).String()}.String()
	}
	if d.sockType == tzrpc.SOCK_DGRAM && d.boundAddr != "" {
		s.cfg.OnListening(d.boundAddr)
	}
}

func (s *Shadow) listen(vfd, backlog int64) result {
	d, e := s.socketDesc(vfd)
	if e != 0 {
		return fail(e)
	}
	if err := unix.Listen(d.fd, int(backlog)); err != nil {
		return fail(errno(err))
	}
	d.listening = true
	if s.cfg.OnListening != nil && d.boundAddr != "" {
		s.cfg.OnListening(d.boundAddr)
	}
	return ok(0)
}

func (s *Shadow) accept(ctx context.Context, vfd, flags int64, out []byte) result {
	d, e := s.socketDesc(vfd)
	if e != 0 {
		return fail(e)
	}
	// Checked first so that at the limit the connection stays queued.
	if e := s.admit(true); e != 0 {
		return fail(e)
	}
	for {
		fd, usa, err := unix.Accept4(d.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			if e := s.again(ctx, err, d.fd, unix.POLLIN, d.nonblock); e != 0 {
				return fail(e)
			}
			continue
		}
		plen := putSockaddr(out, s.taSockaddr(usa))
		vfd := s.fds.add(desc{
			socket:   true,
			fd:       fd,
			access:   tzrpc.O_RDWR,
			nonblock: flags&tzrpc.SOCK_NONBLOCK != 0,
			domain:   d.domain,
			sockType: d.sockType,
			host:     d.host,
		})
		return result{ret: vfd, plen: plen}
	}
}

func (s *Shadow) connect(ctx context.Context, vfd int64, addr []byte) result {
	d, e := s.socketDesc(vfd)
	if e != 0 {
		return fail(e)
	}
	sa, e := parseSockaddr(addr)
	if e != 0 {
		return fail(e)
	}
	if e := s.connectElsewhere(d, sa); e != 0 {
		return fail(e)
	}
	usa, held, e := s.hostSockaddr(d, sa, false)
	if e != 0 {
		return fail(e)
	}
	defer closeHeld(held)
	for {
		err := unix.Connect(d.fd, usa)
		switch {
		case err == nil:
			if sa.Family() == tzrpc.FamilyUnix {
				d.peerPath = sa.Path()
			}
			return ok(0)
		case (err == unix.EINPROGRESS || err == unix.EINTR) && !d.nonblock:
			// The connection proceeds in the kernel; its outcome is
			// SO_ERROR once the socket is writable.
			if e := s.waitFD(ctx, d.fd, unix.POLLOUT); e != 0 {
				return fail(e)
			}
			soErr, err := unix.GetsockoptInt(d.fd, unix.SOL_SOCKET, unix.SO_ERROR)
			if err != nil {
				return fail(errno(err))
			}
			if soErr != 0 {
				return fail(tzrpc.ErrnoFromSyscall(unix.Errno(soErr)))
			}
			return ok(0)
		case err == unix.EAGAIN && !d.nonblock && d.domain == tzrpc.AF_UNIX:
			if e := s.pause(ctx, unixBacklogRetry); e != 0 {
				return fail(e)
			}
		default:
			return fail(errno(err))
		}
	}
}

// send serves SEND and SENDTO; addr is SENDTO's encoded destination (empty
// for the connected peer), still in the mailbox.
func (s *Shadow) send(ctx context.Context, vfd, flags int64, addr, data []byte) result {
	d, e := s.socketDesc(vfd)
	if e != 0 {
		return fail(e)
	}
	var to unix.Sockaddr
	if len(addr) > 0 {
		// Validate parsed the address in the mailbox; what is used is
		// this private copy, parsed again.
		var buf [tzrpc.MaxSockaddrLen]byte
		if len(addr) > len(buf) {
			return fail(tzrpc.EINVAL)
		}
		sa, e := parseSockaddr(buf[:copy(buf[:], addr)])
		if e != 0 {
			return fail(e)
		}
		usa, held, e := s.hostSockaddr(d, sa, false)
		if e != 0 {
			return fail(e)
		}
		defer closeHeld(held)
		to = usa
	}
	return s.sendAll(ctx, d, d.nonblock || flags&tzrpc.MSG_DONTWAIT != 0, to, data)
}

// sendAll sends data with write's blocking semantics (see writeAll).
// MSG_NOSIGNAL: a TA never gets SIGPIPE, and neither does the shadow.
func (s *Shadow) sendAll(ctx context.Context, d *desc, nonblock bool, to unix.Sockaddr, data []byte) result {
	fd := d.fd
	return s.writeAll(ctx, fd, nonblock, data, func(b []byte) (int, error) {
		return unix.SendmsgN(fd, b, nil, to, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
	})
}

func (s *Shadow) recv(ctx context.Context, vfd int64, n int, flags int64, out []byte) result {
	d, e := s.socketDesc(vfd)
	if e != 0 {
		return fail(e)
	}
	return s.recvInto(ctx, d, n, flags, out)
}

// recvInto receives up to n bytes into out, the response payload.
func (s *Shadow) recvInto(ctx context.Context, d *desc, n int, flags int64, out []byte) result {
	got, _, e := s.recvLoop(ctx, d, out[:n], flags)
	if e != 0 {
		return fail(e)
	}
	return result{ret: int64(got), plen: got}
}

func (s *Shadow) recvfrom(ctx context.Context, vfd, max, flags int64, out []byte) result {
	d, e := s.socketDesc(vfd)
	if e != 0 {
		return fail(e)
	}
	// Data lands behind room for the longest address, then moves down
	// behind the actual one.
	data := out[tzrpc.MaxSockaddrLen:]
	got, from, e := s.recvLoop(ctx, d, data[:capLen(max, data)], flags)
	if e != 0 {
		return fail(e)
	}
	alen := 0
	if from != nil {
		alen = putSockaddr(out, s.taSockaddr(from))
	}
	copy(out[alen:], data[:got])
	return result{ret: int64(got), aux0: int64(alen), plen: alen + got}
}

// recvLoop receives into buf with recv's blocking semantics, and with
// MSG_WAITALL on a stream socket until buf is full, EOF, an error or
// cancellation (returning what came so far, if anything). It returns the
// source of the first data, if the kernel reports one.
func (s *Shadow) recvLoop(ctx context.Context, d *desc, buf []byte, flags int64) (int, unix.Sockaddr, tzrpc.Errno) {
	nonblock := d.nonblock || flags&tzrpc.MSG_DONTWAIT != 0
	hostFlags := unix.MSG_DONTWAIT
	if flags&tzrpc.MSG_PEEK != 0 {
		hostFlags |= unix.MSG_PEEK
	}
	// Datagrams do not add up, and a peek does not consume: waiting for
	// all of buf means something only for a consuming stream read.
	waitAll := flags&tzrpc.MSG_WAITALL != 0 && flags&tzrpc.MSG_PEEK == 0 && d.sockType == tzrpc.SOCK_STREAM
	total := 0
	var src unix.Sockaddr
	for {
		n, from, err := unix.Recvfrom(d.fd, buf[total:], hostFlags)
		if err != nil {
			if e := s.again(ctx, err, d.fd, unix.POLLIN, nonblock); e != 0 {
				return s.partialRead(total, src, e)
			}
			continue
		}
		if total == 0 {
			src = from
		}
		total += n
		if !waitAll || nonblock || n == 0 || total == len(buf) {
			s.bytesIn.Add(uint64(total))
			return total, src, 0
		}
	}
}

// partialRead reports a receive that stopped on e: the bytes already
// received, if any; otherwise e.
func (s *Shadow) partialRead(total int, src unix.Sockaddr, e tzrpc.Errno) (int, unix.Sockaddr, tzrpc.Errno) {
	if total == 0 {
		return 0, nil, e
	}
	s.bytesIn.Add(uint64(total))
	return total, src, 0
}

func (s *Shadow) shutdown(vfd, how int64) result {
	d, e := s.socketDesc(vfd)
	if e != 0 {
		return fail(e)
	}
	h := unix.SHUT_RDWR
	switch how {
	case tzrpc.SHUT_RD:
		h = unix.SHUT_RD
	case tzrpc.SHUT_WR:
		h = unix.SHUT_WR
	}
	return done(unix.Shutdown(d.fd, h))
}

// sockname serves GETSOCKNAME and GETPEERNAME. UNIX names are the paths
// the TA used, since the kernel knows them only in /proc/self/fd form.
func (s *Shadow) sockname(vfd int64, peer bool, out []byte) result {
	d, e := s.socketDesc(vfd)
	if e != 0 {
		return fail(e)
	}
	var usa unix.Sockaddr
	var err error
	if peer {
		usa, err = unix.Getpeername(d.fd)
	} else {
		usa, err = unix.Getsockname(d.fd)
	}
	if err != nil {
		return fail(errno(err))
	}
	sa := s.taSockaddr(usa)
	if d.domain == tzrpc.AF_UNIX {
		switch {
		case !peer:
			sa = s.unixSockaddr(d.boundPath)
		case d.peerPath != "":
			sa = s.unixSockaddr(d.peerPath)
		}
	}
	return result{plen: putSockaddr(out, sa)}
}

func (s *Shadow) setsockopt(vfd, opt, val int64) result {
	d, e := s.socketDesc(vfd)
	if e != 0 {
		return fail(e)
	}
	o, _ := tzrpc.LookupSockopt(opt)
	switch o.Kind {
	case tzrpc.SockoptBool:
		// Any int32 turns a boolean on, as in C (docs/protocol.md §3).
		if val != 0 {
			val = 1
		}
	case tzrpc.SockoptSize:
		val = min(max(val, minSockBuf), maxSockBuf)
	default:
		return fail(tzrpc.ENOPROTOOPT)
	}
	if d.host && keptOption(d, opt) {
		d.kept &^= keptBit(opt)
		if val != 0 {
			d.kept |= keptBit(opt)
		}
		return ok(0)
	}
	return done(unix.SetsockoptInt(d.fd, o.Level, o.Option, int(val)))
}

func (s *Shadow) getsockopt(vfd, opt int64) result {
	d, e := s.socketDesc(vfd)
	if e != 0 {
		return fail(e)
	}
	o, _ := tzrpc.LookupSockopt(opt) // Validate admits no other
	if o.Kind == tzrpc.SockoptType {
		return ok(d.sockType)
	}
	if d.host && keptOption(d, opt) {
		return ok(int64(min(d.kept&keptBit(opt), 1)))
	}
	v, err := unix.GetsockoptInt(d.fd, o.Level, o.Option)
	if err != nil {
		return fail(errno(err))
	}
	switch {
	case o.Kind == tzrpc.SockoptErrno:
		return ok(int64(tzrpc.ErrnoFromSyscall(unix.Errno(v))))
	case o.Kind == tzrpc.SockoptBool && v != 0:
		return ok(1)
	}
	return ok(int64(max(v, 0)))
}
