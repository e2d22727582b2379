// Package seqpacket makes connected pairs of SOCK_SEQPACKET UNIX sockets,
// the message sockets tzbridge's processes talk over (the simulator's
// admin socket, a shadow's control socket).
package seqpacket

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Pair returns both ends of a new connected pair.
func Pair() (a, b *net.UnixConn, err error) {
	mine, theirs, err := ForChild()
	if err != nil {
		return nil, nil, err
	}
	defer theirs.Close()
	b, err = conn(theirs)
	if err != nil {
		mine.Close()
		return nil, nil, err
	}
	return mine, b, nil
}

// ForChild returns a new connected pair: one end to use here, the other as
// a file to hand to a child process (exec.Cmd.ExtraFiles), which the
// caller closes once the child has it.
func ForChild() (mine *net.UnixConn, theirs *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	theirs = os.NewFile(uintptr(fds[1]), "seqpacket")
	if mine, err = conn(os.NewFile(uintptr(fds[0]), "seqpacket")); err != nil {
		theirs.Close()
		return nil, nil, err
	}
	return mine, theirs, nil
}

// conn turns f into a connection and closes f (the connection holds a
// duplicate).
func conn(f *os.File) (*net.UnixConn, error) {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("socket pair: %w", err)
	}
	return c.(*net.UnixConn), nil
}
