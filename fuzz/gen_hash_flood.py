#!/usr/bin/env python3
"""Writes a hash-flooding message for fuzz_decode: a Set (ext 8) of N numbers
whose SameValueZero hashes all share their low 32 bits, so every insert into
the decoder's pre-sized open-addressing index probes the whole cluster:
O(N^2) decode time for an O(N) message (src/value/map.c hashes numbers with
mix64, a fixed invertible function, so colliding keys are computed, not
searched).

    fuzz/gen_hash_flood.py 25000 out.bin          # with the mode byte (0x00)
    fuzz/gen_hash_flood.py 25000 out.bin --raw    # a bare message

The corpus keeps one of these as fuzz/corpus/decode/timeout-<sha1>; a
fix (a keyed or randomised hash, or a bound on probe length) makes it
decode in milliseconds.
"""
import struct
import sys

M = 1 << 64
C1 = 0xFF51AFD7ED558CCD
C2 = 0xC4CEB9FE1A85EC53


def mix64(x):
    x ^= x >> 33
    x = (x * C1) % M
    x ^= x >> 33
    x = (x * C2) % M
    x ^= x >> 33
    return x


def unmix64(y):
    # x ^= x >> 33 is its own inverse on 64 bits; the multiplications are
    # invertible modulo 2^64 (odd constants).
    x = y ^ (y >> 33)
    x = (x * pow(C2, -1, M)) % M
    x ^= x >> 33
    x = (x * pow(C1, -1, M)) % M
    x ^= x >> 33
    return x


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    n, out = int(sys.argv[1]), sys.argv[2]
    raw = "--raw" in sys.argv[3:]
    vals, i = [], 1
    while len(vals) < n:
        x = unmix64(i << 32)  # hash (low 32 bits of mix64) == 0
        i += 1
        assert mix64(x) == (i - 1) << 32
        if (x >> 52) & 0x7FF == 0x7FF or x in (0, 1 << 63):
            continue  # NaN / infinity patterns and the zeros hash specially
        vals.append(x)
    b = bytearray() if raw else bytearray([0x00])  # mode: no side tables, roomy limits
    b += bytes([0x01, 0xD6, 0x08]) + struct.pack("<I", n)  # version 1, SET ext, count
    for x in vals:
        b += b"\xcb" + struct.pack(">Q", x)  # float64
    with open(out, "wb") as f:
        f.write(b)


if __name__ == "__main__":
    main()
