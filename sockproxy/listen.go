package sockproxy

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// Listener is one proxy address, made in the namespace of the thread that
// called Listen.
type Listener struct {
	// Network is "tcp", "udp" or "unix".
	Network string
	// Addr is where clients connect: IP:PORT, or a path for unix.
	Addr string

	file *os.File // the socket, for tcp and udp
	link string   // the symbolic link, for unix
}

// Listen makes the proxy address network/addr. For tcp and udp it binds a
// socket to addr with the options of hostOptions (a TCP socket listens,
// with the kernel's largest backlog). For unix it makes addr a symbolic link to
// target, the host path of the TA's socket node; what an earlier run left
// at addr (a link to target, a socket nobody listens on) is replaced,
// anything else there is an error.
func Listen(network, addr, target string) (*Listener, error) {
	l := &Listener{Network: network, Addr: addr}
	switch network {
	case "tcp", "udp":
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, fmt.Errorf("sockproxy: listen on %s://%s: %w", network, addr, err)
		}
		fd, err := bindInet(network, ap, true)
		if err == nil {
			// Blocking, so that os.NewFile leaves it out of the
			// runtime's netpoller: the supervisor only passes it on,
			// and a registered socket would wake the supervisor at
			// every datagram the TA receives or sends on it (the
			// shadow's copy shares the socket), 10–20 µs of IPI each
			// on a VM. The copies handed to a shadow are made
			// O_NONBLOCK again (dupSocket); the flag is the socket's,
			// and this File never reads or writes.
			err = unix.SetNonblock(fd, false)
			if err != nil {
				unix.Close(fd)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("sockproxy: listen on %s://%s: %w", network, addr, err)
		}
		l.file = os.NewFile(uintptr(fd), network+"://"+addr)
	case "unix":
		if err := replaceStale(addr, target); err != nil {
			return nil, fmt.Errorf("sockproxy: listen on unix:%s: %w", addr, err)
		}
		if err := os.Symlink(target, addr); err != nil {
			return nil, fmt.Errorf("sockproxy: listen on unix:%s: %w", addr, err)
		}
		l.link = addr
	default:
		return nil, fmt.Errorf("sockproxy: listen: unknown network %q (want tcp, udp or unix)", network)
	}
	return l, nil
}

// File is the listening socket, for tcp and udp; nil for unix. It stays
// the Listener's: pass it on (for example in exec.Cmd.ExtraFiles), do not
// close it.
func (l *Listener) File() *os.File { return l.file }

// Close closes the socket or removes the link. A TCP client still waiting
// in the backlog gets a reset.
func (l *Listener) Close() error {
	switch {
	case l.file != nil:
		return l.file.Close()
	case l.link != "":
		if err := os.Remove(l.link); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sockproxy: remove unix:%s: %w", l.link, err)
		}
	}
	return nil
}

// String is the address as configured, e.g. tcp://127.0.0.1:7000.
func (l *Listener) String() string {
	if l.Network == "unix" {
		return "unix:" + l.Addr
	}
	return l.Network + "://" + l.Addr
}

// replaceStale clears path for a proxy link to target: it removes what an
// earlier run left there — a symbolic link to target, or a socket that
// nobody listens on (a connection is refused) — and nothing else, so that
// a proxy address in a shared directory such as /run cannot remove another
// service's socket or link. Nothing there is fine.
func replaceStale(path, target string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		if dest, err := os.Readlink(path); err != nil || dest != target {
			// The usual cause is a second bridge with another mount
			// point: a directory such as /run is shared by every mount
			// namespace unless one mounts its own, so two bridges in
			// different mount namespaces still meet here.
			return fmt.Errorf("%s is a symbolic link to %q, not to %s: another bridge's proxy (directories such as /run are shared across mount namespaces unless a private one is mounted: give this bridge another unix: proxy address, or mount a tmpfs on /run in its namespace), or left behind: remove it if it is stale", path, dest, target)
		}
	case fi.Mode()&fs.ModeSocket != 0:
		if err := deadSocket(path); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s exists and is not a link or a socket left by an earlier run", path)
	}
	return os.Remove(path)
}

