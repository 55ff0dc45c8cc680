#!/usr/bin/env python3
"""Tables from one bench/results/<run>.jsonl (schema: ../shared/WORKLOADS.md).

    python3 bench/report.py bench/results/<run>.jsonl [--all]

Prints the machine, then msgport beside each baseline: medians, min-max and
the ratio msgport / baseline of the medians (all from this one file, so from
one interleaved run), then the verdicts of the targets of issue #3 (codec:
lib_clone <= msgpack-c pack+unpack on W1, W2, W4 (vs W4flat), W5; direct
clone >= 10x faster than structuredClone on W2, W4, W5) and issue #4 (ports:
W1 throughput >= 7x Node and no slower than ZeroMQ; sleeping ping-pong <=
1.0x condvar; spinning ping-pong <= 1 us; 64 MiB transfer within 5 us of the
wake-up floor; worker start->exit <= 1.3x pthread create+join), and the
digests. --all adds the encode/decode halves, every port figure with its
p99, and every line of the file.
"""
import json
import sys

META = None
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
    global META
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
            if r.get("metric") == "machine":
                META = r
                continue
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
        ("oneway int between W6_64M transfers", [("lib", "lib_oneway", "int@W6_64M")]),
        ("thread start -> exit", [("lib", "lib_thread_start_exit", "-"), ("c", "thread_create_join", "-")]),
        ("thread start -> one message -> exit", [("lib", "lib_thread_start_post_exit", "-"),
                                                 ("node", "node_worker_start_exit", "-")]),
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




def rec_of(figs, key):
    r = figs.get(key)
    return r if r is not None and r.get("metric") in ("ns_per_op", "rtt_ns") else None


def sum_cell(figs, k1, k2):
    """Two figures measured separately (v8 serialize + deserialize): their medians added."""
    a, b = rec_of(figs, k1), rec_of(figs, k2)
    if a is None or b is None:
        return None, "-"
    return a["median"] + b["median"], "%s (sum of medians)" % fmt_ns(a["median"] + b["median"])


# (what, msgport key, [(baseline label, baseline key or ("sum", k1, k2))], target on the first baseline)
def comparisons():
    rows = []
    for w in ORDER:
        if w == "W4flat":
            continue
        mw = "W4flat" if w == "W4" else w
        rows.append(("clone through bytes " + w, ("lib", "lib_clone", w), [
            ("msgpack-c pack+unpack" + (" (W4flat)" if w == "W4" else ""), ("c", "msgpack_pack_unpack", mw),
             "<= 1" if w in CLONE_TARGET else None),
            ("Node structuredClone", ("node", "structuredClone", w), None),
            ("Node v8 serialize+deserialize", ("sum", ("node", "v8_serialize", w), ("node", "v8_deserialize", w)), None),
        ]))
        rows.append(("direct clone " + w, ("lib", "lib_clone_direct", w), [
            ("Node structuredClone", ("node", "structuredClone", w), "<= 0.1" if w in DIRECT_TARGET else None),
            ("C tree copy (dom_deep_copy)" + (" (W4flat)" if w == "W4" else ""), ("c", "dom_deep_copy", mw), None),
        ]))
        rows.append(("clone with transfer " + w, ("lib", "lib_clone_transfer", w), [
            ("Node structuredClone transfer", ("node", "structuredClone_transfer", w), None),
        ]))
    rows += [
        ("port tput W1 (per msg)", ("lib", "lib_port_tput", "W1"), [
            ("Node MessageChannel", ("node", "node_port_tput", "W1"), "<= 0.143 (7x)"),
            ("ZeroMQ inproc", ("c", "zmq_tput_w1", "W1"), "<= 1"),
            ("mutex+condvar queue", ("c", "tput_condvar_w1", "W1"), None),
            ("lock-free SPSC ring", ("c", "tput_spsc_w1", "W1"), None)]),
        ("port tput W2 (per msg)", ("lib", "lib_port_tput", "W2"), [
            ("Node MessageChannel", ("node", "node_port_tput", "W2"), None)]),
        ("port tput W6_1M (per msg)", ("lib", "lib_port_tput", "W6_1M"), [
            ("Node MessageChannel", ("node", "node_port_tput", "W6_1M"), None)]),
        ("ping-pong W1 sleeping (rtt)", ("lib", "lib_port_pingpong", "W1"), [
            ("condvar mailboxes", ("c", "pingpong_condvar_w1", "W1"), "<= 1.0"),
            ("futex mailboxes", ("c", "pingpong_futex", "W1"), None),
            ("ZeroMQ inproc", ("c", "zmq_pingpong_w1", "W1"), None),
            ("Node MessagePort", ("node", "node_port_pingpong", "W1"), None)]),
        ("ping-pong int sleeping (rtt)", ("lib", "lib_port_pingpong", "int"), [
            ("Node MessagePort", ("node", "node_port_pingpong", "int"), None)]),
        ("ping-pong int spinning (rtt)", ("lib", "lib_port_pingpong", "int_spin"), [
            ("two atomics spinning", ("c", "pingpong_spin", "int"), None)]),
        ("ping-pong W1 spinning (rtt)", ("lib", "lib_port_pingpong", "W1_spin"), [
            ("two atomics spinning (int)", ("c", "pingpong_spin", "int"), None)]),
        ("one-way int (wake-up floor)", ("lib", "lib_oneway", "int"), [
            ("Node", ("node", "node_oneway", "int"), None)]),
    ]
    for w, _ in [("W6_4K", 0), ("W6_64K", 0), ("W6_1M", 0), ("W6_8M", 0), ("W6_64M", 0)]:
        rows.append(("one-way %s copied" % w, ("lib", "lib_buf_oneway_copy", w), [
            ("Node copied", ("node", "node_buf_oneway_copy", w), None),
            ("memcpy into fresh pages", ("c", "memcpy_fresh", w), None),
            ("memcpy, fresh huge pages", ("c", "memcpy_fresh_thp", w), None)]))
        rows.append(("one-way %s transferred" % w, ("lib", "lib_buf_oneway_transfer", w), [
            ("Node transferred", ("node", "node_buf_oneway_transfer", w), None),
            ("msgport wake-up floor, between the transfers", ("lib", "lib_oneway", "int@" + w), None)]))
    rows.append(("thread start -> exit", ("lib", "lib_thread_start_exit", "-"), [
        ("pthread create+join", ("c", "thread_create_join", "-"), "<= 1.3")]))
    rows.append(("start, one message, exit", ("lib", "lib_thread_start_post_exit", "-"), [
        ("Node Worker", ("node", "node_worker_start_exit", "-"), None)]))
    return rows


