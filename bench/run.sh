#!/bin/sh
# One command for the codec benchmarks: builds the release preset, runs the
# C bench (msgport + msgpack-c) and the Node bench into one file
# bench/results/<timestamp>.jsonl (one run id for both), and prints the table.
#
#   bench/run.sh [--quick] [--pin CPU] [--no-build] [--workloads W1,W2,...]
#
# --quick: 3 repetitions of >= 10 ms each (under a minute for the benches);
# default: 11 repetitions of >= 20 ms. Node runs with --stack-size=4000 (W4).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"

quick=""
build=1
cargs=""
nargs=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick="--quick" ;;
    --no-build) build=0 ;;
    --pin) cargs="$cargs --pin $2"; shift ;;
    --workloads) cargs="$cargs --workloads $2"; nargs="$nargs --workloads $2"; shift ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

bin="$root/build/release/bench/bench_codec"
if [ "$build" = 1 ]; then
    cmake --preset release >/dev/null
    if ! cmake --build --preset release >&2; then
        # The rest of the tree may be mid-change. The bench needs only its
        # target; failing that, the same Release flags without -Werror, in a
        # build directory of its own (the preset's cache stays as it is).
        echo "run.sh: full release build failed; building bench_codec only" >&2
        if ! cmake --build --preset release --target bench_codec >&2; then
            echo "run.sh: WARNING: release preset does not build; using build/bench-release (Release, MSGPORT_WERROR=OFF)" >&2
            cmake -S "$root" -B "$root/build/bench-release" -DCMAKE_BUILD_TYPE=Release -DMSGPORT_WERROR=OFF >/dev/null
            cmake --build "$root/build/bench-release" -j2 --target bench_codec >&2
            bin="$root/build/bench-release/bench/bench_codec"
        fi
    fi
fi
[ -x "$bin" ] || { echo "run.sh: $bin not built" >&2; exit 1; }

ts=$(date +%Y%m%dT%H%M%S)
run="r$ts"
mkdir -p "$here/results"
out="$here/results/$ts.jsonl"

echo "== C: bench_codec $quick -> $out" >&2
# shellcheck disable=SC2086
"$bin" $quick --run "$run" $cargs >>"$out"
echo "== Node: node_bench.js $quick -> $out" >&2
# shellcheck disable=SC2086
node --stack-size=4000 "$here/node_bench.js" $quick --run "$run" $nargs >>"$out"

echo >&2
python3 "$here/report.py" "$out"
