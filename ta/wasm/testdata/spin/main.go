//go:build wasip1

// Command spin is a test TA that never yields: after saying so it loops
// for ever without a call, so only the host can stop it.
package main

import "fmt"

var n uint64

func main() {
	fmt.Println("spin: spinning")
	for {
		n++
	}
}
