#!/usr/bin/env bash
# Runs every CUnit test program and example of a build under valgrind memcheck and fails
# on any error or leak. Usage: scripts/valgrind.sh [build-dir]  (build/debug)
set -uo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build/debug}"
command -v valgrind >/dev/null || scripts/deps.sh valgrind
status=0
for t in "$dir"/tests/* "$dir"/examples/*; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    name=$(basename "$t")
    log="$dir/valgrind-$name.log"
    if valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 "$t" >"$log" 2>&1; then
        echo "valgrind: $name clean"
    else
        echo "valgrind: $name FAILED (see $log)"
        status=1
    fi
done
exit $status
