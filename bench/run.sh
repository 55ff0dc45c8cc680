#!/bin/sh
# One command for the benchmarks: builds the release preset, runs the codec
# benches (bench_codec: msgport + msgpack-c; node_bench.js) and the port
# benches (bench_port: msgport ports/workers + C baselines incl. ZeroMQ;
# node_port_bench.js) into one file bench/results/<timestamp>.jsonl (one run
# id for all), and prints the tables.
#
#   bench/run.sh [--quick] [--pin CPU] [--no-build] [--workloads W1,W2,...]
#                [--codec-only | --port-only]
#
# libzmq3-dev (the ZeroMQ baselines) is installed with apt-get if missing.
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
codec=1
port=1
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick="--quick" ;;
    --no-build) build=0 ;;
    --codec-only) port=0 ;;
    --port-only) codec=0 ;;
    --pin) cargs="$cargs --pin $2"; shift ;;
    --workloads) cargs="$cargs --workloads $2"; nargs="$nargs --workloads $2"; shift ;;
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

# The ZeroMQ baselines need libzmq3-dev (idempotent: nothing when installed).
if [ "$port" = 1 ] && [ "$build" = 1 ] && ! dpkg -s libzmq3-dev >/dev/null 2>&1; then
    echo "run.sh: installing libzmq3-dev for the ZeroMQ baselines" >&2
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get install -y libzmq3-dev >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y libzmq3-dev >&2; } ||
        echo "run.sh: WARNING: libzmq3-dev not installed; zmq_* baselines will be missing" >&2
    # re-probe pkg-config in an existing build directory
    [ -f "$root/build/release/CMakeCache.txt" ] && cmake -U '*MSGPORT_ZMQ*' "$root/build/release" >/dev/null 2>&1 || true
fi

bin="$root/build/release/bench/bench_codec"
pbin="$root/build/release/bench/bench_port"
if [ "$build" = 1 ]; then
    cmake --preset release >/dev/null
    if ! cmake --build --preset release >&2; then
        # The rest of the tree may be mid-change. The bench needs only its
        # target; failing that, the same Release flags without -Werror, in a
        # build directory of its own (the preset's cache stays as it is).
        echo "run.sh: full release build failed; building bench_codec and bench_port only" >&2
        if ! cmake --build --preset release --target bench_codec bench_port >&2; then
            echo "run.sh: WARNING: release preset does not build; using build/bench-release (Release, MSGPORT_WERROR=OFF)" >&2
            cmake -S "$root" -B "$root/build/bench-release" -DCMAKE_BUILD_TYPE=Release -DMSGPORT_WERROR=OFF >/dev/null
            cmake --build "$root/build/bench-release" -j2 --target bench_codec bench_port >&2
            bin="$root/build/bench-release/bench/bench_codec"
            pbin="$root/build/bench-release/bench/bench_port"
        fi
    fi
fi
if [ "$codec" = 1 ]; then [ -x "$bin" ] || { echo "run.sh: $bin not built" >&2; exit 1; }; fi
if [ "$port" = 1 ]; then [ -x "$pbin" ] || { echo "run.sh: $pbin not built" >&2; exit 1; }; fi

ts=$(date +%Y%m%dT%H%M%S)
run="r$ts"
mkdir -p "$here/results"
out="$here/results/$ts.jsonl"

if [ "$codec" = 1 ]; then
    echo "== C: bench_codec $quick -> $out" >&2
    # shellcheck disable=SC2086
    "$bin" $quick --run "$run" $cargs >>"$out"
    echo "== Node: node_bench.js $quick -> $out" >&2
    # shellcheck disable=SC2086
    node --stack-size=4000 "$here/node_bench.js" $quick --run "$run" $nargs >>"$out"
fi
if [ "$port" = 1 ]; then
    # Two threads per bench: not pinned (--pin applies to bench_codec only).
    echo "== C: bench_port $quick -> $out" >&2
    # shellcheck disable=SC2086
    "$pbin" $quick --run "$run" >>"$out"
    echo "== Node: node_port_bench.js $quick -> $out" >&2
    # shellcheck disable=SC2086
    node "$here/node_port_bench.js" $quick --run "$run" >>"$out"
fi

echo >&2
python3 "$here/report.py" "$out"
