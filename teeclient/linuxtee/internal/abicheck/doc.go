// Package abicheck reports the layout of <linux/tee.h> as this machine's C
// compiler sees it: structure sizes, field offsets, ioctl request numbers
// and constants. linuxtee's ABI test compares its Go mirrors with it.
//
// It needs cgo and the kernel headers (linux-libc-dev), so it is built
// only with the teeabi tag:
//
//	go test -tags teeabi ./teeclient/linuxtee/...
//
// Without the tag the package is empty.
package abicheck
