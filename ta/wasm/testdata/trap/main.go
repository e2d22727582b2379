//go:build wasip1

// Command trap is a test TA that traps: it says so, waits a moment (a
// timer, so poll_oneoff runs), then reads far outside its linear memory,
// which WebAssembly turns into a trap, not a Go panic.
package main

import (
	"fmt"
	"time"
	"unsafe"
)

var sink byte

func main() {
	fmt.Println("trap: about to trap")
	time.Sleep(20 * time.Millisecond)
	// About 2 GiB past a global: beyond any memory the module has.
	p := (*byte)(unsafe.Add(unsafe.Pointer(&sink), 0x7ffffff0))
	sink = *p
	fmt.Println("trap: still alive?", sink)
}