def comparison_table(figs):
    rows = []
    for what, lk, baselines in comparisons():
        lib = rec_of(figs, lk)
        if lib is None and figs.get(lk) is None:
            continue
        first = True
        for label, bk, target in baselines:
            if bk[0] == "sum":
                bmed, bcell = sum_cell(figs, bk[1], bk[2])
            else:
                b = rec_of(figs, bk)
                bmed, bcell = (b["median"], cell(b)) if b else (None, cell(figs.get(bk)))
            if bmed is None and bcell == "-":
                continue
            q = lib["median"] / bmed if lib is not None and bmed else None
            verdict_s = ""
            if target and q is not None:
                lim = float(target.split()[1])
                verdict_s = "%s %s" % (target, "met" if q <= lim else "MISSED")
            elif target:
                verdict_s = target + " n/a"
            rows.append([what if first else "", cell(lib) if first else "", label, bcell,
                         "-" if q is None else ("%.3fx" % q if q < 0.1 else "%.2fx" % q), verdict_s])
            first = False
    if rows:
        over = ("%s interleaved rounds" % META["rounds"]) if META and META.get("interleaved") else \
            "the repetitions (not interleaved: an older run)"
        print("msgport beside each baseline: median [min-max] over %s; ratio = msgport / baseline (medians)" % over)
        print(table(rows, ["what", "msgport", "baseline", "baseline median [min-max]", "ratio", "target"]))
        print()


