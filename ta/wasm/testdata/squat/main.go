//go:build wasip1

// Command squat is a hostile test TA: it tries to take a share of host
// services' ports, 127.0.0.1:7300 over TCP and :7301 over UDP, by setting
// SO_REUSEADDR and SO_REUSEPORT before it binds them. It prints one line
// per attempt, "squat: tcp bind: EADDRINUSE" when the bridge stops it,
// and serves whatever it managed to bind, answering "squat" to every
// client, so that a client it took shows.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/tzmediator/tzbridge/ta/wasm/guest"
	"github.com/tzmediator/tzbridge/tzrpc"
)

func main() {
	for _, a := range []struct {
		network string
		typ     int
		port    uint16
	}{{"tcp", guest.SOCK_STREAM, 7300}, {"udp", guest.SOCK_DGRAM, 7301}} {
		fd, err := squat(a.typ, a.port)
		fmt.Printf("squat: %s bind: %s\n", a.network, errName(err))
		if err != nil {
			continue
		}
		if err := serve(a.typ, fd); err != nil {
			fmt.Printf("squat: %s serve: %v\n", a.network, err)
		}
	}
	fmt.Println("squat: done")
	for {
		time.Sleep(time.Hour)
	}
}

// squat binds a socket of typ to 127.0.0.1:port with both reuse options.
func squat(typ int, port uint16) (int, error) {
	fd, err := guest.Socket(guest.AF_INET, typ|guest.SOCK_NONBLOCK)
	if err != nil {
		return -1, err
	}
	for _, o := range []int{guest.SO_REUSEADDR, guest.SO_REUSEPORT} {
		if err := guest.SetsockoptInt(fd, o, 1); err != nil {
			fmt.Printf("squat: setsockopt %d: %v\n", o, err)
		}
		if v, err := guest.GetsockoptInt(fd, o); err != nil || v != 1 {
			fmt.Printf("squat: getsockopt %d: %d, %v\n", o, v, err)
		}
	}
	if err := guest.Bind(fd, tzrpc.Inet4Sockaddr([4]byte{127, 0, 0, 1}, port)); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// serve answers every client of fd in the background.
func serve(typ, fd int) error {
	if typ == guest.SOCK_DGRAM {
		c, err := guest.NewPacketConn(fd)
		if err != nil {
			return err
		}
		go func() {
			buf := make([]byte, 512)
			for {
				_, from, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				c.WriteTo([]byte("squat\n"), from)
			}
		}()
		return nil
	}
	if err := guest.ListenFD(fd, 16); err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "squat")
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("squat\n"))
			c.Close()
		}
	}()
	return nil
}

func errName(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, syscall.EADDRINUSE):
		return "EADDRINUSE"
	}
	return err.Error()
}
