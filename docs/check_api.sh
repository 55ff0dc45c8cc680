#!/bin/sh
# Checks that docs/api.md documents the whole public API.
#
#   docs/check_api.sh [path/to/libmsgport.so]
#
# 1. Every function declared with MP_API in include/ must appear in api.md
#    as a call signature "name(".
# 2. Every other public identifier (types, enum constants, macros, prefixed
#    mp_/MP_/MSGPORT_, outside comments; include guards excepted) must
#    appear in api.md as a word.
# 3. Every "mp_<something>(" in api.md must be a function the headers declare, so
#    a renamed or removed function cannot linger in the docs.
# 4. With a shared library given: the mp_ symbols it exports must be exactly
#    the MP_API functions of the headers.
# Exits 1 and lists what is wrong; 0 when everything matches.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
doc="$root/docs/api.md"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

headers="$root/include/msgport.h $root/include/msgport/*.h"

# Public functions: the identifier before the first "(" of each MP_API line
# (every declaration starts its name on that line).
for h in $headers; do
    grep -h '^MP_API' "$h" || true
done | sed -E 's/^MP_API[^(]*[ *]([A-Za-z_][A-Za-z0-9_]*)\(.*/\1/' | sort -u >"$tmp/functions"

# Every prefixed identifier in the code (comments stripped by the
# preprocessor, directives kept), minus include guards.
for h in $headers; do
    gcc -fpreprocessed -dD -E -P "$h" 2>/dev/null
done | grep -oE '\b(mp|MP|MSGPORT)_[A-Za-z0-9_]*\b' | grep -vE '^MSGPORT(_[A-Z]+)?_H$' |
    sort -u >"$tmp/identifiers"

if [ ! -s "$tmp/functions" ] || [ ! -s "$tmp/identifiers" ]; then
    echo "check_api: found no declarations in $root/include" >&2
    exit 1
fi

while read -r f; do
    if ! grep -q "\\b$f(" "$doc"; then
        echo "missing function: $f (no \"$f(\" in docs/api.md)"
        status=1
    fi
done <"$tmp/functions"

comm -23 "$tmp/identifiers" "$tmp/functions" >"$tmp/others"
while read -r id; do
    if ! grep -qw "$id" "$doc"; then
        echo "missing identifier: $id (not mentioned in docs/api.md)"
        status=1
    fi
done <"$tmp/others"

grep -oE '\bmp_[a-z0-9_]+\(' "$doc" | tr -d '(' | sort -u >"$tmp/documented"
for f in $(comm -23 "$tmp/documented" "$tmp/identifiers"); do
    echo "stale: docs/api.md calls $f(), which no header declares"
    status=1
done

if [ $# -ge 1 ]; then
    nm -D --defined-only "$1" | awk '{print $3}' | grep -E '^mp_' | sort -u >"$tmp/exported"
    for f in $(comm -23 "$tmp/functions" "$tmp/exported"); do
        echo "not exported by $1: $f"
        status=1
    done
    for f in $(comm -13 "$tmp/functions" "$tmp/exported"); do
        echo "exported by $1 but not declared with MP_API: $f"
        status=1
    done
fi

if [ $status -eq 0 ]; then
    echo "check_api: $(wc -l <"$tmp/functions") functions and $(wc -l <"$tmp/others") other identifiers documented"
fi
exit $status
