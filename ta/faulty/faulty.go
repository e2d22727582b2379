// Package faulty is a built-in TA for fault-injection tests: a line echo
// server on the UNIX socket /faulty.sock whose clients can make it fail on
// purpose, the ways a real TA fails — panic, exit, or return an error — in
// the middle of a conversation.
//
// Commands, one per line: "panic", "exit" (status 0), "fail" (status 1);
// "connect IP:PORT" makes the TA connect to a TCP service there and answer
// "connected: <first line the service sent>" or "connect: <error>" (how
// tests see what a TA in its own network namespace may reach); any other
// line is echoed back.
package faulty

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/ta/tzposix"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// Path is where the TA listens, inside its root.
const Path = "/faulty.sock"

// Definition returns the TA at uuid.
func Definition(uuid gp.UUID) securesim.Definition {
	return tzposix.Definition("faulty", uuid, securesim.Properties{SingleInstance: true}, Program)
}

// Program serves one client at a time, which is all a fault test needs.
func Program(ctx context.Context, p *tzposix.Proc) error {
	addr, err := tzrpc.UnixSockaddr(Path)
	if err != nil {
		return err
	}
	ln, err := p.Socket(tzrpc.AF_UNIX, tzrpc.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	if err := p.Unlink(Path); err != nil && !errors.Is(err, syscall.ENOENT) {
		return err
	}
	if err := p.Bind(ln, addr); err != nil {
		return err
	}
	if err := p.Listen(ln, 16); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for ctx.Err() == nil {
		c, _, err := p.Accept(ln)
		if err != nil {
			return err
		}
		var line []byte
		for {
			n, err := p.Read(c, buf)
			if err != nil || n == 0 {
				break
			}
			line = append(line, buf[:n]...)
			for {
				i := bytes.IndexByte(line, '\n')
				if i < 0 {
					break
				}
				cmd := string(line[:i])
				if dest, ok := strings.CutPrefix(cmd, "connect "); ok {
					if _, err := p.Write(c, []byte(dial(p, dest)+"\n")); err != nil {
						break
					}
					line = line[i+1:]
					continue
				}
				switch cmd {
				case "panic":
					panic("faulty TA: panic requested by a client")
				case "exit":
					return nil
				case "fail":
					return errors.New("faulty TA: failure requested by a client")
				}
				if _, err := p.Write(c, line[:i+1]); err != nil {
					break
				}
				line = line[i+1:]
			}
		}
		p.Close(c)
	}
	return ctx.Err()
}

// dial connects to the TCP service at dest (IPv4 IP:PORT) and returns what
// to tell the client: the service's first line, or why it failed.
func dial(p *tzposix.Proc, dest string) string {
	ap, err := netip.ParseAddrPort(strings.TrimSpace(dest))
	if err != nil || !ap.Addr().Is4() {
		return fmt.Sprintf("connect: bad address %q", dest)
	}
	fd, err := p.Socket(tzrpc.AF_INET, tzrpc.SOCK_STREAM, 0)
	if err != nil {
		return fmt.Sprintf("connect: socket: %v", err)
	}
	defer p.Close(fd)
	if err := p.Connect(fd, tzrpc.Inet4Sockaddr(ap.Addr().As4(), ap.Port())); err != nil {
		return fmt.Sprintf("connect: %v", err)
	}
	buf := make([]byte, 256)
	n, err := p.Read(fd, buf)
	if err != nil {
		return fmt.Sprintf("connected, read: %v", err)
	}
	first, _, _ := strings.Cut(string(buf[:n]), "\n")
	return "connected: " + first
}
