#!/usr/bin/env bash
# Packaging check: installs msgport into a temporary prefix and builds and
# runs two consumers against that install only: one through the CMake
# package (msgport::msgport and msgport::msgport_static), one through
# pkg-config (shared, and --static) with plain make. Each consumer does a
# serialize/deserialize round trip and a clone with transfer, and checks them.
#
# Usage: scripts/packaging.sh [build-dir]
#   build-dir: a msgport build to install from; configured (Release) and
#   built if it has no CMakeCache.txt, else just brought up to date.
#   Without it, a Release build is made inside the temporary directory.
# Nothing is written outside the temporary directory (and build-dir if
# given); the temporary directory is removed at the end. Exits non-zero on
# the first failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="${JOBS:-2}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/msgport-packaging.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
build="${1:-$tmp/build}"
prefix="$tmp/prefix"

step() { printf '== %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
# The directory the dynamic loader takes libmsgport.so.* from for $1.
loaded_from() { dirname "$(realpath "$(ldd "$1" | awk '/libmsgport\.so/ {print $3; exit}')")"; }
fail() {
    printf 'packaging check FAILED: %s\n' "$*" >&2
    exit 1
}

step "build ($build)"
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMSGPORT_BUILD_TESTS=OFF \
        -DMSGPORT_BUILD_EXAMPLES=OFF -DMSGPORT_BUILD_BENCH=OFF -DMSGPORT_BUILD_TOOLS=ON >"$tmp/configure.log" ||
        { cat "$tmp/configure.log"; fail "configuring msgport"; }
fi
cmake --build "$build" -j "$jobs" >"$tmp/build.log" 2>&1 || { tail -50 "$tmp/build.log"; fail "building msgport"; }
ok "built"

step "install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
pc="$(find "$prefix" -name msgport.pc -path '*/pkgconfig/*' | head -1)"
[ -n "$pc" ] || fail "no msgport.pc installed"
libdir="$(dirname "$(dirname "$pc")")"
for f in "$prefix/include/msgport.h" "$prefix/include/msgport/codec.h" "$libdir/libmsgport.a" \
    "$libdir/cmake/msgport/msgportConfig.cmake" "$libdir/cmake/msgport/msgportConfigVersion.cmake"; do
    [ -f "$f" ] || fail "missing after install: ${f#"$prefix"/}"
done
so="$(find "$libdir" -maxdepth 1 -name 'libmsgport.so.*' -type f | head -1)"
[ -n "$so" ] || fail "no versioned libmsgport.so.* installed"
[ -L "$libdir/libmsgport.so" ] || fail "libmsgport.so is not a symlink to the versioned library"
ok "headers, ${so#"$prefix"/}, libmsgport.a, CMake package, ${pc#"$prefix"/}"
# Only the API is exported: no internal (mpi_) symbols in the shared library.
if nm -D --defined-only "$so" | awk '{print $3}' | grep -q '^mpi_'; then
    fail "the shared library exports internal mpi_ symbols"
fi
nm -D --defined-only "$so" | awk '{print $3}' | grep -qx mp_serialize || fail "mp_serialize is not exported"
ok "exports mp_* and no mpi_* symbols"
if [ -x "$prefix/bin/msgport-dump" ]; then
    "$prefix/bin/msgport-dump" --help >/dev/null || fail "installed msgport-dump --help"
    printf 'version 1\narray 2\n  "installed"\n  BIGINT -0x10\n' >"$tmp/msg.txt"
    "$prefix/bin/msgport-dump" --pack --check -o "$tmp/msg.bin" "$tmp/msg.txt" 2>"$tmp/check.log" ||
        { cat "$tmp/check.log"; fail "installed msgport-dump --pack --check"; }
    grep -q -- "-16n" "$tmp/check.log" || { cat "$tmp/check.log"; fail "msgport-dump --check output"; }
    ok "installed msgport-dump packs and checks a message"
fi

step "consumer through find_package(msgport) (tests/packaging/cmake)"
cmake -S "$root/tests/packaging/cmake" -B "$tmp/cmake-consumer" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_BUILD_TYPE=Release >"$tmp/consumer-configure.log" 2>&1 ||
    { cat "$tmp/consumer-configure.log"; fail "configuring the CMake consumer"; }
cmake --build "$tmp/cmake-consumer" -j "$jobs" >"$tmp/consumer-build.log" 2>&1 ||
    { cat "$tmp/consumer-build.log"; fail "building the CMake consumer"; }
grep -q "msgport_DIR:PATH=$libdir/cmake/msgport" "$tmp/cmake-consumer/CMakeCache.txt" ||
    fail "find_package found another msgport than the temporary install"
"$tmp/cmake-consumer/consumer_shared" "cmake msgport::msgport" || fail "cmake shared consumer"
[ "$(loaded_from "$tmp/cmake-consumer/consumer_shared")" = "$(realpath "$libdir")" ] ||
    fail "the shared consumer does not load the installed libmsgport.so"
"$tmp/cmake-consumer/consumer_static" "cmake msgport::msgport_static" || fail "cmake static consumer"
if ldd "$tmp/cmake-consumer/consumer_static" | grep -q libmsgport; then
    fail "the static consumer depends on libmsgport.so"
fi
ok "shared consumer loads ${libdir#"$prefix"/}/libmsgport.so; static consumer needs no libmsgport.so"

step "consumer through pkg-config (tests/packaging/pkgconfig)"
export PKG_CONFIG_PATH="$(dirname "$pc")"
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR || true
printf '   pkg-config --cflags --libs msgport: %s\n' "$(pkg-config --cflags --libs msgport)"
printf '   pkg-config --static --libs msgport: %s\n' "$(pkg-config --static --libs msgport)"
mkdir -p "$tmp/pc-consumer"
make -s -C "$tmp/pc-consumer" -f "$root/tests/packaging/pkgconfig/Makefile" >"$tmp/pc-build.log" 2>&1 ||
    { cat "$tmp/pc-build.log"; fail "building the pkg-config consumer"; }
"$tmp/pc-consumer/consumer_shared" "pkg-config" || fail "pkg-config shared consumer"
[ "$(loaded_from "$tmp/pc-consumer/consumer_shared")" = "$(realpath "$libdir")" ] ||
    fail "the pkg-config shared consumer does not load the installed libmsgport.so"
"$tmp/pc-consumer/consumer_static" "pkg-config --static" || fail "pkg-config static consumer"
if readelf -d "$tmp/pc-consumer/consumer_static" | grep -q NEEDED; then
    fail "the pkg-config --static consumer is not statically linked"
fi
ok "shared consumer loads the installed library; --static consumer is a static executable"

step "packaging check passed"
