package control

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// maxFDs bounds the descriptors one message carries.
const maxFDs = 16

// SendFDs sends msg on c with fds attached (SCM_RIGHTS). The descriptors
// stay the caller's.
func SendFDs(c *net.UnixConn, msg []byte, fds ...int) error {
	if len(fds) > maxFDs {
		return fmt.Errorf("control: %d descriptors in one message, at most %d", len(fds), maxFDs)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, oobn, err := c.WriteMsgUnix(msg, oob, nil)
	if err != nil {
		return fmt.Errorf("control: send: %w", err)
	}
	if n != len(msg) || oobn != len(oob) {
		return fmt.Errorf("control: send: short write (%d of %d bytes)", n, len(msg))
	}
	return nil
}

// RecvFDs receives one message into buf and the descriptors that came with
// it, which become the caller's (O_CLOEXEC).
func RecvFDs(c *net.UnixConn, buf []byte) (n int, fds []int, err error) {
	oob := make([]byte, unix.CmsgSpace(maxFDs*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return 0, nil, err
	}
	if oobn > 0 {
		msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
		if perr != nil {
			return 0, nil, fmt.Errorf("control: receive: %w", perr)
		}
		for _, m := range msgs {
			got, rerr := unix.ParseUnixRights(&m)
			if rerr == nil {
				fds = append(fds, got...)
			}
		}
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return 0, nil, errors.New("control: receive: message truncated")
	}
	return n, fds, nil
}
