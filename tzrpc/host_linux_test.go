package tzrpc

import (
	"syscall"
	"testing"
)

func TestHostOpenFlags(t *testing.T) {
	tests := []struct {
		proto int64
		host  int
	}{
		{O_RDONLY, syscall.O_RDONLY},
		{O_WRONLY | O_CREAT | O_TRUNC, syscall.O_WRONLY | syscall.O_CREAT | syscall.O_TRUNC},
		{O_RDWR | O_EXCL | O_APPEND | O_NONBLOCK, syscall.O_RDWR | syscall.O_EXCL | syscall.O_APPEND | syscall.O_NONBLOCK},
		{O_RDONLY | O_DIRECTORY | O_CLOEXEC, syscall.O_DIRECTORY},
	}
	for _, tt := range tests {
		if got := HostOpenFlags(tt.proto); got != tt.host|syscall.O_CLOEXEC {
			t.Errorf("HostOpenFlags(%#x) = %#x, want %#x", tt.proto, got, tt.host|syscall.O_CLOEXEC)
		}
	}
	const largefile = 0x8000 // x86-64's O_LARGEFILE, which F_GETFL reports on 64-bit hosts
	if got := OpenFlagsFromHost(syscall.O_RDWR | syscall.O_NONBLOCK | syscall.O_APPEND | largefile); got != O_RDWR|O_NONBLOCK|O_APPEND {
		t.Errorf("OpenFlagsFromHost = %#x", got)
	}
	if got := OpenFlagsFromHost(syscall.O_WRONLY); got != O_WRONLY {
		t.Errorf("OpenFlagsFromHost(O_WRONLY) = %#x", got)
	}
}
