//go:build wasip1

// Command udpecho is a UDP echo TA for tzbridge's WebAssembly host. WASI
// preview 1 cannot create sockets or tell who sent a datagram, so it uses
// package ta/wasm/guest: ListenUDP makes the socket through the host's
// tzposix module and returns a net.PacketConn whose ReadFrom and WriteTo
// wait in Go's poller like any net connection.
//
// It answers every datagram on 127.0.0.1:7101 with the same bytes, to the
// sender — or on the first datagram socket the configuration's listen
// list preopens, if there is one.
//
//	GOOS=wasip1 GOARCH=wasm go build -o udpecho.wasm ./ta/wasm/examples/udpecho
package main

import (
	"log"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tzmediator/tzbridge/ta/wasm/guest"
)

const defaultAddr = "127.0.0.1:7101"

func main() {
	log.SetFlags(0)
	log.SetPrefix("udpecho: ")
	pc, err := listen()
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("echoing datagrams on %v", pc.LocalAddr())
	var n atomic.Int64
	go func() {
		for range time.Tick(time.Minute) {
			log.Printf("%d datagrams echoed", n.Load())
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		k, from, err := pc.ReadFrom(buf)
		if err != nil {
			log.Printf("read: %v", err)
			continue
		}
		if _, err := pc.WriteTo(buf[:k], from); err != nil {
			log.Printf("write to %v: %v", from, err)
			continue
		}
		n.Add(1)
	}
}

// listen takes the first preopened datagram socket, else binds its own.
func listen() (net.PacketConn, error) {
	for fd := 4; ; fd++ {
		typ, err := guest.GetsockoptInt(fd, guest.SO_TYPE)
		if err == syscall.EBADF {
			break
		}
		if err == nil && typ == guest.SOCK_DGRAM {
			return guest.NewPacketConn(fd)
		}
	}
	return guest.ListenUDP(defaultAddr)
}
