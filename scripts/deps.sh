#!/usr/bin/env bash
# Installs the Debian packages msgport needs, only those missing.
# Usage: scripts/deps.sh [extra-package ...]   (idempotent; runs as root)
set -euo pipefail
pkgs=(build-essential cmake pkg-config libmsgpack-dev libcunit1-dev "$@")
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
