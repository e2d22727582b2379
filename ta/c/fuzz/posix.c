//go:build cgo

/* libtzposix's calls, compiled into package fuzz. */
#include "../src/posix.c"
