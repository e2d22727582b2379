//go:build cgo

/* libtzposix's codec, compiled into package fuzz. */
#include "../src/codec.c"
