#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` CMake preset: clang, ASan+UBSan)
# and runs each one for a while.
#
#   fuzz/run.sh [seconds] [target...]      # default: 60 s, every target
#   fuzz/run.sh 180 decode                 # one target, three minutes
#   FUZZ_FLAGS='-seed=1 -only_ascii=0' fuzz/run.sh 30
#
# One process per target, one after the other (the machine is shared):
# new corpus units go to fuzz/scratch/<target>/ (gitignored) and never
# into fuzz/corpus/; a crash, leak, out-of-memory (-rss_limit_mb,
# -malloc_limit_mb) or timeout input is written to
# fuzz/scratch/<target>-artifacts/. Reproduce one with
#   build/fuzz/fuzz/fuzz_<target> <file>
# and keep it as a regression input by copying it to
# fuzz/corpus/<target>/crash-<sha1> (libFuzzer's own name for it).
#
# New inputs are at most 4 KiB (-max_len): without it libFuzzer sizes its
# inputs after the largest corpus file (the 220 KB hash-flood reproducer),
# which made fuzz_decode ten times slower and reach less. The replay tests
# still run every corpus file whole.
#
# Exit status: 0 if every target ran clean, 1 if any reported a finding,
# 2 on a usage or build error.
set -uo pipefail

secs=${1:-60}
if ! [[ $secs =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [seconds] [target...]" >&2
    exit 2
fi
shift $(($# > 0 ? 1 : 0))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(decode roundtrip post); fi

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2

exes=()
for t in "${targets[@]}"; do
    if [ ! -f "fuzz/fuzz_$t.c" ]; then
        echo "run.sh: no target '$t' (fuzz/fuzz_$t.c)" >&2
        exit 2
    fi
    exes+=("fuzz_$t")
done

cmake --preset fuzz >/dev/null || exit 2
cmake --build --preset fuzz --target "${exes[@]}" || exit 2

status=0
for t in "${targets[@]}"; do
    scratch="fuzz/scratch/$t"
    artifacts="fuzz/scratch/$t-artifacts/"
    mkdir -p "$scratch" "$artifacts"
    echo "==> fuzz_$t for ${secs}s (corpus fuzz/corpus/$t, new units $scratch)"
    # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
    "build/fuzz/fuzz/fuzz_$t" \
        -max_total_time="$secs" -max_len=4096 -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
        -dict=fuzz/msgport.dict -artifact_prefix="$artifacts" -print_final_stats=1 \
        ${FUZZ_FLAGS:-} "$scratch" "fuzz/corpus/$t"
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "==> fuzz_$t: FINDING (exit $rc); inputs in $artifacts:" >&2
        ls -l "$artifacts" >&2
        status=1
    else
        echo "==> fuzz_$t: clean"
    fi
done
exit $status
