// Package sdnotify tells a service manager how the service is doing: the
// sd_notify(3) protocol of systemd, without libsystemd. A notification is
// one datagram of newline-separated KEY=VALUE assignments sent to the
// AF_UNIX socket named by $NOTIFY_SOCKET — a path, or an abstract address
// written with a leading '@'. The manager learns the sender from the
// socket's credentials, so nothing else is needed.
//
// A nil *Notifier is valid and does nothing: outside a service manager
// (no $NOTIFY_SOCKET) callers need no special case.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// EnvSocket is the environment variable that names the socket.
const EnvSocket = "NOTIFY_SOCKET"

// Notifier sends notifications to one socket.
type Notifier struct {
	mu   sync.Mutex // one datagram at a time, in call order
	conn *net.UnixConn
}

// FromEnv opens the socket $NOTIFY_SOCKET names and removes the variable
// from the environment, so that child processes (which the manager would
// not listen to anyway under NotifyAccess=main) do not send to it. It
// returns nil, nil when the variable is unset: the service is not run by
// a manager that wants notifications.
func FromEnv() (*Notifier, error) {
	addr, ok := os.LookupEnv(EnvSocket)
	if !ok || addr == "" {
		return nil, nil
	}
	if err := os.Unsetenv(EnvSocket); err != nil {
		return nil, fmt.Errorf("sdnotify: unset %s: %w", EnvSocket, err)
	}
	return Open(addr)
}

// Open connects to the notification socket at addr: an absolute path or
// "@name" for an abstract address.
func Open(addr string) (*Notifier, error) {
	if !strings.HasPrefix(addr, "/") && !strings.HasPrefix(addr, "@") {
		// systemd also knows vsock:CID:PORT, for VMs; tzbridge runs on
		// the device itself.
		return nil, fmt.Errorf("sdnotify: %s=%q: want an absolute path or an @abstract address", EnvSocket, addr)
	}
	// Go's net package maps a leading '@' to the abstract namespace.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("sdnotify: connect to %s: %w", addr, err)
	}
	return &Notifier{conn: conn}, nil
}

// Notify sends the assignments (such as "READY=1") as one notification.
func (n *Notifier) Notify(assignments ...string) error {
	if n == nil || len(assignments) == 0 {
		return nil
	}
	for _, a := range assignments {
		if !strings.Contains(a, "=") || strings.Contains(a, "\n") {
			return fmt.Errorf("sdnotify: %q: want one KEY=VALUE without a newline", a)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.conn.Write([]byte(strings.Join(assignments, "\n") + "\n")); err != nil {
		return fmt.Errorf("sdnotify: send %s: %w", strings.Join(assignments, " "), err)
	}
	return nil
}

// Ready says start-up (or a reload) is complete: the service is serving.
func (n *Notifier) Ready() error { return n.Notify("READY=1") }

// Stopping says the service is shutting down.
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// Reloading says the service is re-reading its configuration; Ready
// follows when it is done. systemd (253 and later) pairs the reload with
// the monotonic time sent along, so it is included.
func (n *Notifier) Reloading() error {
	if n == nil {
		return nil
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return fmt.Errorf("sdnotify: read the monotonic clock: %w", err)
	}
	usec := ts.Nano() / 1000
	return n.Notify("RELOADING=1", fmt.Sprintf("MONOTONIC_USEC=%d", usec))
}

// Status sets the one-line status text `systemctl status` shows.
func (n *Notifier) Status(text string) error {
	// A newline would end the assignment early.
	return n.Notify("STATUS=" + strings.ReplaceAll(text, "\n", " "))
}

// Close closes the socket.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	if err := n.conn.Close(); err != nil {
		return fmt.Errorf("sdnotify: close: %w", err)
	}
	return nil
}
