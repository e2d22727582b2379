//go:build wasip1

// Command probe exercises, from inside a wasm TA, what the host offers Go
// programs: files and directories through os, a FIFO, timers, TCP, UNIX and
// UDP sockets made with ta/wasm/guest, the preopened listener (fd 4), and
// deadlines. It prints "probe: ok" and exits 0, or says what failed and
// exits 1.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/tzmediator/tzbridge/ta/wasm/guest"
)

func main() {
	steps := []struct {
		name string
		fn   func() error
	}{
		{"files", files},
		{"fifo", fifo},
		{"timers", timers},
		{"preopened listener", preopened},
		{"unix", func() error { return streams("unix", "/s.sock") }},
		{"tcp", func() error { return streams("tcp", "127.0.0.1:0") }},
		{"udp", udp},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			fmt.Printf("probe: %s: %v\n", s.name, err)
			os.Exit(1)
		}
		fmt.Printf("probe: %s ok\n", s.name)
	}
	fmt.Println("probe: ok")
}

func files() error {
	if err := os.Mkdir("/d", 0o755); err != nil {
		return err
	}
	// The shadow serves FIFOs, sockets and directories, not regular files.
	if err := os.WriteFile("/d/regular", []byte("x"), 0o644); !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("creating a regular file: %v, want ENOTSUP", err)
	}
	if err := guest.Mkfifo("/d/f", 0o600); err != nil {
		return err
	}
	if err := guest.Mkfifo("d/f", 0o600); !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("mkfifo over a FIFO: %v", err)
	}
	if err := os.Rename("/d/f", "/d/g"); err != nil {
		return err
	}
	if fi, err := os.Stat("/d"); err != nil || !fi.IsDir() {
		return fmt.Errorf("stat /d: %v, %v", fi, err)
	}
	if fi, err := os.Stat("d/g"); err != nil || fi.IsDir() {
		return fmt.Errorf("stat d/g: %v, %v", fi, err)
	}
	if _, err := os.Stat("/d/f"); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat of a renamed FIFO: %v", err)
	}
	if _, err := os.Stat("/d/g/x"); err == nil {
		return errors.New("stat under a FIFO succeeded")
	}
	if _, err := os.Stat("/../../../etc"); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat of /etc, outside the root: %v", err)
	}
	if err := os.Remove("/d"); err == nil {
		return errors.New("removed a directory that is not empty")
	}
	if err := os.Remove("/d/g"); err != nil {
		return err
	}
	return os.Remove("/d")
}

func fifo() error {
	if err := guest.Mkfifo("/p", 0o600); err != nil {
		return err
	}
	// Nonblocking write-only open without a reader: ENXIO, not a stall.
	if _, err := guest.OpenFile("/p", os.O_WRONLY|guest.O_NONBLOCK, 0); err == nil {
		return errors.New("nonblocking open for writing without a reader succeeded")
	}
	r, err := guest.OpenFile("/p", os.O_RDONLY|guest.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.OpenFile("/p", os.O_WRONLY, 0) // a reader exists: no wait
	if err != nil {
		return err
	}
	want := bytes.Repeat([]byte("fifo!"), 40000) // more than a pipe holds
	go func() {
		w.Write(want)
		w.Close()
	}()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, want) {
		return fmt.Errorf("read %d bytes of %d: %v", len(got), len(want), err)
	}
	return os.Remove("/p")
}

func timers() error {
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { time.Sleep(time.Duration(i) * 3 * time.Millisecond) })
	}
	wg.Wait()
	select {
	case <-time.After(5 * time.Millisecond):
	case <-time.After(time.Hour):
		return errors.New("wrong timer fired")
	}
	if time.Since(start) < 27*time.Millisecond {
		return fmt.Errorf("timers fired early: %v", time.Since(start))
	}
	return nil
}

func preopened() error {
	l, err := net.FileListener(os.NewFile(4, "preopen"))
	if err != nil {
		return err
	}
	defer l.Close()
	return echoOver(l, func() (net.Conn, error) { return guest.Dial("unix", "/pre.sock") })
}

func streams(network, addr string) error {
	l, err := guest.Listen(network, addr)
	if err != nil {
		return err
	}
	defer l.Close()
	return echoOver(l, func() (net.Conn, error) { return guest.Dial(network, l.Addr().String()) })
}

// echoOver serves an echo on l and checks it with several clients at once.
func echoOver(l net.Listener, dial func() (net.Conn, error)) error {
	const clients = 5
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	errs := make(chan error, clients)
	for i := range clients {
		go func() {
			c, err := dial()
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			msg := bytes.Repeat([]byte{byte('a' + i)}, 100000+i)
			go func() {
				c.Write(msg)
				c.(interface{ CloseWrite() error }).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err == nil && !bytes.Equal(got, msg) {
				err = fmt.Errorf("client %d: echo of %d bytes came back as %d", i, len(msg), len(got))
			}
			errs <- err
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

func udp() error {
	a, err := guest.ListenUDP("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := guest.ListenUDP("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer b.Close()
	// A read with a deadline and nothing to read times out.
	a.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, _, err := a.ReadFrom(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("read past the deadline: %v", err)
	}
	a.SetReadDeadline(time.Time{})
	if _, err := b.WriteTo([]byte("ping"), a.LocalAddr()); err != nil {
		return err
	}
	buf := make([]byte, 100)
	n, from, err := a.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" || from.String() != b.LocalAddr().String() {
		return fmt.Errorf("got %q from %v (want ping from %v): %v", buf[:n], from, b.LocalAddr(), err)
	}
	return nil
}
