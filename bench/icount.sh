#!/bin/sh
# Instructions per operation under callgrind: a load-independent companion to
# the timings (the machine is shared; instruction counts do not drift).
#
#   bench/icount.sh [--cache] [BUILD_DIR] [WORKLOAD...]   (default build/release; W1 W2 W4 W4flat W5)
#
# One valgrind run per workload with every bench, exactly N ops each
# (bench_codec --ops N --reps 1), counting only inside the rep_* functions:
# each bench's inclusive Ir / N. Prints a table with lib/msgpack ratios.
#
# --cache adds callgrind's cache simulation with this machine's per-core
# caches (L1d 32 KiB, L2 512 KiB, 8-way, 64-byte lines) and prints the
# reads that miss L2 per op beside the instructions: what a walk over a
# graph larger than L2 pays on top of its instructions. The simulation has
# no hardware prefetcher, so sequential reads count as misses too.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache=
if [ "${1:-}" = "--cache" ]; then
    cache=--cache-sim=yes
    shift
fi
bdir=${1:-$root/build/release}
[ $# -gt 0 ] && shift
bin="$bdir/bench/bench_codec"
[ -x "$bin" ] || { echo "icount.sh: $bin not built" >&2; exit 1; }
[ $# -gt 0 ] || set -- W1 W2 W4 W4flat W5
mkdir -p "$here/results/profile"
benches=msgpack_pack_unpack,msgpack_pack,msgpack_unpack,dom_deep_copy,lib_clone,lib_encode,lib_decode,lib_clone_direct
if [ -n "$cache" ]; then
    printf '%-7s %-22s %14s %14s\n' workload bench "Ir/op" "L2 misses/op"
else
    printf '%-7s %-22s %14s\n' workload bench "Ir/op"
fi
for w in "$@"; do
    case "$w" in
    W1) n=2000 ;; W2) n=20 ;; W4|W4flat|W5s|W6_1M) n=3 ;; *) n=1 ;;
    esac
    out="$here/results/profile/icount-$w.callgrind"
    # shellcheck disable=SC2086 # $cache: no option, or one
    valgrind --tool=callgrind $cache ${cache:+--D1=32768,8,64 --LL=524288,8,64} --toggle-collect='rep_*' \
        --callgrind-out-file="$out" "$bin" --workloads "$w" --bench "$benches" --ops "$n" --reps 1 >/dev/null 2>"$out.log"
    callgrind_annotate --inclusive=yes ${cache:+--show=Ir,DLmr} "$out" 2>/dev/null |
        awk -v w="$w" -v n="$n" -v cache="$cache" '
            /:rep_[a-z_]+ / || /:rep_[a-z_]+$/ {
                gsub(/\( *[0-9.]+%\)/, "")
                ir = $1; gsub(",", "", ir)
                miss = $2; gsub(",", "", miss)
                name = $0; sub(/.*:rep_/, "", name); sub(/ .*/, "", name)
                v[name] = ir / n; m[name] = miss / n; order[++k] = name
            }
            END {
                for (i = 1; i <= k; i++)
                    if (cache) printf "%-7s %-22s %14.0f %14.0f\n", w, order[i], v[order[i]], m[order[i]]
                    else printf "%-7s %-22s %14.0f\n", w, order[i], v[order[i]]
                if (v["lib_clone"] && v["msgpack_pack_unpack"])
                    printf "%-7s %-22s %13.2fx\n", w, "lib_clone/msgpack", v["lib_clone"] / v["msgpack_pack_unpack"]
                if (v["lib_encode"] && v["msgpack_pack"])
                    printf "%-7s %-22s %13.2fx\n", w, "lib_encode/pack", v["lib_encode"] / v["msgpack_pack"]
                if (v["lib_decode"] && v["msgpack_unpack"])
                    printf "%-7s %-22s %13.2fx\n", w, "lib_decode/unpack", v["lib_decode"] / v["msgpack_unpack"]
                if (v["lib_clone_direct"] && v["dom_deep_copy"])
                    printf "%-7s %-22s %13.2fx\n", w, "direct/dom_copy", v["lib_clone_direct"] / v["dom_deep_copy"]
            }'
done
