#!/usr/bin/env python3
"""Runs msgport's benches and their baselines interleaved, in rounds, into one
results file (schema: ../shared/WORKLOADS.md). bench/run.sh calls it.

    python3 bench/driver.py --out FILE --run ID --codec-bin B --port-bin B
                            [--quick] [--rounds N] [--workloads W1,W2]
                            [--codec-only | --port-only] [--no-pin]

Fairness: one repetition of each figure per round, msgport and each baseline
alternating, so a change in machine load hits both sides.

- Codec: bench_codec and node_bench.js run as servers (--serve) with one
  workload loaded at a time; each round asks each of them for one repetition
  of every bench, interleaved (msgpack-c, msgport, Node, ...), the order
  reversed every other round. Each bench is calibrated once per workload, on
  its first repetition (the warm-up). --quick: repetitions of >= 5 ms instead
  of 20, 3 rounds instead of 11, no W3a and W5s, and of W6_64M only the
  transfers (its copies are in the one-way port figures).
- Ports: per round, each bench group (throughput, ping-pong, one-way, thread
  start) runs msgport, then Node, then the C baselines, as separate short
  processes with one repetition each (each with its own warm-up); the order
  is reversed every other round. The latency groups (ping-pong, one-way) pin
  the two threads of msgport and of the C baselines to two different CPUs
  (--pin-pair 0,1), so every wake-up crosses CPUs as it does on a loaded
  machine, rather than sometimes landing on the waker's CPU: unpinned, the
  sleeping round trips mixed both cases and drifted by 2-5x from run to run.
  Node's threads cannot be pinned from JavaScript and run unpinned.
  msgport's ping-pong figures (int, W1, int_spin, W1_spin) each run in a
  process of their own, as every baseline does: the second sleeping
  ping-pong in one process reads 6-8 us slower than the first (seen with the
  C condvar baseline run twice in one process), so taking W1 second, after
  int, put it at a disadvantage its baselines did not have.

The figures are merged over the rounds: ns_per_op lines get every round's
sample (median, min, max over them); rtt_ns lines take each round's median
round trip as a sample (so "median" is a median of medians), and the median
over rounds of p99, p99.9, mean and of each quantile of the distribution.
Every raw line goes to FILE with .raw.jsonl in place of .jsonl.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CODEC_WORKLOADS = ["W1", "W2", "W3a", "W3b", "W4", "W4flat", "W5", "W5s", "W6_1M", "W6_64M"]
# --quick: the workloads of the targets (W1, W2, W4, W5) and of the buffers;
# W3a (1M doubles) and W5s only in full runs
QUICK_WORKLOADS = ["W1", "W2", "W3b", "W4", "W4flat", "W5", "W6_1M", "W6_64M"]

# (group, [(runner, bench filter[, workload filter])]): msgport's figures
# and their baselines; each entry is one process per round.
PORT_GROUPS = [
    ("tput", False, [("c", "lib_port_tput"), ("node", "node_port_tput"), ("c", "zmq_tput_w1"),
                     ("c", "tput_condvar_w1"), ("c", "tput_spsc_w1")]),
    ("pingpong", True, [("c", "lib_port_pingpong", "W1"), ("c", "pingpong_condvar_w1"),
                        ("c", "lib_port_pingpong", "int"), ("node", "node_port_pingpong"),
                        ("c", "pingpong_futex"), ("c", "lib_port_pingpong", "W1_spin"),
                        ("c", "lib_port_pingpong", "int_spin"), ("c", "pingpong_spin"),
                        ("c", "zmq_pingpong_w1")]),
    ("oneway", True, [("c", "lib_oneway,lib_buf_oneway_copy,lib_buf_oneway_transfer"),
                      ("node", "node_oneway,node_buf_oneway_copy,node_buf_oneway_transfer"),
                      ("c", "memcpy_fresh,memcpy_fresh_thp")]),
    ("start", False, [("c", "lib_thread_start_exit,lib_thread_start_post_exit"), ("node", "node_worker_start_exit"),
                      ("c", "thread_create_join")]),
]


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(run, args):
    """The machine the figures were taken on, as one meta line."""
    lscpu = {}
    for line in sh("LC_ALL=C lscpu").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            lscpu[k.strip()] = v.strip()
    return {
        "run": run, "suite": "meta", "bench": "machine", "workload": "-", "metric": "machine",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": lscpu.get("Model name", platform.processor()), "nproc": os.cpu_count(),
        "threads_per_core": lscpu.get("Thread(s) per core"), "numa_nodes": lscpu.get("NUMA node(s)"),
        "hypervisor": lscpu.get("Hypervisor vendor", ""), "mhz": lscpu.get("CPU MHz", ""),
        "l2": lscpu.get("L2 cache", ""), "l3": lscpu.get("L3 cache", ""),
        "kernel": platform.release(), "os": sh(". /etc/os-release && echo \"$PRETTY_NAME\""),
        "cc": sh("cc --version | head -1"), "node": sh("node --version"),
        "msgpack_c": sh("dpkg-query -W -f='${Version}' libmsgpack-dev"),
        "libzmq": sh("dpkg-query -W -f='${Version}' libzmq3-dev"),
        "git": sh("cd '%s' && git describe --always --dirty 2>/dev/null" % HERE),
        "loadavg_start": sh("cat /proc/loadavg"), "mem_total": sh("grep MemTotal /proc/meminfo | awk '{print $2 \" kB\"}'"),
        "thp": sh("cat /sys/kernel/mm/transparent_hugepage/enabled"),
        "quick": args.quick, "rounds": args.rounds, "interleaved": True,
        "pin_pair": None if args.no_pin else "0,1",
        "codec_bin": args.codec_bin, "port_bin": args.port_bin,
    }


class Server:
    """bench_codec --serve or node_bench.js --serve: one command, its lines."""

    def __init__(self, name, argv, errlog):
        self.name = name
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, text=True,
                                  bufsize=1)

    def ask(self, cmd):
        """Sends cmd; returns (data lines, the closing ctl line)."""
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        lines = []
        for raw in self.p.stdout:
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if "ctl" in rec:
                return lines, rec
            lines.append(rec)
        raise RuntimeError("%s exited during '%s' (code %s)" % (self.name, cmd, self.p.wait()))

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except OSError:
            pass
        self.p.wait()


def interleave(a, b):
    """a0 a1 b0 a2 a3 b1 ...: two C figures (msgport + msgpack-c) per Node one."""
    out, i, j = [], 0, 0
    while i < len(a) or j < len(b):
        out += a[i:i + 2]
        i += 2
        if j < len(b):
            out.append(b[j])
            j += 1
    return out


def run_codec(args, raw, errlog):
    c = Server("bench_codec", [args.codec_bin, "--serve", "--run", args.run, "--target-ms", str(args.target_ms)]
               + (["--pin", str(args.codec_pin)] if args.codec_pin is not None else []), errlog)
    n = Server("node_bench.js", ["node", "--stack-size=4000", os.path.join(HERE, "node_bench.js"), "--serve",
                                 "--run", args.run, "--target-ms", str(args.target_ms)], errlog)
    try:
        for w in args.workloads:
            t0 = time.time()
            cl, cr = c.ask("load " + w)
            nl, nr = n.ask("load " + w)
            raw += cl + nl
            keep = lambda b: not (args.quick and w == "W6_64M" and "transfer" not in b)
            order = interleave([(c, b) for b in cr.get("benches", []) if keep(b)],
                               [(n, b) for b in nr.get("benches", []) if keep(b)])
            for r in range(args.rounds):
                for srv, b in (order if r % 2 == 0 else order[::-1]):
                    lines, ctl = srv.ask("rep " + b)
                    if ctl.get("ctl") == "error":
                        log("  %s %s %s: %s" % (srv.name, b, w, ctl.get("error")))
                    raw += lines
            log("  codec %-7s %2d figures x %d rounds, %.1f s" % (w, len(order), args.rounds, time.time() - t0))
    finally:
        c.close()
        n.close()


def run_ports(args, raw, errlog):
    ncpu = os.cpu_count() or 1
    pin = [] if args.no_pin or ncpu < 2 else ["--pin-pair", "0,1"]
    quick = ["--quick"] if args.quick else []
    for r in range(args.rounds):
        t0 = time.time()
        for group, latency, entries in PORT_GROUPS:
            for entry in (entries if r % 2 == 0 else entries[::-1]):
                runner, benches, wl = (entry + (None,))[:3]
                if runner == "c":
                    argv = [args.port_bin, "--reps", "1", "--bench", benches, "--run", args.run] + quick + \
                           (pin if latency else []) + (["--workloads", wl] if wl else [])
                else:
                    argv = ["node", os.path.join(HERE, "node_port_bench.js"), "--reps", "1", "--bench", benches,
                            "--run", args.run] + quick
                t1 = time.time()
                p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=errlog, text=True)
                errlog.write("[driver] round %d, %s%s: %.2f s\n" % (r + 1, benches, " " + wl if wl else "",
                                                                   time.time() - t1))
                errlog.flush()
                if p.returncode != 0:
                    log("  %s exited with %d" % (" ".join(argv), p.returncode))
                for line in p.stdout.splitlines():
                    try:
                        raw.append(json.loads(line))
                    except ValueError:
                        pass
        log("  ports round %d/%d, %.1f s" % (r + 1, args.rounds, time.time() - t0))


def med(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def merge(raw):
    """One line per (suite, bench, workload) over all rounds; digest lines once."""
    out, groups, order = [], {}, []
    seen_digest = set()
    for r in raw:
        if r.get("metric") == "digest":
            k = (r["suite"], r["workload"])
            if k not in seen_digest:
                seen_digest.add(k)
                out.append(r)
            continue
        k = (r["suite"], r["bench"], r["workload"])
        if k not in groups:
            groups[k] = []
            order.append(k)
        groups[k].append(r)
    r1 = lambda x: round(x, 1)
    for k in order:
        recs = groups[k]
        ok = [r for r in recs if r.get("metric") in ("ns_per_op", "rtt_ns")]
        if not ok:
            out.append(recs[0])
            continue
        first = ok[0]
        m = dict(first)
        if first["metric"] == "ns_per_op":
            samples = [s for r in ok for s in r["samples"]]
        else:
            samples = [r["median"] for r in ok]
            p99 = [r["p99_ns"] for r in ok]
            m.update(p99_ns=r1(med(p99)), p99_min=min(p99), p99_max=max(p99),
                     p999_ns=r1(med([r["p999_ns"] for r in ok])), mean_ns=r1(med([r["mean_ns"] for r in ok])))
            if all("q_ns" in r for r in ok):
                m["q_ns"] = [r1(med([r["q_ns"][i] for r in ok])) for i in range(len(first["q_ns"]))]
        md = med(samples)
        m.update(median=r1(md), min=min(samples), max=max(samples), n=len(samples), samples=samples,
                 ops_per_s=round(1e9 / md) if md > 0 else 0, rounds=len(ok), interleaved=True)
        if "mb_per_s" in m:
            m["mb_per_s"] = r1(m.get("bytes", 0) * 1e3 / md) if md > 0 else 0
        errors = [r for r in recs if r.get("metric") == "error"]
        if errors:
            m["errors_in_rounds"] = len(errors)
        out.append(m)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--codec-bin")
    ap.add_argument("--port-bin")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--workloads", default=None)
    ap.add_argument("--codec-only", action="store_true")
    ap.add_argument("--port-only", action="store_true")
    ap.add_argument("--no-pin", action="store_true", help="latency benches unpinned")
    ap.add_argument("--codec-pin", type=int, default=None, help="pin bench_codec to this CPU")
    args = ap.parse_args()
    if args.workloads is None:
        args.workloads = ",".join(QUICK_WORKLOADS if args.quick else CODEC_WORKLOADS)
    args.workloads = [w for w in args.workloads.split(",") if w]
    if not args.rounds:
        args.rounds = 3 if args.quick else 11
    args.target_ms = 5 if args.quick else 20
    raw_path = args.out[:-len(".jsonl")] + ".raw.jsonl" if args.out.endswith(".jsonl") else args.out + ".raw"
    log_path = args.out[:-len(".jsonl")] + ".log" if args.out.endswith(".jsonl") else args.out + ".log"
    raw = []
    meta = machine(args.run, args)
    t0 = time.time()
    with open(log_path, "a") as errlog:
        if not args.port_only:
            log("== codec: bench_codec + node_bench.js, %d interleaved rounds of >= %d ms (progress: %s)"
                % (args.rounds, args.target_ms, log_path))
            run_codec(args, raw, errlog)
        if not args.codec_only:
            log("== ports: bench_port + node_port_bench.js, %d interleaved rounds" % args.rounds)
            run_ports(args, raw, errlog)
    meta["seconds"] = round(time.time() - t0, 1)
    meta["loadavg_end"] = sh("cat /proc/loadavg")
    with open(raw_path, "w") as f:
        for r in raw:
            f.write(json.dumps(r) + "\n")
    with open(args.out, "a") as f:
        f.write(json.dumps(meta) + "\n")
        for r in merge(raw):
            f.write(json.dumps(r) + "\n")
    log("== %d figures in %.1f s -> %s" % (len(raw), time.time() - t0, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
