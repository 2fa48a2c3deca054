#!/bin/sh
# A big-endian host is refused at build time with a message saying why, by meson (a cross
# file declaring a big-endian host) and by safetensors.c's guard (compiled with the
# compiler's byte-order macro set to big-endian), since checkpoints are written without
# byte swapping. Arguments: meson, the source root, the C compiler.
# Exit 0 when both refuse, 1 otherwise, 77 when meson is not found.
meson=$1 src=$2 cc=$3
[ -x "$meson" ] || exit 77
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
cat >"$tmp/be.ini" <<EOT
[binaries]
c = '$cc'
pkgconfig = 'pkg-config'
pkg-config = 'pkg-config'

[host_machine]
system = 'linux'
cpu_family = 's390x'
cpu = 's390x'
endian = 'big'
EOT
if "$meson" setup --cross-file "$tmp/be.ini" "$tmp/build" "$src" >"$tmp/setup.log" 2>&1; then
    echo "FAIL: meson setup for a big-endian host succeeded"
    fail=1
elif ! grep -q 'tapegrad supports little-endian hosts only' "$tmp/setup.log"; then
    echo "FAIL: meson setup for a big-endian host failed without saying why:"
    tail -n 5 "$tmp/setup.log"
    fail=1
fi
if "$cc" -std=c11 -D_POSIX_C_SOURCE=200809L -fsyntax-only -I"$src/src" -U__BYTE_ORDER__ \
    -D__BYTE_ORDER__=__ORDER_BIG_ENDIAN__ "$src/src/io/safetensors.c" >"$tmp/cc.log" 2>&1; then
    echo "FAIL: safetensors.c compiled for a big-endian host"
    fail=1
elif ! grep -q 'little-endian hosts only' "$tmp/cc.log"; then
    echo "FAIL: safetensors.c refused a big-endian host without saying why:"
    tail -n 5 "$tmp/cc.log"
    fail=1
fi
[ $fail = 0 ] && echo "big-endian hosts refused by meson and by safetensors.c"
exit $fail
