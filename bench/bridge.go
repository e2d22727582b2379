package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	childproc "github.com/tzmediator/tzbridge/internal/child"
	"github.com/tzmediator/tzbridge/internal/syncbuf"
	"github.com/tzmediator/tzbridge/ta/echo"
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

// ErrPortsBusy is wrapped by the error of a run that cannot start the echo
// TA because its fixed ports are taken.
var ErrPortsBusy = errors.New("the echo TA's ports are in use")

// checkEchoPorts reports whether the echo TA's fixed ports are free. TCP is
// probed as the TA binds (SO_REUSEADDR, so connections in TIME_WAIT do not
// count); UDP without it, since two SO_REUSEADDR sockets could share the
// port and split the datagrams.
func checkEchoPorts() error {
	tcp, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(tcp)
	_ = unix.SetsockoptInt(tcp, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(tcp, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: echo.TCPPort}); err != nil {
		return fmt.Errorf("%w: TCP 127.0.0.1:%d: %v — is a tzbridge demo (tzbridge run) running? Stop it and retry", ErrPortsBusy, echo.TCPPort, err)
	}
	udp, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(udp)
	if err := unix.Bind(udp, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: echo.UDPPort}); err != nil {
		return fmt.Errorf("%w: UDP 127.0.0.1:%d: %v — is a tzbridge demo (tzbridge run) running? Stop it and retry", ErrPortsBusy, echo.UDPPort, err)
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

// bridge is `tzbridge run` with the echo TA, on a temporary mount.
type bridge struct {
	*child
	dir, mount string
}

// startBridge runs `exe run` with configYAML and waits until the echo TA
// answers on every transport.
func startBridge(exe, configYAML string, timeout time.Duration) (*bridge, error) {
	if err := checkEchoPorts(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tzbridge-bench.")
	if err != nil {
		return nil, err
	}
	b := &bridge{dir: dir, mount: filepath.Join(dir, "tz")}
	cfg := filepath.Join(dir, "echo.yaml")
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

func (b *bridge) endpoints() Endpoints {
	root := filepath.Join(b.mount, "echo")
	return Endpoints{
		FIFOIn:  filepath.Join(root, echo.FIFOIn),
		FIFOOut: filepath.Join(root, echo.FIFOOut),
		Unix:    filepath.Join(root, echo.UnixPath),
		TCPPort: echo.TCPPort,
		UDPPort: echo.UDPPort,
	}
}

// waitReady waits for the FIFOs and the UNIX socket in the tree, the TCP
// listener, and a UDP echo (the TA binds UDP last).
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
	for _, p := range []string{ep.FIFOIn, ep.FIFOOut, ep.Unix} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ep.TCPPort), time.Second)
	if err != nil {
		return false
	}
	c.Close()
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
