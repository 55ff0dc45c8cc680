#!/usr/bin/env python3
"""Tables from one bench/results/<run>.jsonl (schema: ../shared/WORKLOADS.md).

    python3 bench/report.py bench/results/<run>.jsonl [--all]

Prints, per workload, msgport's lib_clone beside msgpack-c's pack+unpack
(W4 against W4flat) and lib_clone_direct beside Node's structuredClone, with
medians, min-max and the ratios of the medians, against the codec targets:
lib_clone <= msgpack_pack_unpack on W1, W2, W4, W5, and structuredClone /
lib_clone_direct >= 10 on W2, W4, W5. Then the port benches (bench_port,
node_port_bench.js) against the targets of the ports issue, the digests, and
with --all every figure of the file.
"""
import json
import sys

ORDER = ["W1", "W2", "W3a", "W3b", "W4", "W4flat", "W5", "W5s", "W6_1M", "W6_64M"]
CLONE_TARGET = {"W1", "W2", "W4", "W5"}       # lib_clone <= msgpack_pack_unpack
DIRECT_TARGET = {"W2", "W4", "W5"}            # structuredClone >= 10 x lib_clone_direct


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns < 1e3:
        return "%.0f ns" % ns
    if ns < 1e6:
        return "%.1f us" % (ns / 1e3)
    if ns < 1e9:
        return "%.2f ms" % (ns / 1e6)
    return "%.2f s" % (ns / 1e9)


def cell(rec):
    if rec is None:
        return "-"
    if rec.get("metric") == "error":
        return "ERROR"
    return "%s [%s-%s]" % (fmt_ns(rec["median"]), fmt_ns(rec["min"]), fmt_ns(rec["max"]))


def load(path):
    figs, digests, errors, runs = {}, [], [], set()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except ValueError:
                continue
            runs.add(r.get("run"))
            if r.get("metric") == "digest":
                digests.append(r)
                continue
            if r.get("metric") == "error":
                errors.append(r)
            figs[(r["suite"], r["bench"], r["workload"])] = r
    return figs, digests, errors, runs


def table(rows, headers):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(str(x).ljust(w) for x, w in zip(r, widths)))
    return "\n".join(out)


def ok_median(rec):
    return rec is not None and rec.get("metric") == "ns_per_op"


def med(figs, suite, bench, w):
    r = figs.get((suite, bench, w))
    return r["median"] if r is not None and r.get("metric") in ("ns_per_op", "rtt_ns") else None


def verdict(ok):
    return "-" if ok is None else ("met" if ok else "MISSED")


