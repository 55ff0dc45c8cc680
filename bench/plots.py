#!/usr/bin/env python3
"""gnuplot PNGs from one bench/results/<run>.jsonl, written next to it:

    python3 bench/plots.py bench/results/<run>.jsonl

  <run>-clone.png     clone time per workload (log scale): msgport encode+decode
                      and direct clone, msgpack-c pack+unpack (W4: W4flat),
                      Node structuredClone and v8.serialize+deserialize
  <run>-tput.png      port throughput, messages/s, worker thread -> main thread:
                      msgport, Node MessageChannel, ZeroMQ inproc, mutex+condvar
                      queue, lock-free ring
  <run>-latency.png   round-trip distribution (W1 ping-pong): the median over
                      rounds of each quantile, msgport blocking and spinning,
                      condvar, futex, ZeroMQ, Node, the two-atomics floor
  <run>-transfer.png  one-way time of an ArrayBuffer by size, copied vs
                      transferred, msgport and Node, with memcpy into fresh
                      pages and the wake-up floor
Needs gnuplot (Debian: gnuplot-nox; bench/run.sh installs it).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

CLONE_WL = ["W1", "W2", "W3a", "W3b", "W4", "W5", "W5s", "W6_1M", "W6_64M"]
BUFS = [("W6_4K", 4096), ("W6_64K", 65536), ("W6_1M", 1 << 20), ("W6_8M", 8 << 20), ("W6_64M", 64 << 20)]
COLORS = ["#1f77b4", "#6baed6", "#ff7f0e", "#2ca02c", "#98df8a", "#d62728", "#9467bd", "#8c564b"]


def load(path):
    figs, meta = {}, None
    with open(path) as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("metric") == "machine":
                meta = r
            elif r.get("metric") in ("ns_per_op", "rtt_ns"):
                figs[(r["suite"], r["bench"], r["workload"])] = r
    return figs, meta


def med(figs, suite, bench, w):
    r = figs.get((suite, bench, w))
    return None if r is None else r["median"]


def subtitle(meta):
    if not meta:
        return ""
    return "%s, %s vCPU, Linux %s, node %s%s" % (meta.get("cpu", "?"), meta.get("nproc", "?"), meta.get("kernel", "?"),
                                                 meta.get("node", "?"), ", quick run" if meta.get("quick") else "")


def gp_escape(s):
    return s.replace("\\", "\\\\").replace('"', '\\"')


def run_gnuplot(script, data_files):
    with tempfile.TemporaryDirectory(prefix="msgport-plots-") as d:
        names = {}
        for key, rows in data_files.items():
            p = os.path.join(d, key + ".dat")
            with open(p, "w") as f:
                for row in rows:
                    f.write("\t".join("-" if x is None else (x if isinstance(x, str) else "%.6g" % x)
                                      for x in row) + "\n")
            names[key] = p
        script = script.format(**names)
        p = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if p.returncode != 0:
            raise RuntimeError("gnuplot failed: " + p.stderr.strip())


# log-scale tics in microseconds, labelled with their unit
US_TICS = '''set ytics ("10 ns" 0.01, "100 ns" 0.1, "1 us" 1, "10 us" 10, "100 us" 100, "1 ms" 1000, "10 ms" 1e4, \\
  "100 ms" 1e5, "1 s" 1e6, "10 s" 1e7)
'''

HEAD = """set terminal pngcairo size 1100,620 font "DejaVu Sans,10" noenhanced
set datafile missing "-"
set datafile separator "\\t"
set grid ytics mytics lc rgb "#dddddd"
set key top left
"""


def plot_clone(figs, meta, out):
    rows = []
    for w in CLONE_WL:
        mw = "W4flat" if w == "W4" else w
        vs, vd = med(figs, "node", "v8_serialize", w), med(figs, "node", "v8_deserialize", w)
        vals = [med(figs, "lib", "lib_clone", w), med(figs, "lib", "lib_clone_direct", w),
                med(figs, "c", "msgpack_pack_unpack", mw), med(figs, "node", "structuredClone", w),
                vs + vd if vs is not None and vd is not None else None]
        if all(v is None for v in vals):
            continue
        rows.append([w + (" (mp: W4flat)" if w == "W4" else "")] + [None if v is None else v / 1e3 for v in vals])
    if not rows:
        return False
    titles = ["msgport encode+decode (lib_clone)", "msgport direct clone (lib_clone_direct)",
              "msgpack-c pack+unpack", "Node structuredClone", "Node v8.serialize+deserialize"]
    plots = ", ".join('"{clone}" using %d:xtic(1) title "%s" lc rgb "%s"' % (i + 2, t, COLORS[i])
                      for i, t in enumerate(titles))
    script = HEAD + ("""set output "%s"
set title "Clone time per workload (median of interleaved rounds; lower is better)\\n%s"
set ylabel "time per clone (log scale)"
set logscale y
""" + US_TICS + """set key below horizontal
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set xtics nomirror
plot %s
""") % (gp_escape(out), gp_escape(subtitle(meta)), plots)
    run_gnuplot(script, {"clone": rows})
    return True


def plot_tput(figs, meta, out):
    series = [("lib", "lib_port_tput", "msgport port"), ("node", "node_port_tput", "Node MessageChannel"),
              ("c", "zmq_tput_w1", "ZeroMQ inproc PAIR"), ("c", "tput_condvar_w1", "mutex+condvar queue"),
              ("c", "tput_spsc_w1", "lock-free SPSC ring")]
    rows = []
    for w in ["W1", "W2", "W6_1M"]:
        vals = [med(figs, s, b, w) for s, b, _ in series]
        if all(v is None for v in vals):
            continue
        rows.append([w] + [None if v is None else 1e9 / v for v in vals])
    if not rows:
        return False
    plots = ", ".join('"{tput}" using %d:xtic(1) title "%s" lc rgb "%s"' % (i + 2, t, COLORS[i])
                      for i, (_, _, t) in enumerate(series))
    script = HEAD + """set output "%s"
