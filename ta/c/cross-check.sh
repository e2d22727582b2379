#!/bin/sh
# cross-check.sh - compiles libtzposix and the example TA as OP-TEE would
# build them, for aarch64 and arm, against the GP subset (gp-subset/):
# freestanding, -Wall -Wextra -Werror. Also runs the coroutine switch test
# (test/coro_test.c) natively and, where qemu-user and the cross C
# libraries are installed, for aarch64 and arm.
#
# Compilers that are not installed are skipped (and reported). Exit status
# 0: every available check passed; 77: no cross compiler at all.
#
# Debian packages: gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf (the
# compile check); qemu-user libc6-dev-arm64-cross libc6-dev-armhf-cross (to
# run the coroutine test for those targets too).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
warn="-std=c99 -Wall -Wextra -Werror"
# The warnings OP-TEE builds TAs with, on top.
optee_warn="-Wmissing-prototypes -Wmissing-declarations -Wstrict-prototypes -Wshadow -Wpointer-arith -Wredundant-decls -Wold-style-definition -Wundef -Wcast-align -Wnested-externs -Wformat=2 -Wswitch-default"
inc="-I$here/include/compat -I$here/include -I$here/gp-subset -I$here/examples/echo/ta -I$here/examples/echo/ta/include"
srcs="$here/src/codec.c $here/src/posix.c $here/src/entry.c $here/src/coro_init.c $here/src/coro.S $here/examples/echo/ta/echo_ta.c"
found=0

compile() { # compiler, flags...
	cc=$1
	shift
	for s in $srcs; do
		o="$tmp/$(basename "$s").o"
		"$cc" $warn $optee_warn -ffreestanding -O2 -fpie "$@" $inc -c "$s" -o "$o"
	done
	echo "compiled: $cc $*"
}

coro() { # compiler, runner... ($cflags: extra flags)
	cc=$1
	shift
	if ! "$cc" $warn -O2 ${cflags:-} -static -o "$tmp/coro" "$here/test/coro_test.c" "$here/src/coro_init.c" "$here/src/coro.S" 2>"$tmp/link.log"; then
		echo "coroutine test: cannot link with $cc (no C library for it?), skipped"
		return 0
	fi
	if [ $# -gt 0 ] && ! command -v "$1" >/dev/null 2>&1; then
		echo "coroutine test: $1 not installed, skipped for $cc"
		return 0
	fi
	printf '%s %s: ' "$cc" "${cflags:-}"
	"$@" "$tmp/coro"
}

if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
	found=1
	compile aarch64-linux-gnu-gcc
	compile aarch64-linux-gnu-gcc -mgeneral-regs-only
	compile aarch64-linux-gnu-gcc -mbranch-protection=standard
	compile aarch64-linux-gnu-gcc -DTZPOSIX_READAHEAD_BYTES=0
	coro aarch64-linux-gnu-gcc qemu-aarch64
else
	echo "aarch64-linux-gnu-gcc not installed: aarch64 not checked"
fi
if command -v arm-linux-gnueabihf-gcc >/dev/null 2>&1; then
	found=1
	compile arm-linux-gnueabihf-gcc -marm
	compile arm-linux-gnueabihf-gcc -mthumb
	compile arm-linux-gnueabihf-gcc -mthumb -mfloat-abi=soft
	compile arm-linux-gnueabihf-gcc -mthumb -DTZPOSIX_READAHEAD_BYTES=0
	cflags=-marm coro arm-linux-gnueabihf-gcc qemu-arm
	cflags=-mthumb coro arm-linux-gnueabihf-gcc qemu-arm
else
	echo "arm-linux-gnueabihf-gcc not installed: arm not checked"
fi
if command -v gcc >/dev/null 2>&1; then
	coro gcc
	cflags=-DTZPOSIX_CORO_UCONTEXT coro gcc
fi
[ "$found" = 1 ] || exit 77
