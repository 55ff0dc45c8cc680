#!/usr/bin/env bash
# Builds msgport and runs the whole CUnit test suite through ctest.
# Usage: scripts/test.sh [preset]   (debug by default; asan, tsan, release)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-debug}"
scripts/deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" --label-exclude stress
