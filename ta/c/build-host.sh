#!/bin/sh
# build-host.sh TA_DIR OUTPUT [CFLAGS...]
#
# Builds a libtzposix TA for the host, to run in tzbridge's simulated
# secure world (config: native: OUTPUT). TA_DIR holds the TA's C sources
# (*.c) and its user_ta_header_defines.h, as for OP-TEE; TA_DIR/include
# is on the include path too. An OP-TEE example directory whose TA is in
# TA_DIR/ta (ta/c/examples/echo) is accepted as well. Extra arguments go to the compiler, e.g.
# -DECHO_TCP_PORT=7300 or -DTZPOSIX_CORO_UCONTEXT (portable coroutines).
#
# Two kinds of code, two include paths:
#   - the TA and libtzposix see the TA's world only: tzposix/posix.h (and
#     the usual POSIX header names, through include/compat) and the GP
#     subset in gp-subset/, as on OP-TEE;
#   - host/host_main.c, which drives the GP entry points for the
#     simulator, and host/stack.c (coroutine stacks with a guard page;
#     TZPOSIX_HOST selects them in src/entry.c) are ordinary Linux code.
#
# The program is linked statically: the simulator runs it in a sandbox
# whose root holds nothing but the program (no dynamic loader, no
# libraries), like a TA on OP-TEE, which is one ELF file.
set -eu
if [ $# -lt 2 ]; then
	echo "usage: $0 TA_DIR OUTPUT [CFLAGS...]" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
ta=$(cd "$1" && pwd)
# OP-TEE's examples keep the TA in a ta/ subdirectory next to the host
# program; take the example's directory too.
if [ ! -f "$ta/user_ta_header_defines.h" ] && [ -f "$ta/ta/user_ta_header_defines.h" ]; then
	ta=$ta/ta
fi
if [ ! -f "$ta/user_ta_header_defines.h" ]; then
	echo "$0: $1: no user_ta_header_defines.h here or in $1/ta: TA_DIR is the directory of the TA's C sources" >&2
	exit 2
fi
out=$2
shift 2
cc=${CC:-gcc}
warn="-std=c99 -Wall -Wextra -Werror"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

$cc $warn -O2 -g "$@" -I"$here/gp-subset" -I"$ta" -I"$ta/include" \
	-c "$here/host/host_main.c" -o "$tmp/host_main.o"
$cc $warn -O2 -g "$@" -c "$here/host/stack.c" -o "$tmp/stack.o"
$cc $warn -O2 -g -DTZPOSIX_HOST "$@" \
	-I"$here/include/compat" -I"$here/include" -I"$here/gp-subset" -I"$ta" -I"$ta/include" \
	"$here/src/codec.c" "$here/src/posix.c" "$here/src/entry.c" "$here/src/coro_init.c" \
	"$here/src/coro.S" "$ta"/*.c "$tmp/host_main.o" "$tmp/stack.o" -static -o "$out"
