#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_post: small programs for its bytecode.

    fuzz/gen_post_seeds.py fuzz/corpus/post

OPS must list fuzz_post.c's op enum in order (the byte of an op is its
position). Each seed is byte 0 (the root: an index into the values made,
modulo their count) followed by ops and their operand bytes, as
fuzz_post.c's op_* functions read them. Rerunning rewrites identical files.
"""
import os
import sys

OPS = [
    "NUMBER", "STRING", "STRING16", "BIGINT", "OBJECT", "ARRAY", "MAP", "SET", "DATE", "REGEXP", "ERROR",
    "BOXED", "ARRAYBUFFER", "VIEW", "SAB", "LINK", "TRANSFER", "DETACH", "PIN", "ARRAY_EDIT", "RESIZE",
    "HOST", "PORT", "WRITE", "SAB_GROW",
]
OP = {name: i for i, name in enumerate(OPS)}


def prog(root, *steps):
    """steps: (op name, operand bytes...) tuples."""
    out = bytearray([root])
    for name, *operands in steps:
        out.append(OP[name])
        out.extend(operands)
    return bytes(out)


def s(text):
    """OP_STRING operands: length, then ASCII bytes."""
    return [len(text)] + list(text.encode())


SEEDS = {
    # [0] object, [1] number; obj.x = 5; obj.self = obj (a cycle).
    "object-cycle": prog(0, ("OBJECT",), ("NUMBER", 69), ("LINK", 0, 1, 0, 7), ("LINK", 0, 0, 0, 8)),
    # An ArrayBuffer of 16 bytes under a Uint8Array, both in an array, the buffer transferred.
    "transfer-one": prog(0, ("ARRAY", 0), ("ARRAYBUFFER", 16, 9), ("VIEW", 1, 1, 0, 255),
                         ("LINK", 0, 1, 0), ("LINK", 0, 2, 0), ("TRANSFER", 1)),
    # Two buffers, one resizable with a length-tracking DataView; both transferred.
    "transfer-two-resizable": prog(0, ("ARRAY", 0), ("ARRAYBUFFER", 8, 1), ("ARRAYBUFFER", 0x88, 40, 2),
                                   ("VIEW", 2, 11, 0, 255), ("LINK", 0, 1, 0), ("LINK", 0, 3, 0),
                                   ("TRANSFER", 1), ("TRANSFER", 2)),
    # The same buffer listed twice: DataCloneError, nothing detached.
    "fails-duplicate": prog(0, ("ARRAY", 0), ("ARRAYBUFFER", 4, 3), ("LINK", 0, 1, 0),
                            ("TRANSFER", 1), ("TRANSFER", 1)),
    # A SharedArrayBuffer in the transfer list: DataCloneError.
    "fails-sab-listed": prog(0, ("ARRAY", 0), ("SAB", 8, 0, 5), ("LINK", 0, 1, 0), ("TRANSFER", 1)),
    # A SharedArrayBuffer (growable) shared twice with an Int32Array over it.
    "sab-shared": prog(0, ("ARRAY", 0), ("SAB", 0x90, 16, 7), ("VIEW", 1, 5, 4, 2),
                       ("LINK", 0, 1, 0), ("LINK", 0, 1, 0), ("LINK", 0, 2, 0), ("SAB_GROW", 1, 24)),
    # A detached buffer in the graph, not listed: DataCloneError.
    "fails-detached": prog(0, ("ARRAY", 0), ("ARRAYBUFFER", 4, 3), ("DETACH", 1), ("LINK", 0, 1, 0)),
    # A non-detachable buffer listed: DataCloneError; unlisted it travels as a copy.
    "fails-pinned-listed": prog(0, ("ARRAY", 0), ("ARRAYBUFFER", 4, 3), ("PIN", 1), ("LINK", 0, 1, 0),
                                ("TRANSFER", 1)),
    "pinned-copied": prog(0, ("ARRAY", 0), ("ARRAYBUFFER", 4, 3), ("PIN", 1), ("LINK", 0, 1, 0)),
    # Map and Set with object keys, the Map its own key.
    "map-set": prog(0, ("MAP",), ("SET",), ("OBJECT",), ("LINK", 0, 0, 1, 1), ("LINK", 1, 2, 0),
                    ("LINK", 1, 0, 0), ("LINK", 0, 2, 0, 1)),
    # Sparse array with a huge length, a hole and a named property.
    "array-sparse": prog(0, ("ARRAY", 0xff, 0, 0, 0, 0x80), ("NUMBER", 1), ("LINK", 0, 1, 200, 9, 0, 0, 0),
                         ("LINK", 0, 1, 130), ("ARRAY_EDIT", 0, 1, 2), ("LINK", 0, 1, 230, 7)),
    # Strings: ASCII, lone surrogates, BigInt, -0, NaN, Date, RegExp, boxed.
    "primitives": prog(0, ("ARRAY", 0), ("STRING", *s("hello")), ("STRING16", 3, 1, 0, 0, 65, 1, 0x20),
                       ("BIGINT", 1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),
                       ("NUMBER", 1), ("NUMBER", 2), ("DATE", 200, 0, 0, 0, 0, 0, 0x40, 0x8f, 0x42),
                       ("REGEXP", 0x23, 1), ("BOXED", 3), ("BOXED", 1),
                       ("LINK", 0, 1, 0), ("LINK", 0, 2, 0), ("LINK", 0, 3, 0), ("LINK", 0, 4, 0),
                       ("LINK", 0, 5, 0), ("LINK", 0, 6, 0), ("LINK", 0, 7, 0), ("LINK", 0, 8, 0),
                       ("LINK", 0, 9, 0)),
    # Error with a message, a stack and itself as its cause.
    "error-cause": prog(0, ("ERROR", 0x32, *s("boom"), *s("at x")), ("LINK", 0, 0, 0)),
    # Host objects: a registered type travels; an unregistered one fails.
    "host": prog(0, ("ARRAY", 0), ("HOST", 5), ("LINK", 0, 1, 0), ("LINK", 0, 1, 0)),
    "fails-host-unregistered": prog(0, ("ARRAY", 0), ("HOST", 0x85), ("LINK", 0, 1, 0)),
    # A port of another channel, transferred inside the graph.
    "port-transfer": prog(0, ("ARRAY", 0), ("PORT", 0), ("LINK", 0, 1, 0), ("TRANSFER", 1)),
    # The posting port itself in the list: DataCloneError.
    "fails-port-source": prog(0, ("ARRAY", 0), ("PORT", 2), ("TRANSFER", 1)),
    # A port of another realm in the list.
    "fails-port-foreign": prog(0, ("ARRAY", 0), ("PORT", 3), ("TRANSFER", 1)),
    # A buffer resized and written to before the transfer.
    "resize-write": prog(0, ("ARRAYBUFFER", 0x84, 20, 1), ("RESIZE", 0, 10), ("WRITE", 0, 3, 0xee),
                         ("TRANSFER", 0)),
}


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} <corpus dir>", file=sys.stderr)
        return 2
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(sys.argv[1], "seed-" + name), "wb") as f:
            f.write(data)
    print(f"gen_post_seeds: {len(SEEDS)} seeds into {sys.argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
