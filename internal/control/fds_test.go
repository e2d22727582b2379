package control

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/internal/seqpacket"
)

func TestSendRecvFDs(t *testing.T) {
	a, b, err := seqpacket.Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := SendFDs(a, []byte("hello"), int(w.Fd())); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, fds, err := RecvFDs(b, buf)
	if err != nil || string(buf[:n]) != "hello" || len(fds) != 1 {
		t.Fatalf("RecvFDs: %q, %v, %v", buf[:n], fds, err)
	}
	unix.Write(fds[0], []byte("x"))
	unix.Close(fds[0])
	got := make([]byte, 1)
	if _, err := r.Read(got); err != nil || got[0] != 'x' {
		t.Errorf("the passed descriptor does not reach the pipe: %q, %v", got, err)
	}
}
