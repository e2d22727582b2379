// Command fifoblock is a WebAssembly TA that trips over WASI preview 1's
// single thread: one goroutine opens the FIFO /in read-only, as plain Go
// does, which blocks the whole module until a writer opens it; another
// echoes on the preopened stream listener (descriptor 4). Until a CA
// opens /in for writing, the listener queues connections and nobody
// answers; the bridge's log says where the module is blocked.
package main

import (
	"io"
	"log"
	"net"
	"os"
)

func main() {
	log.SetFlags(0)
	f := os.NewFile(4, "preopen-4")
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		in, err := os.Open("/in") // blocks every goroutine until a writer comes
		if err != nil {
			log.Fatal(err)
		}
		log.Print("opened /in")
		io.Copy(io.Discard, in)
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}
