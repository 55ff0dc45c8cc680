#!/usr/bin/env bash
# Builds msgport (release) with its examples and runs the demo
# (examples/demo.c); exits with the demo's status.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh libuv1-dev   # libuv for examples/uv_port.c
cmake --preset release >/dev/null
cmake --build --preset release --target msgport_examples >/dev/null
exec build/release/examples/demo
