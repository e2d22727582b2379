//go:build wasip1

// Command echo is the echo TA as an ordinary Go program for GOOS=wasip1,
// written with nothing but os and net: it runs as a TA under tzbridge's
// WebAssembly host unchanged.
//
// It echoes bytes from the FIFO /in to the FIFO /out (declare both as fifo
// endpoints in the configuration), and every connection on the stream
// sockets the configuration's listen list preopens for it (descriptors 4,
// 5, … — tcp:// and unix: entries), each connection on its own goroutine.
// A ticker reports what it has served; idle connections are closed after
// a timeout.
//
//	GOOS=wasip1 GOARCH=wasm go build -o echo.wasm ./ta/wasm/examples/echo
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// idleTimeout closes a connection that sends nothing for this long.
const idleTimeout = 5 * time.Minute

// served counts connections, and bytes echoed.
var served, echoed atomic.Int64

func main() {
	log.SetFlags(0)
	log.SetPrefix("echo: ")
	listeners := 0
	// Preopened sockets follow the root directory (3). A descriptor that
	// is not a stream socket is closed, unused; the first that does not
	// exist ends the list. Every *os.File made here is closed at once, so
	// that no finalizer closes its number later, when it may name
	// something else.
	for fd := 4; ; fd++ {
		f := os.NewFile(uintptr(fd), fmt.Sprintf("preopen-%d", fd))
		l, err := net.FileListener(f)
		f.Close() // a listener holds its own reference
		if errors.Is(err, syscall.EBADF) {
			break
		}
		if err != nil {
			log.Printf("descriptor %d: %v (not served)", fd, err)
			continue
		}
		listeners++
		go serve(l, fd)
	}
	go fifo()
	log.Printf("serving %d listeners and /in → /out", listeners)
	for range time.Tick(time.Minute) {
		log.Printf("%d connections, %d bytes echoed", served.Load(), echoed.Load())
	}
}

func serve(l net.Listener, fd int) {
	for {
		c, err := l.Accept()
		if err != nil {
			log.Printf("listener %d: accept: %v", fd, err)
			time.Sleep(50 * time.Millisecond) // e.g. out of descriptors
			continue
		}
		served.Add(1)
		go echo(c)
	}
}

// echo copies what the client sends back to it until the client has
// finished sending, then closes.
func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(idleTimeout))
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
			echoed.Add(int64(n))
		}
		if err != nil {
			return // io.EOF: the client is done
		}
	}
}

// fifo echoes /in to /out. Both are opened read-write: on Linux that never
// waits for the other end (a plain open would block the whole module until
// a client came), and the TA holding both ends means neither ever sees a
// spurious end of file or EPIPE between clients.
func fifo() {
	in, err := os.OpenFile("/in", os.O_RDWR, 0)
	if err != nil {
		log.Printf("no FIFO echo: %v", err)
		return
	}
	out, err := os.OpenFile("/out", os.O_RDWR, 0)
	if err != nil {
		log.Printf("no FIFO echo: %v", err)
		return
	}
	n, err := io.Copy(out, in)
	log.Printf("FIFO echo stopped after %d bytes: %v", n, err)
}
