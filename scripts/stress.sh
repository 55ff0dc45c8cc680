#!/usr/bin/env bash
# Builds msgport and runs the stress suite (ctest label `stress`).
# Usage: scripts/stress.sh [seconds] [preset]   (60 s, debug by default; tsan and asan work too)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
preset="${2:-debug}"
scripts/deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
MSGPORT_STRESS_SECONDS="$secs" ctest --preset "$preset" -L stress