def target_table(figs):
    """The targets of issues #3 (codec) and #4 (ports), one verdict each."""
    t = []

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b

    for w in ["W1", "W2", "W4", "W5"]:
        q = ratio(med(figs, "lib", "lib_clone", w), med(figs, "c", "msgpack_pack_unpack", "W4flat" if w == "W4" else w))
        t.append(["#3 encode+decode %s <= msgpack-c pack+unpack%s" % (w, " (W4flat)" if w == "W4" else ""),
                  "-" if q is None else "%.2fx" % q, verdict(None if q is None else q <= 1.0)])
    for w in ["W2", "W4", "W5"]:
        q = ratio(med(figs, "node", "structuredClone", w), med(figs, "lib", "lib_clone_direct", w))
        t.append(["#3 direct clone %s >= 10x faster than structuredClone" % w,
                  "-" if q is None else "%.1fx faster" % q, verdict(None if q is None else q >= 10)])
    lib, node, zmq = med(figs, "lib", "lib_port_tput", "W1"), med(figs, "node", "node_port_tput", "W1"), \
        med(figs, "c", "zmq_tput_w1", "W1")
    q = ratio(node, lib)
    t.append(["#4 W1 throughput >= 7x Node MessageChannel", "-" if q is None else "%.2fx" % q,
              verdict(None if q is None else q >= 7)])
    q = ratio(lib, zmq)
    t.append(["#4 W1 time per message <= ZeroMQ inproc", "-" if q is None else "%.2fx" % q,
              verdict(None if q is None else q <= 1)])
    q = ratio(med(figs, "lib", "lib_port_pingpong", "W1"), med(figs, "c", "pingpong_condvar_w1", "W1"))
    t.append(["#4 W1 blocking ping-pong <= 1.0x condvar", "-" if q is None else "%.2fx" % q,
              verdict(None if q is None else q <= 1.0)])
    for w in ("int_spin", "W1_spin"):
        v = med(figs, "lib", "lib_port_pingpong", w)
        t.append(["#4 spinning ping-pong (%s) <= 1 us" % w.split("_")[0], fmt_ns(v),
                  verdict(None if v is None else v <= 1000)])
    # The floor measured between the transfers (same moments, same drift).
    floor = med(figs, "lib", "lib_oneway", "int@W6_64M")
    v = med(figs, "lib", "lib_buf_oneway_transfer", "W6_64M")
    d = None if v is None or floor is None else v - floor
    t.append(["#4 64 MiB transfer - wake-up floor <= 5 us",
              "-" if d is None else "%s (%s - %s)" % (fmt_ns(d) if d >= 0 else "-" + fmt_ns(-d), fmt_ns(v), fmt_ns(floor)),
              verdict(None if d is None else d <= 5000)])
    q = ratio(med(figs, "lib", "lib_thread_start_exit", "-"), med(figs, "c", "thread_create_join", "-"))
    t.append(["#4 worker start->exit <= 1.3x pthread create+join", "-" if q is None else "%.2fx" % q,
              verdict(None if q is None else q <= 1.3)])
    print("targets (ratios of medians from this file)")
    print(table(t, ["target", "value", "verdict"]))
    print()


def machine_line():
    m = META
    if not m:
        return
    print("machine: %s, %s vCPU (%s threads/core), %s; Linux %s; %s" % (
        m.get("cpu"), m.get("nproc"), m.get("threads_per_core"), m.get("hypervisor") or "bare metal",
        m.get("kernel"), m.get("os")))
    print("tools: %s; node %s; msgpack-c %s; libzmq %s; tree %s" % (
        m.get("cc"), m.get("node"), m.get("msgpack_c"), m.get("libzmq"), m.get("git")))
    print("run: %s, %s rounds interleaved%s, %s s; load average %s -> %s" % (
        m.get("date_utc"), m.get("rounds"), " (quick)" if m.get("quick") else "", m.get("seconds"),
        " ".join((m.get("loadavg_start") or "").split()[:3]), " ".join((m.get("loadavg_end") or "").split()[:3])))
    print("latency benches pinned: %s" % ("main thread CPU 0, other thread CPU 1 (msgport and C; Node unpinned)"
                                          if m.get("pin_pair") else "no"))
    if m.get("note"):
        print("note: " + m["note"])

def main(argv):
    if len(argv) < 2:
        print(__doc__.strip())
        return 2
    path = argv[1]
    figs, digests, errors, runs = load(path)
    print("results: %s (run %s)" % (path, ", ".join(sorted(str(r) for r in runs))))
    builds = sorted({"%s=%s" % (r["suite"], r.get("build")) for r in figs.values() if "build" in r})
    print("builds: %s" % ", ".join(builds))
    machine_line()
    print()
    comparison_table(figs)
    target_table(figs)
    rows = []
    words_note = False
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
        if table_match != "match" and w in ("W2", "W5"):
            words_note = True
        rows.append([w, dc, dn, exp, table_match, agree, extra])
    if rows:
        print("digests (every C digest is also checked on the codec's clone and direct clone of the value)")
        print(table(rows, ["workload", "C", "node", "table", "vs table", "C==node", "codec round trip"]))
        print()

    if words_note:
        print("W2, W5: WORDS list differs from WORKLOADS.md's (not published to us): our own 64 words, the same in C "
              "and JS, so their digests and sizes differ from the table; every other digest matches it")
        print()
    if errors:
        print("errors:")
        for e in errors:
            print("  %s %s %s: %s" % (e["suite"], e["bench"], e["workload"], e.get("error")))
        print()

    if "--all" not in argv:
        return 0
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

    port_tables(figs)
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