def port_tables(figs):
    """The port benches (bench_port, node_port_bench.js) and the targets of the
    ports issue, every ratio from medians of this one file."""
    if not any(k[1].startswith(("lib_port", "lib_buf", "lib_oneway", "lib_thread", "node_port", "zmq_", "tput_",
                                "pingpong", "thread_create", "memcpy_fresh", "node_worker", "node_buf"))
               for k in figs):
        return
    rows = []
    for label, keys in [
        ("port tput W1 (ns/msg)", [("lib", "lib_port_tput", "W1"), ("node", "node_port_tput", "W1"),
                                   ("c", "zmq_tput_w1", "W1"), ("c", "tput_condvar_w1", "W1"),
                                   ("c", "tput_spsc_w1", "W1")]),
        ("port tput W2 (ns/msg)", [("lib", "lib_port_tput", "W2"), ("node", "node_port_tput", "W2")]),
        ("port tput W6_1M (ns/msg)", [("lib", "lib_port_tput", "W6_1M"), ("node", "node_port_tput", "W6_1M")]),
        ("pingpong int, sleeping", [("lib", "lib_port_pingpong", "int"), ("node", "node_port_pingpong", "int")]),
        ("pingpong W1, sleeping", [("lib", "lib_port_pingpong", "W1"), ("node", "node_port_pingpong", "W1"),
                                   ("c", "pingpong_condvar_w1", "W1"), ("c", "pingpong_futex", "W1"),
                                   ("c", "zmq_pingpong_w1", "W1")]),
        ("pingpong int, spinning", [("lib", "lib_port_pingpong", "int_spin"), ("c", "pingpong_spin", "int")]),
        ("pingpong W1, spinning", [("lib", "lib_port_pingpong", "W1_spin")]),
        ("oneway int (wake-up floor)", [("lib", "lib_oneway", "int"), ("node", "node_oneway", "int")]),
        ("oneway W6_1M copy", [("lib", "lib_buf_oneway_copy", "W6_1M"), ("node", "node_buf_oneway_copy", "W6_1M"),
                               ("c", "memcpy_fresh", "W6_1M"), ("c", "memcpy_fresh_thp", "W6_1M")]),
        ("oneway W6_1M transfer", [("lib", "lib_buf_oneway_transfer", "W6_1M"),
                                   ("node", "node_buf_oneway_transfer", "W6_1M")]),
        ("oneway W6_64M copy", [("lib", "lib_buf_oneway_copy", "W6_64M"), ("node", "node_buf_oneway_copy", "W6_64M"),
                                ("c", "memcpy_fresh", "W6_64M"), ("c", "memcpy_fresh_thp", "W6_64M")]),
        ("oneway W6_64M transfer", [("lib", "lib_buf_oneway_transfer", "W6_64M"),
                                    ("node", "node_buf_oneway_transfer", "W6_64M")]),
        ("thread start -> exit", [("lib", "lib_thread_start_exit", "-"), ("node", "node_worker_start_exit", "-"),
                                  ("c", "thread_create_join", "-")]),
    ]:
        for i, k in enumerate(keys):
            r = figs.get(k)
            if r is None:
                continue
            extra = ""
            if r.get("metric") == "rtt_ns":
                extra = "p99 %s [%s-%s]" % (fmt_ns(r.get("p99_ns")), fmt_ns(r.get("p99_min")), fmt_ns(r.get("p99_max")))
            rows.append([label if i == 0 else "", k[0], k[1], cell(r), extra])
    print("ports: median [min-max] (rtt: median of the per-repetition medians)")
    print(table(rows, ["what", "suite", "bench", "median [min-max]", "p99"]))
    print()

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b

    t = []
    lib, node, zmq = med(figs, "lib", "lib_port_tput", "W1"), med(figs, "node", "node_port_tput", "W1"), \
        med(figs, "c", "zmq_tput_w1", "W1")
    q = ratio(node, lib)
    t.append(["W1 tput: node / lib >= 7", "-" if q is None else "%.2fx" % q, verdict(None if q is None else q >= 7)])
    q = ratio(lib, zmq)
    t.append(["W1 tput: lib / zmq <= 1", "-" if q is None else "%.2fx" % q, verdict(None if q is None else q <= 1)])
    lib, cv = med(figs, "lib", "lib_port_pingpong", "W1"), med(figs, "c", "pingpong_condvar_w1", "W1")
    q = ratio(lib, cv)
    t.append(["W1 ping-pong sleeping: lib / condvar <= 1.0", "-" if q is None else "%.2fx" % q,
              verdict(None if q is None else q <= 1.0)])
    for w in ("int_spin", "W1_spin"):
        v = med(figs, "lib", "lib_port_pingpong", w)
        t.append(["ping-pong %s spinning <= 1 us" % w.split("_")[0], fmt_ns(v), verdict(None if v is None else v <= 1000)])
    floor = med(figs, "lib", "lib_oneway", "int")
    for w in ("W6_1M", "W6_64M"):
        v = med(figs, "lib", "lib_buf_oneway_transfer", w)
        d = None if v is None or floor is None else v - floor
        t.append(["%s transfer - wake-up floor (lib_oneway int) <= 5 us" % w,
                  "-" if d is None else "%s (%s - %s)" % (fmt_ns(d) if d >= 0 else "-" + fmt_ns(-d), fmt_ns(v), fmt_ns(floor)),
                  verdict(None if d is None else d <= 5000)])
    q = ratio(med(figs, "lib", "lib_thread_start_exit", "-"), med(figs, "c", "thread_create_join", "-"))
    t.append(["start->exit: lib / pthread create+join <= 1.3", "-" if q is None else "%.2fx" % q,
              verdict(None if q is None else q <= 1.3)])
    print("port targets (ratios of medians, this file)")
    print(table(t, ["target", "value", "verdict"]))
    print()


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip())
        return 2
    path = argv[1]
    figs, digests, errors, runs = load(path)
    print("results: %s (run %s)" % (path, ", ".join(sorted(str(r) for r in runs))))
    builds = sorted({"%s=%s" % (r["suite"], r.get("build")) for r in figs.values() if "build" in r})
    print("builds: %s" % ", ".join(builds))
    print()

    rows = []
    for w in ORDER:
        lib = figs.get(("lib", "lib_clone", w))
        mp = figs.get(("c", "msgpack_pack_unpack", "W4flat" if w == "W4" else w))
        direct = figs.get(("lib", "lib_clone_direct", w))
        node = figs.get(("node", "structuredClone", w))
        dom = figs.get(("c", "dom_deep_copy", "W4flat" if w == "W4" else w))
        if not any((lib, mp, direct, node)):
            continue
        r1 = r2 = "-"
        v1 = v2 = ""
        if ok_median(lib) and ok_median(mp):
            q = lib["median"] / mp["median"]
            r1 = "%.2fx" % q
            if w in CLONE_TARGET:
                v1 = "ok" if q <= 1.0 else "MISS"
        elif w in CLONE_TARGET:
            v1 = "n/a"
        if ok_median(direct) and ok_median(node):
            q = node["median"] / direct["median"]
            r2 = "%.1fx" % q
            if w in DIRECT_TARGET:
                v2 = "ok" if q >= 10.0 else "MISS"
        elif w in DIRECT_TARGET:
            v2 = "n/a"
        rows.append([w + (" (vs W4flat)" if w == "W4" else ""), cell(lib), cell(mp), r1, v1,
                     cell(direct), cell(node), r2, v2, cell(dom)])
    if rows:
        print("median [min-max] per op; ratio = of the medians")
        print(table(rows, ["workload", "lib_clone", "msgpack_pack_unpack", "lib/mp", "<=1?",
                           "lib_clone_direct", "node structuredClone", "node/direct", ">=10?",
                           "dom_deep_copy (C)"]))
        print()

    # the halves, for whoever optimises the codec
    rows = []
    for w in ORDER:
        e, d = figs.get(("lib", "lib_encode", w)), figs.get(("lib", "lib_decode", w))
        mw = "W4flat" if w == "W4" else w
        p, u = figs.get(("c", "msgpack_pack", mw)), figs.get(("c", "msgpack_unpack", mw))
        vs, vd = figs.get(("node", "v8_serialize", w)), figs.get(("node", "v8_deserialize", w))
        if not any((e, d, p, u)):
            continue
        rows.append([w, cell(e), cell(p), cell(d), cell(u), cell(vs), cell(vd)])
    if rows:
        print("halves: encode / decode")
        print(table(rows, ["workload", "lib_encode", "msgpack_pack", "lib_decode", "msgpack_unpack",
                           "v8_serialize", "v8_deserialize"]))
        print()

    rows = []
    for w in ORDER:
        t = figs.get(("lib", "lib_clone_transfer", w))
        td = figs.get(("lib", "lib_clone_direct_transfer", w))
        n = figs.get(("node", "structuredClone_transfer", w))
        if not any((t, td, n)):
            continue
        rows.append([w, cell(t), cell(td), cell(n)])
    if rows:
        print("transfer (buffer in the transfer list)")
        print(table(rows, ["workload", "lib_clone_transfer", "lib_clone_direct_transfer",
                           "node structuredClone_transfer"]))
        print()

    rows = []
    by_w = {}
    for d in digests:
        by_w.setdefault(d["workload"], {})[d["suite"]] = d
    for w in ORDER:
        if w not in by_w:
            continue
        c, n = by_w[w].get("lib"), by_w[w].get("node")
        dc = c["digest"] if c else "-"
        dn = n["digest"] if n else "-"
        exp = (c or n)["expected"]
        table_match = "match" if (c or n).get("match") else "MISMATCH"
        agree = "yes" if (c and n and dc == dn) else ("-" if not (c and n) else "NO")
        extra = ""
        if c:
            extra = "clone %s, direct %s" % (
                "ok" if c.get("clone_digest") == dc and c.get("clone_graph_equal") else "BAD",
                "ok" if c.get("direct_digest") == dc and c.get("direct_graph_equal") else "BAD")
            if c.get("expected_msgpack_bytes"):
                extra += "; msgpack %d B (table %d)" % (c["msgpack_bytes"], c["expected_msgpack_bytes"])
        rows.append([w, dc, dn, exp, table_match, agree, extra])
    if rows:
        print("digests (W2 and W5 use our own WORDS list: the table's canonical list was not available)")
        print(table(rows, ["workload", "C", "node", "table", "vs table", "C==node", "codec round trip"]))
        print()

    port_tables(figs)

    if errors:
        print("errors:")
        for e in errors:
            print("  %s %s %s: %s" % (e["suite"], e["bench"], e["workload"], e.get("error")))
        print()

    if "--all" in argv:
        rows = []
        for (suite, bench, w), r in sorted(figs.items(), key=lambda kv: (ORDER.index(kv[0][2]) if kv[0][2] in ORDER else 99, kv[0][0], kv[0][1])):
            if not ok_median(r):
                continue
            rows.append([w, suite, bench, fmt_ns(r["median"]), fmt_ns(r["min"]), fmt_ns(r["max"]), r["n"],
                         r.get("bytes", ""), r.get("ops_per_s", "")])
        print(table(rows, ["workload", "suite", "bench", "median", "min", "max", "n", "bytes", "ops/s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