// deadSocket reports nil if nothing listens on the UNIX socket at path.
func deadSocket(path string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer unix.Close(fd)
	switch err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); {
	case err == unix.ECONNREFUSED:
		return nil
	case err == nil:
		return fmt.Errorf("%s is a socket a running service listens on", path)
	default:
		return fmt.Errorf("%s is a socket that cannot be checked (%v): remove it if it is stale", path, err)
	}
}

// family is the socket family of an address.
func family(a netip.Addr) int {
	if a.Unmap().Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if a := ap.Addr().Unmap(); a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

// Bind makes a socket bound to network ("tcp" or "udp") address ap in the
// calling thread's namespace, O_NONBLOCK and O_CLOEXEC, not listening. It
// publishes a TA's address in the host namespace, with the options of
// hostOptions whatever options the TA set on its own socket. Errors wrap
// the errno (EADDRINUSE, EACCES, …).
func Bind(network string, ap netip.AddrPort) (int, error) {
	fd, err := bindInet(network, ap, false)
	if err != nil {
		return -1, fmt.Errorf("sockproxy: bind %s://%s: %w", network, ap, err)
	}
	return fd, nil
}

// hostOptions are the only socket options a socket bound in the host
// namespace for a TA (a proxy address, a published address) gets before
// bind. Never SO_REUSEPORT: a socket with it joins the port group of any
// socket of the same owner that has it too, and the supervisor that makes
// the socket is root, like most host services, so a TA would be handed a
// share of another service's connections. Nor SO_REUSEADDR on UDP, where
// it lets two sockets bind the same address whoever owns them and the
// last one takes the unicast datagrams. A TCP socket does get
// SO_REUSEADDR: there it only lets bind pass over connections of an
// earlier run in TIME_WAIT (a restarted TA binds its port again at once),
// never over a listening socket.
func hostOptions(typ int) []int {
	if typ == unix.SOCK_STREAM {
		return []int{unix.SO_REUSEADDR}
	}
	return nil
}

// bindInet makes a bound socket (listening too, for tcp with listen),
// O_NONBLOCK and O_CLOEXEC, with hostOptions.
func bindInet(network string, ap netip.AddrPort, listen bool) (int, error) {
	typ := unix.SOCK_STREAM
	switch network {
	case "tcp":
	case "udp":
		typ = unix.SOCK_DGRAM
	default:
		return -1, fmt.Errorf("unknown network %q", network)
	}
	fd, err := unix.Socket(family(ap.Addr()), typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	for _, o := range hostOptions(typ) {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o, 1); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("setsockopt: %w", err)
		}
	}
	if err := unix.Bind(fd, sockaddr(ap)); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind: %w", err)
	}
	if listen && typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("listen: %w", err)
		}
	}
	return fd, nil
}

// HostSocket makes an unbound socket in the calling thread's namespace,
// O_NONBLOCK and O_CLOEXEC, for network "tcp4", "tcp6", "udp4" or "udp6".
// The supervisor makes these for a TA's host access.
func HostSocket(network string) (int, error) {
	var fam, typ int
	switch network {
	case "tcp4":
		fam, typ = unix.AF_INET, unix.SOCK_STREAM
	case "tcp6":
		fam, typ = unix.AF_INET6, unix.SOCK_STREAM
	case "udp4":
		fam, typ = unix.AF_INET, unix.SOCK_DGRAM
	case "udp6":
		fam, typ = unix.AF_INET6, unix.SOCK_DGRAM
	default:
		return -1, fmt.Errorf("sockproxy: host socket: unknown network %q", network)
	}
	fd, err := unix.Socket(fam, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("sockproxy: host socket %s: %w", network, err)
	}
	return fd, nil
}
