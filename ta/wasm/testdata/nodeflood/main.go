//go:build wasip1

// Command nodeflood is a hostile test TA: it creates FIFOs in its tree
// until the bridge refuses one, then checks that the refusal holds for a
// directory too and that removing a node makes room for exactly one. It
// prints "nodeflood: stopped after N: EDQUOT" and the results of the
// checks, then idles, holding its nodes.
package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/tzmediator/tzbridge/ta/wasm/guest"
)

// most bounds the flood, so that a bridge without a limit ends the test
// rather than the machine.
const most = 1 << 20

func main() {
	n := 0
	var err error
	for ; n < most; n++ {
		if err = guest.Mkfifo(fmt.Sprintf("/f%d", n), 0o600); err != nil {
			break
		}
	}
	fmt.Printf("nodeflood: stopped after %d: %s\n", n, errName(err))
	fmt.Printf("nodeflood: mkdir: %s\n", errName(os.Mkdir("/d", 0o755)))
	if err := os.Remove("/f0"); err != nil {
		fmt.Printf("nodeflood: remove: %v\n", err)
	}
	fmt.Printf("nodeflood: after a remove: %s, %s\n", errName(guest.Mkfifo("/again", 0o600)), errName(guest.Mkfifo("/again2", 0o600)))
	fmt.Println("nodeflood: done")
	for {
		time.Sleep(time.Hour)
	}
}

func errName(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, syscall.EDQUOT):
		return "EDQUOT"
	case errors.Is(err, syscall.ENOSPC):
		return "ENOSPC"
	}
	return err.Error()
}
