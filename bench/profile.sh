#!/bin/sh
# Where does the time of one bench go? perf (or callgrind if perf cannot
# record here) over bench_codec restricted to one workload and one bench.
#
#   bench/profile.sh W2 lib_clone_direct [BUILD_DIR]      (default build/release)
#   PROFILER=callgrind OPS=3 bench/profile.sh W5 lib_decode
#
# perf: flat profile, then callers with DWARF unwinding (the release build
# has no frame pointers). Output under bench/results/profile/ (git-ignored).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
w=${1:?workload}
b=${2:?bench}
bdir=${3:-$root/build/release}
bin="$bdir/bench/bench_codec"
[ -x "$bin" ] || { echo "profile.sh: $bin not built" >&2; exit 1; }
mkdir -p "$here/results/profile"
base="$here/results/profile/$w-$b"
prof=${PROFILER:-perf}
if [ "$prof" = perf ] && perf record -o /dev/null true >/dev/null 2>&1; then
    perf record -q -o "$base.perf" "$bin" --workloads "$w" --bench "$b" --reps 15 >/dev/null
    echo "== flat ($base.perf)"
    perf report -i "$base.perf" --no-children --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -${TOP:-30}
    perf record -q --call-graph dwarf,16384 -o "$base.dwarf.perf" "$bin" --workloads "$w" --bench "$b" --reps 3 --target-ms 5 >/dev/null
    echo "== callers of the allocator ($base.dwarf.perf)"
    perf report -i "$base.dwarf.perf" --no-children --stdio -G -S malloc,_int_malloc,_int_free,cfree@GLIBC_2.2.5 \
        --percent-limit 2 2>/dev/null | grep -v '^$' | grep -v '^#' | head -${CALLERS:-60}
else
    # only the timed function counts; exactly OPS ops
    valgrind --tool=callgrind --toggle-collect="rep_$b" --callgrind-out-file="$base.callgrind" "$bin" \
        --workloads "$w" --bench "$b" --ops "${OPS:-3}" --reps 1 >/dev/null 2>"$base.callgrind.log"
    echo "== self cost, ${OPS:-3} ops ($base.callgrind)"
    callgrind_annotate --inclusive=no "$base.callgrind" 2>/dev/null | sed -n '/file:function/,$p' | head -${TOP:-30}
    echo "== inclusive"
    callgrind_annotate --inclusive=yes "$base.callgrind" 2>/dev/null | sed -n '/file:function/,$p' | head -${TOP:-30}
fi
