#!/bin/sh
# check.sh CC INCLUDE_DIR... - checks the GP subset in this directory
# against OP-TEE's own headers, declaration by declaration, by compiling
# one C file with CC against OP-TEE's headers (the INCLUDE_DIRs: a TA dev
# kit's include directory, or optee_os's lib/libutee/include,
# lib/libutils/ext/include and lib/libutils/isoc/include). The file is
# made from this directory's headers:
#
#   - every object-like #define NAME VALUE: OP-TEE's NAME has that value;
#   - every enumerator: the same value;
#   - every function prototype, redeclared as written here: the compiler
#     rejects one whose types differ from OP-TEE's; and whether each
#     function is declared noreturn must agree too;
#   - the types (TEE_Result, TEE_UUID, TEE_Param) and the two function-like
#     macros, by the checks below, which must hold for this directory's
#     headers as well (the same file is compiled against them first).
#
# Nothing of OP-TEE is copied here: the headers are read where they are.
set -eu
if [ $# -lt 2 ]; then
	echo "usage: $0 CC INCLUDE_DIR..." >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
cc=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Strip comments, join prototypes onto one line.
flat() {
	sed -e 's,/\*.*\*/,,g' -e '/\/\*/,/\*\//d' "$@"
}

{
	echo '#include <stddef.h>'
	echo '#include <stdint.h>'
	echo '#include <tee_internal_api.h>'
	echo '#ifdef GP_CHECK_OPTEE'
	echo '#include <tee_internal_api_extensions.h>'
	echo '#endif'
	echo '#include <user_ta_header.h>'

	# Object-like macros with a value (not include guards).
	flat "$here"/*.h | awk '$1 == "#define" && $2 !~ /\(/ && NF >= 3 && $2 !~ /_H$/ {
		name = $2; $1 = ""; $2 = ""; sub(/^ +/, "")
		printf "_Static_assert((%s) == (%s), \"%s differs\");\n", name, $0, name
	}'

	# Enumerators: their values count up from 0 here.
	flat "$here"/*.h | awk '/^enum [a-z_]+ *\{/ { inside = 1; n = 0; next }
		inside && /\}/ { inside = 0; next }
		inside { gsub(/[ \t,]/, ""); if ($0 != "") printf "_Static_assert(%s == %d, \"%s differs\");\n", $0, n++, $0 }'

	# Prototypes: noreturn first (before a redeclaration could add it),
	# then each prototype as written here.
	flat "$here"/*.h | awk '
		/^(#|typedef|enum|struct|union|\}|extern)/ || /^[ \t]/ && !proto { next }
		/^[A-Za-z_].*\(/ { proto = "" ; inproto = 1 }
		inproto { proto = proto " " $0; if ($0 ~ /;[ \t]*$/) { print proto; inproto = 0 } }
	' >"$tmp/protos"
	while read -r p; do
		name=$(echo "$p" | sed -e 's/(.*//' -e 's/.*[ *]//')
		nr=0
		case $p in *noreturn*) nr=1 ;; esac
		echo "_Static_assert(__builtin_has_attribute($name, noreturn) == $nr, \"$name: noreturn differs\");"
	done <"$tmp/protos"
	cat "$tmp/protos"

	cat <<'EOF'
/* Types, member by member. */
_Static_assert(_Generic((TEE_Result)0, uint32_t: 1, default: 0), "TEE_Result is not uint32_t");
#define GP_MEMBER(T, m, type, off) \
	_Static_assert(_Generic(&((T *)0)->m, __typeof__(type) *: 1, default: 0), #T "." #m ": type differs"); \
	_Static_assert(offsetof(T, m) == (off), #T "." #m ": offset differs")
GP_MEMBER(TEE_UUID, timeLow, uint32_t, 0);
GP_MEMBER(TEE_UUID, timeMid, uint16_t, 4);
GP_MEMBER(TEE_UUID, timeHiAndVersion, uint16_t, 6);
GP_MEMBER(TEE_UUID, clockSeqAndNode, uint8_t[8], 8);
_Static_assert(sizeof(TEE_UUID) == 16, "TEE_UUID: size differs");
GP_MEMBER(TEE_Param, memref.buffer, void *, 0);
GP_MEMBER(TEE_Param, memref.size, size_t, sizeof(void *));
GP_MEMBER(TEE_Param, value.a, uint32_t, 0);
GP_MEMBER(TEE_Param, value.b, uint32_t, 4);
_Static_assert(sizeof(TEE_Param) == 2 * sizeof(void *), "TEE_Param: size differs");
/* The function-like macros. */
_Static_assert(TEE_PARAM_TYPES(1, 5, 6, 7) == 0x7651, "TEE_PARAM_TYPES differs");
_Static_assert(TEE_PARAM_TYPE_GET(0x7651, 0) == 1 && TEE_PARAM_TYPE_GET(0x7651, 3) == 7, "TEE_PARAM_TYPE_GET differs");
EOF
} >"$tmp/check.c"

flags="-std=gnu11 -Wall -Werror -ffreestanding -fsyntax-only"
# The checks hold for the subset itself...
"$cc" $flags -I"$here" "$tmp/check.c"
# ...and for OP-TEE's headers.
inc=
for d in "$@"; do
	inc="$inc -I$d"
done
if ! "$cc" $flags -DGP_CHECK_OPTEE $inc "$tmp/check.c" 2>"$tmp/err"; then
	cat "$tmp/err" >&2
	echo "gp-subset differs from OP-TEE's headers in $*" >&2
	exit 1
fi
echo "gp-subset: $(grep -c _Static_assert "$tmp/check.c") checks and $(wc -l <"$tmp/protos") prototypes agree with OP-TEE's headers in $*"
