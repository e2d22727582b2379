package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// StartPeer is the direct peer, the CA↔CA baseline: the plainest echo
// server there is, in dir. Each transport is served by blocking syscalls
// on a thread of its own, with no poll and no buffering, and each stream
// connection gets a thread too. It writes its Endpoints as one line of
// JSON to out and returns; the servers run until the process exits.
//
// `tzbridge bench` runs it in a process of its own (`tzbridge bench
// --peer DIR`), so that a direct round trip crosses processes as a bridged
// one does.
func StartPeer(dir string, out io.Writer) error {
	ep := Endpoints{
		FIFOIn:  filepath.Join(dir, "in"),
		FIFOOut: filepath.Join(dir, "out"),
		Unix:    filepath.Join(dir, "echo.sock"),
	}
	for _, p := range []string{ep.FIFOIn, ep.FIFOOut} {
		if err := unix.Mkfifo(p, 0o600); err != nil {
			return fmt.Errorf("peer: mkfifo %s: %w", p, err)
		}
	}
	// Both ends O_RDWR: the peer never sees EOF or waits in open, and
	// holds the reader the client's writer needs.
	in, err := unix.Open(ep.FIFOIn, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	out2, err := unix.Open(ep.FIFOOut, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	ul, err := listen(unix.AF_UNIX, &unix.SockaddrUnix{Name: ep.Unix})
	if err != nil {
		return fmt.Errorf("peer: unix: %w", err)
	}
	tl, err := listen(unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	if err != nil {
		return fmt.Errorf("peer: tcp: %w", err)
	}
	if ep.TCPPort, err = port(tl); err != nil {
		return err
	}
	udp, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("peer: udp: %w", err)
	}
	if err := unix.Bind(udp, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fmt.Errorf("peer: udp: %w", err)
	}
	if ep.UDPPort, err = port(udp); err != nil {
		return err
	}

	go onThread(func() { echoFIFO(in, out2) })
	go onThread(func() { acceptLoop(ul) })
	go onThread(func() { acceptLoop(tl) })
	go onThread(func() { echoUDP(udp) })
	return json.NewEncoder(out).Encode(ep)
}

func onThread(f func()) {
	runtime.LockOSThread()
	f()
}

func listen(domain int, sa unix.Sockaddr) (int, error) {
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if domain == unix.AF_INET {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Listen(fd, 128); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func port(fd int) (int, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, fmt.Errorf("peer: getsockname: %w", err)
	}
	return sa.(*unix.SockaddrInet4).Port, nil
}

func echoFIFO(in, out int) {
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(in, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		if writeAll(out, buf[:n]) != nil {
			return
		}
	}
}

func acceptLoop(l int) {
	for {
		fd, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
		if err == unix.EINTR || err == unix.ECONNABORTED {
			continue
		}
		if err != nil {
			return
		}
		go onThread(func() { echoStream(fd) })
	}
}

func echoStream(fd int) {
	defer unix.Close(fd)
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		if writeAll(fd, buf[:n]) != nil {
			return
		}
	}
}

func echoUDP(fd int) {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		if from != nil {
			_ = unix.Sendto(fd, buf[:n], 0, from)
		}
	}
}
