//go:build cgo

// Package wasitest tests the C WASI layer (ta/c/wasi) through cgo, over a
// fake libtzposix that records each call and answers what a test sets:
// the same checks as ta/wasm's host-function tests (pointer validation,
// errno mapping, paths, path_open flags, poll_oneoff) and fuzz targets
// over the guest's inputs. After changing ../wasi.c run go test -a (the
// C file is included from outside the package: the build cache does not
// see it change).
package wasitest

/*
#cgo CFLAGS: -std=c99 -Wall -Wextra -Wno-unused-parameter -I${SRCDIR}/../../include -I${SRCDIR}/../../gp-subset -I${SRCDIR}/..
#include <stdlib.h>
#include "fake.h"
uint16_t tzwasi_errno(int e);
*/
import "C"

import "unsafe"

// layer is one WASI layer with its guest memory (C memory).
type layer struct {
	w   *C.struct_tzwasi
	mem []byte
}

func newLayer(size int) *layer {
	C.fk_reset()
	w := C.fk_new(C.uint32_t(size))
	return &layer{w: w, mem: unsafe.Slice((*byte)(unsafe.Pointer(C.fk_mem(w))), size)}
}

func (l *layer) free()         { C.fk_free(l.w) }
func (l *layer) guardOK() bool { return C.fk_guard_ok(l.w) != 0 }
func (l *layer) addDir(p string) uint32 {
	cs := C.CString(p)
	defer C.free(unsafe.Pointer(cs))
	return uint32(C.fk_add_dir(l.w, cs))
}

// call runs function fn (fk_call's numbering) with args.
func (l *layer) call(fn int, args ...uint64) int {
	var a [10]C.uint64_t
	for i, v := range args {
		a[i] = C.uint64_t(v)
	}
	return int(C.fk_call(l.w, C.int(fn), &a[0]))
}

func nfuncs() int { return int(C.fk_nfuncs()) }

// The fake's state.
func setRet(ret int64, errno int) { C.fk.ret, C.fk.err = C.int64_t(ret), C.int(errno) }
func setData(b []byte) {
	d := unsafe.Slice((*byte)(unsafe.Pointer(&C.fk.data[0])), len(C.fk.data))
	copy(d, b)
}
func calls() int                  { return int(C.fk.calls) }
func lastCall() string            { return C.GoString(&C.fk.last[0]) }
func lastPath() string            { return C.GoString(&C.fk.path[0]) }
func lastPath2() string           { return C.GoString(&C.fk.path2[0]) }
func lastArg(i int) int64         { return int64(C.fk.a[i]) }
func setGetsockopt(v int64)       { C.fk.a[5] = C.int64_t(v) }
func setClock(id int, ns uint64)  { C.fk.clock[id] = C.uint64_t(ns) }
func sent() []byte                { return C.GoBytes(unsafe.Pointer(&C.fk.sent[0]), C.int(C.fk.sent_len)) }
func pollTimeout() int            { return int(C.fk.poll_timeout) }
func setRevents(i int, r int16)   { C.fk.poll_revents[i] = C.short(r) }
func logLines() int               { return int(C.fk.nlog) }
func logLine(i int) (int, string) { return int(C.fk.log_stream[i]), C.GoString(&C.fk.log_line[i][0]) }
func logLen(i int) int            { return int(C.fk.log_len[i]) }
func setAddr(b []byte) {
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&C.fk.addr[0])), len(C.fk.addr)), b)
	C.fk.addr_len = C.uint32_t(len(b))
}
func gotAddr() []byte { return C.GoBytes(unsafe.Pointer(&C.fk.addr[0]), C.int(C.fk.addr_len)) }

// pollEntries returns the fds and events the last poll carried.
func pollEntries() (fds []int, events []int16) {
	for i := 0; i < int(C.fk.npoll); i++ {
		fds = append(fds, int(C.fk.poll_fd[i]))
		events = append(events, int16(C.fk.poll_events[i]))
	}
	return fds, events
}

func errnoOf(linux int) int { return int(C.tzwasi_errno(C.int(linux))) }

func (l *layer) preopen(spec string) int {
	cs := C.CString(spec)
	defer C.free(unsafe.Pointer(cs))
	return int(C.fk_preopen(l.w, cs))
}