set title "Port throughput, worker thread -> main thread, receiver decodes (higher is better)\\n%s"
set ylabel "messages per second (log scale)"
set logscale y
set format y "%%.0s%%c"
set key top right
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
plot %s
""" % (gp_escape(out), gp_escape(subtitle(meta)), plots)
    run_gnuplot(script, {"tput": rows})
    return True


def plot_latency(figs, meta, out):
    series = [("lib", "lib_port_pingpong", "W1", "msgport, blocking"),
              ("c", "pingpong_condvar_w1", "W1", "mutex+condvar mailboxes"),
              ("c", "pingpong_futex", "W1", "futex mailboxes"),
              ("c", "zmq_pingpong_w1", "W1", "ZeroMQ inproc"),
              ("node", "node_port_pingpong", "W1", "Node MessagePort"),
              ("lib", "lib_port_pingpong", "W1_spin", "msgport, spinning"),
              ("c", "pingpong_spin", "int", "two atomics, spinning (floor)")]
    data, plots = {}, []
    for i, (s, b, w, t) in enumerate(series):
        r = figs.get((s, b, w))
        if r is None or "q_ns" not in r:
            continue
        # the maximum (100%) is one outlier per round: left out
        rows = [[ns / 1e3, p] for p, ns in zip(r["q_p"], r["q_ns"]) if p < 100]
        key = "s%d" % i
        data[key] = rows
        pinned = " (pinned)" if r.get("pinned") else ""
        plots.append('"{%s}" using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc rgb "%s" title "%s%s"'
                     % (key, COLORS[i], t, pinned))
    if not plots:
        return False
    script = HEAD + """set output "%s"
set title "Round trip of W1 (post, echo decodes and re-posts, receive): distribution\\n%s"
set xlabel "round trip (log scale; the maximum of each round left out)"
set ylabel "percentile"
set logscale x
set xtics ("100 ns" 0.1, "1 us" 1, "10 us" 10, "100 us" 100, "1 ms" 1000, "10 ms" 1e4, "100 ms" 1e5)
set yrange [0:100]
set ytics 10
set grid xtics ytics mxtics lc rgb "#dddddd"
set key bottom right
plot %s
""" % (gp_escape(out), gp_escape(subtitle(meta)), ", ".join(plots))
    run_gnuplot(script, data)
    return True


def plot_transfer(figs, meta, out):
    series = [("lib", "lib_buf_oneway_copy", "msgport, copied"), ("lib", "lib_buf_oneway_transfer", "msgport, transferred"),
              ("node", "node_buf_oneway_copy", "Node, copied"), ("node", "node_buf_oneway_transfer", "Node, transferred"),
              ("c", "memcpy_fresh", "memcpy into fresh pages (no thread)")]
    rows = []
    for w, size in BUFS:
        vals = [med(figs, s, b, w) for s, b, _ in series]
        if all(v is None for v in vals):
            continue
        rows.append([size / 1024.0] + [None if v is None else v / 1e3 for v in vals])
    if not rows:
        return False
    styles = ["lw 2 pt 7", "lw 2 pt 5 dt 1", "lw 2 pt 7 dt 2", "lw 2 pt 5 dt 2", "lw 1 pt 1 dt 3"]
    cols = [COLORS[0], COLORS[1], COLORS[5], COLORS[3], "#777777"]
    plots = ['"{buf}" using 1:%d with linespoints %s lc rgb "%s" title "%s"' % (i + 2, styles[i], cols[i], t)
             for i, (_, _, t) in enumerate(series)]
    floor = med(figs, "lib", "lib_oneway", "int")
    if floor is not None:
        plots.append('%g with lines dt 4 lc rgb "#000000" title "wake-up floor (msgport, a number): %.1f us"'
                     % (floor / 1e3, floor / 1e3))
    script = HEAD + ("""set output "%s"
set title "ArrayBuffer sent to another thread: post -> receiver has it (median; lower is better)\\n%s"
set xlabel "buffer size (log scale)"
set ylabel "one-way time (log scale)"
set logscale xy
set xtics ("4 KiB" 4, "64 KiB" 64, "1 MiB" 1024, "8 MiB" 8192, "64 MiB" 65536)
""" + US_TICS + """set xrange [3:90000]
set grid xtics ytics lc rgb "#dddddd"
plot %s
""") % (gp_escape(out), gp_escape(subtitle(meta)), ", ".join(plots))
    run_gnuplot(script, {"buf": rows})
    return True


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip())
        return 2
    if not shutil.which("gnuplot"):
        sys.stderr.write("plots.py: gnuplot not found (apt-get install gnuplot-nox); no plots\n")
        return 1
    path = argv[1]
    figs, meta = load(path)
    base = path[:-len(".jsonl")] if path.endswith(".jsonl") else path
    made = []
    for name, fn in [("clone", plot_clone), ("tput", plot_tput), ("latency", plot_latency),
                     ("transfer", plot_transfer)]:
        out = "%s-%s.png" % (base, name)
        try:
            if fn(figs, meta, out):
                made.append(out)
        except RuntimeError as e:
            sys.stderr.write("plots.py: %s: %s\n" % (name, e))
    for m in made:
        print("plot: %s" % m)
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
