// Package fuzz tests libtzposix's C code from Go, through cgo: the
// response decoder and checker (ta/c/src/codec.c) against package tzrpc's
// DecodeResponse and CheckResponse, which must accept and reject exactly
// the same responses (FuzzCResult), the POSIX calls (ta/c/src/posix.c)
// against a lying shadow, which must never get anything past them, and the
// library's copy of the socket-option table against tzrpc's
// (TestCSockoptTable).
//
// It is test-only: nothing imports it, so the tzbridge binary stays free
// of cgo. Without cgo it holds no tests.
//
// Seeds run with go test; to fuzz, for example for 30 seconds:
//
//	go test ./ta/c/fuzz -run '^$' -fuzz '^FuzzCResult$' -fuzztime 30s
package fuzz
