//go:build cgo

package fuzz

/*
#cgo CFLAGS: -std=c99 -I${SRCDIR}/../include -Wall -Wextra
#include <stdlib.h>
#include "harness.h"
*/
import "C"

import (
	"unsafe"
)

// taken is what fz_take decoded.
type taken struct {
	violation int
	ret       int64
	errno     int64
	plen      int64
	aux       [4]int64
}

func ptr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// cTake runs the C decoder and checker on mb for a request.
func cTake(mb []byte, op uint16, seq uint32, args [6]int64, plen uint32, reqPayload []byte, maxLen int) taken {
	var out [7]C.int64_t
	var cargs [6]C.int64_t
	for i, a := range args {
		cargs[i] = C.int64_t(a)
	}
	v := C.fz_take(ptr(mb), C.size_t(len(mb)), C.uint16_t(op), C.uint32_t(seq), &cargs[0],
		C.uint32_t(plen), ptr(reqPayload), C.size_t(maxLen), &out[0])
	return taken{violation: int(v), ret: int64(out[0]), errno: int64(out[1]), plen: int64(out[2]),
		aux: [4]int64{int64(out[3]), int64(out[4]), int64(out[5]), int64(out[6])}}
}

// The session harness: the shadow answers with what respond was given.
func setup(mbsize int)   { C.fz_setup(C.size_t(mbsize)) }
func respond(b []byte)   { C.fz_respond(ptr(b), C.size_t(len(b))) }
func nextSeq() uint32    { return uint32(C.fz_seq()) }
func violations() uint64 { return uint64(C.fz_violations()) }
func lastErrno() int     { return int(C.fz_errno()) }
func exchanges() int     { return int(C.fz_exchanges()) }
func unanswered() int    { return int(C.fz_unanswered()) }
func raUsed() int        { return int(C.fz_ra_used()) }

// sentRequest is the first n bytes of the last request sent.
func sentRequest(n int) []byte {
	return C.GoBytes(unsafe.Pointer(C.fz_mailbox()), C.int(n))
}

// cNextReadAhead runs tzp_next_readahead on b.
func cNextReadAhead(b []byte) (idx uint32, errno, alen uint16, dlen uint32, ok bool) {
	var out [4]C.int64_t
	if C.fz_next_readahead(ptr(b), C.size_t(len(b)), &out[0]) != 0 {
		return 0, 0, 0, 0, false
	}
	return uint32(out[0]), uint16(out[1]), uint16(out[2]), uint32(out[3]), true
}

func cOpen(path string, flags int) int {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	return int(C.fz_open(cs, C.int(flags)))
}

func cClose(fd int) int           { return int(C.fz_close(C.int(fd))) }
func cSocket(domain, typ int) int { return int(C.fz_socket(C.int(domain), C.int(typ))) }

func cRead(fd int, buf []byte) int {
	return int(C.fz_read(C.int(fd), ptr(buf), C.size_t(len(buf))))
}

func cWrite(fd int, buf []byte) int {
	return int(C.fz_write(C.int(fd), ptr(buf), C.size_t(len(buf))))
}

func cAccept(fd int, addr []byte) (int, int) {
	alen := C.uint32_t(len(addr))
	r := C.fz_accept(C.int(fd), ptr(addr), &alen)
	return int(r), int(alen)
}

func cRecv(fd int, buf []byte, flags int) int {
	return int(C.fz_recv(C.int(fd), ptr(buf), C.size_t(len(buf)), C.int(flags)))
}

func cRecvfrom(fd int, buf, addr []byte) (int, int) { return cRecvfromFlags(fd, buf, 0, addr) }

func cRecvfromFlags(fd int, buf []byte, flags int, addr []byte) (int, int) {
	alen := C.uint32_t(len(addr))
	r := C.fz_recvfrom(C.int(fd), ptr(buf), C.size_t(len(buf)), C.int(flags), ptr(addr), &alen)
	return int(r), int(alen)
}

func cPoll(fds []int32, events []int16, timeout int) (int, []int16) {
	n := len(fds)
	rev := make([]int16, n+1)
	var fp *C.int32_t
	var ep *C.int16_t
	if n > 0 {
		fp = (*C.int32_t)(unsafe.Pointer(&fds[0]))
		ep = (*C.int16_t)(unsafe.Pointer(&events[0]))
	}
	r := C.fz_poll(fp, ep, (*C.int16_t)(unsafe.Pointer(&rev[0])), C.size_t(n), C.int(timeout))
	return int(r), rev[:n]
}

func cGetsockopt(fd, level, opt int) (int, int) {
	var v C.int
	r := C.fz_getsockopt(C.int(fd), C.int(level), C.int(opt), &v)
	return int(r), int(v)
}

func cFcntlGetfl(fd int) int { return int(C.fz_fcntl_getfl(C.int(fd))) }
