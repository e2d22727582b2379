package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	childproc "github.com/tzmediator/tzbridge/internal/child"
	"github.com/tzmediator/tzbridge/internal/syncbuf"
)

// DefaultConfig is the demo configuration, configs/echo.yaml without its
// comments (a test keeps the two equal), which the bridged run uses unless
// told otherwise; the mount is replaced by a temporary directory.
const DefaultConfig = `mount: /tz
tee: sim
tas:
  - name: echo
    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60
    builtin: echo
    restart: on-failure
    user: root
    group: root
    limits:
      descriptors: 256
    netns: true
    proxies:
      - {listen: tcp://127.0.0.1:7000, to: tcp://127.0.0.1:7000}
      - {listen: udp://127.0.0.1:7001, to: udp://127.0.0.1:7001}
      - {listen: unix:/run/echo.sock, to: unix:/echo.sock}
    endpoints:
      - {name: in, kind: fifo, mode: "0666"}
      - {name: out, kind: fifo, mode: "0666"}
      - {name: echo.sock, kind: unix, mode: "0666"}
`

// ErrPortsBusy is wrapped by the error of a run that cannot start the TA
// because its proxy ports are taken.
var ErrPortsBusy = errors.New("the TA's ports are in use")

// checkPorts reports whether the TA's proxy ports on 127.0.0.1 are free
// (0: none). TCP is probed as the proxy binds (SO_REUSEADDR, so
// connections in TIME_WAIT do not count); UDP without it, since two
// SO_REUSEADDR sockets could share the port and split the datagrams.
func checkPorts(tcpPort, udpPort int) error {
	if tcpPort != 0 {
		tcp, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(tcp)
		_ = unix.SetsockoptInt(tcp, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if err := unix.Bind(tcp, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: tcpPort}); err != nil {
			return fmt.Errorf("%w: TCP 127.0.0.1:%d: %v — is a tzbridge demo (tzbridge run) running? Stop it and retry", ErrPortsBusy, tcpPort, err)
		}
	}
	if udpPort != 0 {
		udp, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(udp)
		if err := unix.Bind(udp, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: udpPort}); err != nil {
			return fmt.Errorf("%w: UDP 127.0.0.1:%d: %v — is a tzbridge demo (tzbridge run) running? Stop it and retry", ErrPortsBusy, udpPort, err)
		}
	}
	return nil
}

// child is a tzbridge process the run started.
type child struct {
	*childproc.Process
	log *syncbuf.Buffer
}

// startChild starts cmd, collecting its output unless cmd already has a
// place for it; it dies with the bench process (package child).
func startChild(name string, cmd *exec.Cmd) (*child, error) {
	c := &child{}
	if cmd.Stderr == nil {
		c.log = &syncbuf.Buffer{}
		cmd.Stderr = c.log
		if cmd.Stdout == nil {
			cmd.Stdout = c.log
		}
	}
	p, err := childproc.Start(cmd, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.Process = p
	return c, nil
}

func (c *child) output() string {
	if c.log == nil {
		return ""
	}
	return c.log.String()
}

func (c *child) exited() bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// stop ends the child: SIGTERM, then SIGKILL after grace.
func (c *child) stop(grace time.Duration) {
	if c.exited() {
		return
	}
	_ = c.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.Done():
	case <-time.After(grace):
		_ = c.Cmd.Process.Kill()
		<-c.Done()
	}
}

// bridge is `tzbridge run` with the measured TA, on a temporary mount.
type bridge struct {
	*child
	dir, mount string
	tg         target
	transports []string
}

// startBridge runs `exe run` with configYAML and waits until tg answers
// on each of transports.
func startBridge(exe, configYAML string, tg target, transports []string, timeout time.Duration) (*bridge, error) {
	if err := checkPorts(tg.TCPPort, tg.UDPPort); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tzbridge-bench.")
	if err != nil {
		return nil, err
	}
	b := &bridge{dir: dir, mount: filepath.Join(dir, "tz"), tg: tg, transports: transports}
	cfg := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(cfg, []byte(configYAML), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(exe, "run", "--config", cfg, "--mount", b.mount, "--log-level", "warn")
	if b.child, err = startChild("tzbridge run", cmd); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := b.waitReady(timeout); err != nil {
		b.stop()
		return nil, err
	}
	return b, nil
}

func (b *bridge) endpoints() Endpoints { return b.tg.endpoints(b.mount) }

// waitReady waits for what the measured transports need: the FIFOs and
// the UNIX socket in the tree, the TCP listener, and a UDP echo (the UDP
// proxy answers only once the TA has bound its socket).
func (b *bridge) waitReady(timeout time.Duration) error {
	ep := b.endpoints()
	deadline := time.Now().Add(timeout)
	for {
		if b.exited() {
			return fmt.Errorf("tzbridge run exited before it was ready: %v\n%s", b.Err(), b.output())
		}
		if b.ready(ep) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tzbridge run not ready after %v\n%s", timeout, b.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *bridge) ready(ep Endpoints) bool {
	var paths []string
	if slices.Contains(b.transports, FIFO) {
		paths = append(paths, ep.FIFOIn, ep.FIFOOut)
	}
	if slices.Contains(b.transports, Unix) {
		paths = append(paths, ep.Unix)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	if slices.Contains(b.transports, TCP) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ep.TCPPort), time.Second)
		if err != nil {
			return false
		}
		c.Close()
	}
	if !slices.Contains(b.transports, UDP) {
		return true
	}
	u, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", ep.UDPPort))
	if err != nil {
		return false
	}
	defer u.Close()
	_ = u.SetDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := u.Write([]byte("ready?")); err != nil {
		return false
	}
	var buf [16]byte
	n, err := u.Read(buf[:])
	return err == nil && string(buf[:n]) == "ready?"
}

// stop ends the bridge and removes its directory; a mount the bridge
// failed to remove is detached first.
func (b *bridge) stop() {
	b.child.stop(10 * time.Second)
	_ = unix.Unmount(b.mount, unix.MNT_DETACH) // EINVAL when, as it should be, it is gone
	_ = os.RemoveAll(b.dir)
}
