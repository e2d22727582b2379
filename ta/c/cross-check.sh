#!/bin/sh
# cross-check.sh - compiles libtzposix and the example TA as OP-TEE's TA
# dev kit would build them, for aarch64 and arm, against the GP subset
# (gp-subset/): the dev kit's warnings with CFG_WERROR=y, its
# optimisation and code generation flags for ta_arm64 and ta_arm32. Also
# runs the coroutine switch test (test/coro_test.c) natively and, where
# qemu-user and the cross C libraries are installed, for aarch64 and arm.
#
# With OPTEE_INCLUDE set to OP-TEE's header directories (a dev kit's
# TA_DEV_KIT_DIR/include, or optee_os's lib/libutee/include
# lib/libutils/ext/include lib/libutils/isoc/include, space-separated) it
# also checks gp-subset against them, declaration by declaration
# (gp-subset/check.sh).
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
# What OP-TEE 4.10's TA dev kit compiles a TA's C files with: mk/compile.mk
# (-std=gnu11, -Werror from CFG_WERROR=y, and WARNS=3, the default: the
# high, medium and low warning sets, with the two cc-option ones GCC has)
# and core/arch/arm/arm.mk (ta_arm64 / ta_arm32 platform flags, -O$(CFG_CC_OPT_LEVEL)
# with CFG_CC_OPT_LEVEL=s, -g3 with CFG_DEBUG_INFO=y). The dev kit also
# gives -nostdinc and its own libc headers; -ffreestanding stands in for
# those here (stdint.h, stddef.h, stdbool.h from the compiler).
devkit_warn="-std=gnu11 -Werror -fdiagnostics-show-option
 -Wall -Wcast-align -Werror-implicit-function-declaration -Wextra -Wfloat-equal
 -Wformat-nonliteral -Wformat-security -Wformat=2 -Winit-self
 -Wmissing-declarations -Wmissing-format-attribute -Wmissing-include-dirs
 -Wmissing-noreturn -Wmissing-prototypes -Wnested-externs -Wpointer-arith
 -Wshadow -Wstrict-prototypes -Wswitch-default -Wwrite-strings
 -Wno-missing-field-initializers -Wno-format-zero-length -Wno-c2x-extensions
 -Wpacked-not-aligned -Waddress-of-packed-member
 -Wredundant-decls
 -Wold-style-definition -Wstrict-aliasing=2 -Wundef"
devkit_common="-Os -g3 -fpic -ffreestanding"
devkit_arm64="-DARM64=1 -D__LP64__=1 -mstrict-align -mno-outline-atomics"
devkit_arm32="-DARM32=1 -D__ILP32__=1 -mthumb -fno-short-enums -fno-common -mno-unaligned-access"
inc="-I$here/include/compat -I$here/include -I$here/gp-subset -I$here/examples/echo/ta -I$here/examples/echo/ta/include"
srcs="$here/src/codec.c $here/src/posix.c $here/src/entry.c $here/src/coro_init.c $here/src/coro.S $here/examples/echo/ta/echo_ta.c"
found=0

compile() { # compiler, flags...
	cc=$1
	shift
	for s in $srcs; do
		o="$tmp/$(basename "$s").o"
		"$cc" $devkit_warn $devkit_common "$@" $inc -c "$s" -o "$o"
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
	compile aarch64-linux-gnu-gcc $devkit_arm64
	compile aarch64-linux-gnu-gcc $devkit_arm64 -mgeneral-regs-only
	compile aarch64-linux-gnu-gcc $devkit_arm64 -mbranch-protection=standard
	compile aarch64-linux-gnu-gcc $devkit_arm64 -DTZPOSIX_READAHEAD_BYTES=0
	compile aarch64-linux-gnu-gcc $devkit_arm64 -O0
	coro aarch64-linux-gnu-gcc qemu-aarch64
else
	echo "aarch64-linux-gnu-gcc not installed: aarch64 not checked"
fi
if command -v arm-linux-gnueabihf-gcc >/dev/null 2>&1; then
	found=1
	compile arm-linux-gnueabihf-gcc $devkit_arm32 -mfloat-abi=hard -funsafe-math-optimizations
	compile arm-linux-gnueabihf-gcc $devkit_arm32 -mfloat-abi=soft
	compile arm-linux-gnueabihf-gcc $devkit_arm32 -mfloat-abi=hard -DTZPOSIX_READAHEAD_BYTES=0
	compile arm-linux-gnueabihf-gcc -DARM32=1 -D__ILP32__=1 -marm -fno-omit-frame-pointer -mapcs -fno-short-enums -fno-common -mno-unaligned-access -mfloat-abi=hard
	cflags=-marm coro arm-linux-gnueabihf-gcc qemu-arm
	cflags=-mthumb coro arm-linux-gnueabihf-gcc qemu-arm
else
	echo "arm-linux-gnueabihf-gcc not installed: arm not checked"
fi
if command -v gcc >/dev/null 2>&1; then
	coro gcc
	cflags=-DTZPOSIX_CORO_UCONTEXT coro gcc
fi
if [ -n "${OPTEE_INCLUDE:-}" ]; then
	# shellcheck disable=SC2086 # a list of directories
	sh "$here/gp-subset/check.sh" "${CC:-gcc}" $OPTEE_INCLUDE
else
	echo "OPTEE_INCLUDE not set: gp-subset not compared with OP-TEE's headers"
fi
[ "$found" = 1 ] || exit 77
