#!/bin/sh
# The whole comparison in one command: msgport's codec, ports and workers
# beside msgpack-c, Node.js (structuredClone, v8.serialize, MessageChannel,
# Worker), ZeroMQ inproc, condvar/futex/spin queues and memcpy, measured in
# one run with msgport and each baseline interleaved (bench/driver.py), into
# bench/results/<timestamp>.jsonl; then the table (bench/report.py) and the
# plots (bench/plots.py: <timestamp>-{clone,tput,latency,transfer}.png).
#
#   bench/run.sh [--quick] [--rounds N] [--workloads W1,W2,...] [--codec-only | --port-only]
#                [--no-pin] [--pin CPU] [--no-build] [--build-dir DIR]
#
# --quick      3 rounds, repetitions of >= 5 ms, fewer messages and buffer
#              sizes: about a minute of benches on a loaded 2-vCPU machine
# (default)    11 rounds, repetitions of >= 20 ms: about 8 minutes there
# --no-pin     latency benches unpinned (default: threads on CPUs 0 and 1)
# --pin CPU    pin bench_codec (one thread) to CPU
# --build-dir  Release build of the benches (default build/bench-release)
#
# Installs what is missing from Debian's packages (as root, or with sudo):
# the build tools, libmsgpack-dev, libzmq3-dev (ZeroMQ baselines) and
# gnuplot-nox (plots). Node.js is needed for the Node baselines.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"

quick=""
build=1
bdir="$root/build/bench-release"
dargs=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick="--quick" ;;
    --no-build) build=0 ;;
    --codec-only | --port-only | --no-pin) dargs="$dargs $1" ;;
    --rounds | --workloads) dargs="$dargs $1 $2"; shift ;;
    --pin) dargs="$dargs --codec-pin $2"; shift ;;
    --build-dir) bdir=$2; shift ;;
    -h | --help) sed -n 2,23p "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# Debian packages: whatever is missing (idempotent).
"$root/scripts/deps.sh" libzmq3-dev gnuplot-nox python3 >&2
command -v node >/dev/null 2>&1 || echo "run.sh: WARNING: node not found; the Node.js baselines will be errors" >&2

if [ "$build" = 1 ]; then
    # Only the benches and the library.
    cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DMSGPORT_BUILD_TESTS=OFF -DMSGPORT_BUILD_EXAMPLES=OFF \
        -DMSGPORT_BUILD_TOOLS=OFF >/dev/null
    cmake --build "$bdir" -j2 --target bench_codec bench_port >&2
fi
for b in bench_codec bench_port; do
    [ -x "$bdir/bench/$b" ] || { echo "run.sh: $bdir/bench/$b not built" >&2; exit 1; }
done

ts=$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$here/results"
out="$here/results/$ts.jsonl"
start=$(date +%s)
# shellcheck disable=SC2086
python3 "$here/driver.py" --out "$out" --run "r$ts" --codec-bin "$bdir/bench/bench_codec" \
    --port-bin "$bdir/bench/bench_port" $quick $dargs
echo "run.sh: benches took $(($(date +%s) - start)) s" >&2
echo
python3 "$here/report.py" "$out"
python3 "$here/plots.py" "$out" || echo "run.sh: no plots (see above)" >&2
