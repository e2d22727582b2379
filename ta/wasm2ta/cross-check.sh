#!/bin/sh
# cross-check.sh DIR [TZPOSIX_DIR] - compiles a TA source directory that
# wasm2ta wrote as OP-TEE's TA dev kit would, for aarch64 and arm, with
# the flags ta/c/cross-check.sh checks libtzposix with: freestanding,
# -Wall -Wextra -Werror and the warnings OP-TEE builds TAs with, against
# the GP subset (ta/c/gp-subset) and the directory's optee-include/ (the
# math.h and alloca.h OP-TEE lacks). Compile only: linking needs the dev
# kit. Exit status 1 if a compiler is missing.
#
# Debian packages: gcc-aarch64-linux-gnu libc6-dev-arm64-cross
# gcc-arm-linux-gnueabihf libc6-dev-armhf-cross.
set -eu
if [ $# -lt 1 ]; then
	echo "usage: $0 DIR [TZPOSIX_DIR]" >&2
	exit 2
fi
dir=$(cd "$1" && pwd)
tz=$(cd "${2:-$(dirname "$0")/../c}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
warn="-std=c99 -Wall -Wextra -Werror"
optee_warn="-Wmissing-prototypes -Wmissing-declarations -Wstrict-prototypes -Wshadow -Wpointer-arith -Wredundant-decls -Wold-style-definition -Wundef -Wcast-align -Wnested-externs -Wformat=2 -Wswitch-default"
inc="-I$dir/optee-include -I$dir -I$tz/include -I$tz/gp-subset"
# The flags the generated sub.mk gives (cflags-y).
defs=$(sed -n 's/^cflags-y += //p' "$dir/sub.mk")
srcs="$dir/wasm_module.c $dir/ta_main.c $dir/wasi.c $dir/wasi_gp.c $dir/wasm_rt_ta.c $tz/src/codec.c $tz/src/posix.c $tz/src/entry.c $tz/src/coro_init.c $tz/src/coro.S"

compile() { # compiler, flags...
	cc=$1
	shift
	if ! command -v "$cc" >/dev/null 2>&1; then
		echo "$cc not installed" >&2
		exit 1
	fi
	for s in $srcs; do
		"$cc" $warn $optee_warn -ffreestanding -O2 -fpie $defs "$@" $inc -c "$s" -o "$tmp/$(basename "$s").o"
	done
	echo "compiled: $cc $*"
}

compile aarch64-linux-gnu-gcc

compile arm-linux-gnueabihf-gcc -mthumb
