package tzrpc

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"syscall"
	"testing"
)

func TestErrnoNames(t *testing.T) {
	for _, c := range []struct {
		e    Errno
		n    uint32
		name string
	}{
		{EPERM, 1, "EPERM"}, {EAGAIN, 11, "EAGAIN"}, {EINVAL, 22, "EINVAL"}, {ENOSYS, 38, "ENOSYS"},
		{ENOTSOCK, 88, "ENOTSOCK"}, {EAFNOSUPPORT, 97, "EAFNOSUPPORT"}, {EINPROGRESS, 115, "EINPROGRESS"},
		{ECANCELED, 125, "ECANCELED"},
	} {
		if uint32(c.e) != c.n || c.e.String() != c.name || !c.e.Valid() || c.e.Error() == c.name {
			t.Errorf("%d: String %q Error %q Valid %v", c.n, c.e.String(), c.e.Error(), c.e.Valid())
		}
	}
	if Errno(0).Valid() || Errno(134).Valid() || !Errno(133).Valid() || !Errno(62).Valid() {
		t.Error("Valid range is 1..133")
	}
	if Errno(62).String() != "errno(62)" || Errno(134).Error() != "errno(134)" {
		t.Errorf("unnamed: %q %q", Errno(62).String(), Errno(134).Error())
	}
}

func TestErrnoSyscall(t *testing.T) {
	for e := Errno(1); e <= MaxErrno; e++ {
		if errnoTable[e].name == "" {
			if e.Syscall() != syscall.EIO {
				t.Errorf("unnamed %d maps to %v, want EIO", e, e.Syscall())
			}
			continue
		}
		h := e.Syscall()
		if back := ErrnoFromSyscall(h); back != e {
			t.Errorf("%v -> %d -> %v", e, h, back)
		}
		// Numerically equal to Linux's generic numbering, where the host is Linux.
		if runtime.GOOS == "linux" && uint32(h) != uint32(e) {
			t.Errorf("%v: host %d differs on a Linux-numbered host", e, h)
		}
	}
	if ErrnoFromSyscall(0) != 0 || ErrnoFromSyscall(syscall.Errno(4000)) != EIO {
		t.Error("0 must stay 0, unknown must become EIO")
	}
}

func TestErrnoOf(t *testing.T) {
	tests := []struct {
		err  error
		want Errno
	}{
		{nil, 0},
		{ENOENT, ENOENT},
		{fmt.Errorf("wrapped: %w", EPIPE), EPIPE},
		{Errno(0), EIO},
		{Errno(500), EIO},
		{syscall.ECONNRESET, ECONNRESET},
		{fmt.Errorf("open: %w", syscall.ENOENT), ENOENT},
		{io.EOF, EIO},
		{&DecodeError{Header: "request", Kind: ErrUnknownOp}, ENOSYS},
	}
	for _, tt := range tests {
		if got := ErrnoOf(tt.err); got != tt.want {
			t.Errorf("ErrnoOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	var e Errno
	if !errors.As(error(EBADF), &e) || e != EBADF {
		t.Error("Errno is not an error value")
	}
}
