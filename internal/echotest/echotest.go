// Package echotest is what the tests of tzbridge's echo TAs (built-in, C,
// wasm, through tzbridge run or a bare shadow) check an echo with, as an
// unmodified CA would: plain net and io calls, byte-exact comparison.
package echotest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Payload returns n bytes that differ at every offset, so that a lost,
// repeated or reordered chunk shows.
func Payload(n int) []byte {
	b := make([]byte, n)
	var x uint32 = 2463534242
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// StreamEcho connects to addr, writes msg while reading the echo, and
// compares.
func StreamEcho(network, addr string, msg []byte) error {
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		werr <- err
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("%s %d bytes: read: %w", network, len(msg), err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("%s %d bytes: write: %w", network, len(msg), err)
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("%s %d bytes: echo differs at %d", network, len(msg), FirstDiff(got, msg))
	}
	return nil
}

// UDPEcho sends msg to addr and checks that exactly msg comes back. UDP
// may drop under load: it retries a few times, but an answer must be exact.
func UDPEcho(addr string, msg []byte) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	got := make([]byte, 65536)
	for try := 0; try < 5; try++ {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(got)
		if err != nil {
			continue
		}
		if !bytes.Equal(got[:n], msg) {
			return fmt.Errorf("udp %s, %d bytes: got %d bytes back, differing at %d", addr, len(msg), n, FirstDiff(got[:n], msg))
		}
		return nil
	}
	return fmt.Errorf("udp %s, %d bytes: no echo after 5 tries", addr, len(msg))
}

// ReadExactly reads len(want) bytes from r within 20 s and compares them
// with want.
func ReadExactly(r io.Reader, want []byte) error {
	got := make([]byte, len(want))
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(r, got); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			return err
		}
	case <-time.After(20 * time.Second):
		return errors.New("no echo within 20s")
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("echo differs at %d", FirstDiff(got, want))
	}
	return nil
}

// FirstDiff is the first offset at which a and b differ (the shorter
// length if one is a prefix of the other).
func FirstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
