#!/usr/bin/env bash
# Builds msgport (release) and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target tour >/dev/null
exec build/release/examples/tour
