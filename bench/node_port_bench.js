'use strict';
// Node.js baselines of bench_port (suite "node", schema of ../shared/WORKLOADS.md):
// worker_threads and the Worker's MessagePort (a MessageChannel underneath).
//
//   node bench/node_port_bench.js [--quick] [--reps N] [--run ID] [--bench a,b]
//
//   node_port_tput (W1, W2, W6_1M)  the worker posts n values (W1: 200k) with
//       parentPort.postMessage; main counts 'message' events. One repetition:
//       post "go" -> n-th message; sample = ns per message.
//   node_port_pingpong (int, W1)  main posts, the worker's handler re-posts
//       the received value, main's handler gets it: one round trip, timed
//       each (rtt_ns).
//   node_buf_oneway_copy / node_buf_oneway_transfer (W6_1M, W6_64M), and
//       node_oneway (int): the worker, asked by main, waits 200 us
//       (Atomics.wait), reads hrtime, posts the ArrayBuffer (copied or in
//       the transfer list) with that time; sample = main's hrtime in its
//       'message' handler - the worker's. In transfer mode main sends the
//       buffer back (transfer, untimed). One op per sample.
//   node_worker_start_exit: new Worker (eval) with workerData {id: 1}, the
//       worker posts one message, main gets it, then the 'exit' event.
// Iteration counts as bench_port's.

const { Worker } = require('worker_threads');
const path = require('path');

const WL_PATH = path.join(__dirname, 'workloads.js');

function parseArgs(argv) {
  const o = { quick: false, reps: 0, run: 'r' + Math.floor(Date.now() / 1000), bench: null };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i], val = argv[i + 1];
    if (a === '--quick') o.quick = true;
    else if (a === '--reps') { o.reps = Number(val); i++; }
    else if (a === '--run') { o.run = val; i++; }
    else if (a === '--bench') { o.bench = val.split(','); i++; }
    else {
      process.stderr.write('usage: node bench/node_port_bench.js [--quick] [--reps N] [--run ID] [--bench name,..]\n');
      process.exit(a === '--help' ? 0 : 2);
    }
  }
  if (!(o.reps > 0)) o.reps = o.quick ? 3 : 11;
  return o;
}

const opt = parseArgs(process.argv);
const BUILD = 'node-' + process.version;
const wanted = (b) => !opt.bench || opt.bench.includes(b);
const r1 = (x) => Math.round(x * 10) / 10;
const now = () => process.hrtime.bigint();

function head(bench, workload) {
  return { run: opt.run, suite: 'node', build: BUILD, pinned: false, bench, workload };
}
function emit(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }
function median(sorted) {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}
function quantile(sorted, q) {
  let i = Math.ceil(q * sorted.length) - 1;
  return sorted[Math.min(Math.max(i, 0), sorted.length - 1)];
}
function emitNs(bench, workload, bytes, samples, opsPerRep) {
  const s = [...samples].sort((x, y) => x - y);
  const med = median(s);
  emit({ ...head(bench, workload), metric: 'ns_per_op', unit: 'ns', median: r1(med), min: r1(s[0]),
    max: r1(s[s.length - 1]), n: s.length, bytes, ops_per_s: Math.round(1e9 / med), mb_per_s: r1(bytes * 1e3 / med),
    ops_per_rep: opsPerRep, samples: samples.map(r1) });
  process.stderr.write(`  node ${bench.padEnd(26)} ${workload.padEnd(8)} ${med.toFixed(1).padStart(12)} ns/op  [${s[0].toFixed(1)} – ${s[s.length - 1].toFixed(1)}]  x${opsPerRep}\n`);
}
function emitRtt(bench, workload, bytes, reps, k) {
  // reps: arrays of round trips (ns), one per repetition
  const med = [], p99 = [], p999 = [], mean = [], qs = QUANTILES.map(() => []);
  for (const r of reps) {
    const s = [...r].sort((x, y) => x - y);
    med.push(median(s)); p99.push(quantile(s, 0.99)); p999.push(quantile(s, 0.999));
    mean.push(r.reduce((a, b) => a + b, 0) / r.length);
    QUANTILES.forEach((q, i) => qs[i].push(quantile(s, q)));
  }
  const sm = [...med].sort((x, y) => x - y), sp = [...p99].sort((x, y) => x - y);
  const m = median(sm);
  emit({ ...head(bench, workload), metric: 'rtt_ns', unit: 'ns', median: r1(m), min: r1(sm[0]), max: r1(sm[sm.length - 1]),
    n: reps.length, bytes, p99_ns: r1(median(sp)), p99_min: r1(sp[0]), p99_max: r1(sp[sp.length - 1]),
    p999_ns: r1(median([...p999].sort((x, y) => x - y))), mean_ns: r1(median([...mean].sort((x, y) => x - y))),
    ops_per_s: Math.round(1e9 / m), rtts_per_rep: k, q_p: QUANTILES.map((q) => q * 100),
    q_ns: qs.map((v) => r1(median(v.sort((x, y) => x - y)))), samples: med.map(r1) });
  process.stderr.write(`  node ${bench.padEnd(26)} ${workload.padEnd(8)} rtt ${m.toFixed(1).padStart(10)} ns [${sm[0].toFixed(1)} – ${sm[sm.length - 1].toFixed(1)}]  p99 ${median(sp).toFixed(1)}  x${k}\n`);
}
function emitError(bench, workload, e) {
  emit({ ...head(bench, workload), metric: 'error', error: String(e && e.message || e) });
  process.stderr.write(`  node ${bench.padEnd(26)} ${workload.padEnd(8)} FAILED: ${e && e.message || e}\n`);
}

// The same counts as bench_port.c (bp_tput_n, bp_pingpong_k, bp_oneway_ops).
const tputN = (w) => (w === 'W1' ? (opt.quick ? 50000 : 200000) : w === 'W2' ? (opt.quick ? 500 : 2000) : (opt.quick ? 50 : 200));
const pingK = () => (opt.quick ? 300 : 2000);
// bp_bufs, bp_oneway_ops and bp_oneway_warmups of bench_port.c
// (name, bytes, full runs only)
const BUFS = [['W6_4K', 4096, false], ['W6_64K', 65536, true], ['W6_1M', 1 << 20, false], ['W6_8M', 8 << 20, true],
  ['W6_64M', 64 << 20, false]].filter(([, , fullOnly]) => !(opt.quick && fullOnly));
const onewayOps = (bytes, copy) => (copy && bytes >= (64 << 20) ? (opt.quick ? 1 : 2)
  : copy && bytes >= (8 << 20) ? (opt.quick ? 2 : 5) : (opt.quick ? 11 : 51));
const onewayWarmups = (bytes, copy) => (copy && bytes >= (8 << 20) ? 1 : 2);
const QUANTILES = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0];

// ---- the worker's code -------------------------------------------------------

const WORKER_SRC = `
const { parentPort, workerData } = require('worker_threads');
const { WORKLOADS, w6 } = require(${JSON.stringify(WL_PATH)});
const { mode, wl, transfer, bytes } = workerData;
const build = () => (wl === 'int' ? 42 : mode === 'oneway' ? w6(bytes) : WORKLOADS[wl].build());
if (mode === 'tput') {
  const v = build();
  parentPort.on('message', (n) => { for (let i = 0; i < n; i++) parentPort.postMessage(v); });
} else if (mode === 'echo') {
  parentPort.on('message', (m) => parentPort.postMessage(m));
} else if (mode === 'oneway') {
  let v = build();
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  parentPort.on('message', (m) => {
    if (m instanceof ArrayBuffer) v = m; // the buffer came back
    Atomics.wait(sleeper, 0, 0, 0.2);
    const t0 = process.hrtime.bigint();
    parentPort.postMessage({ t0, v }, transfer && v instanceof ArrayBuffer ? [v] : []);
  });
}
`;

function startWorker(workerData) {
  const w = new Worker(WORKER_SRC, { eval: true, workerData });
  return new Promise((resolve, reject) => {
    w.once('online', () => resolve(w));
    w.once('error', reject);
  });
}

// ---- benches ------------------------------------------------------------------------

async function tput(wl) {
  const bench = 'node_port_tput';
  if (!wanted(bench)) return;
  const { WORKLOADS } = require(WL_PATH);
  const v8 = require('v8');
  const bytes = v8.serialize(WORKLOADS[wl].build()).length;
  const w = await startWorker({ mode: 'tput', wl });
  const n = tputN(wl);
  const rep = (count) => new Promise((resolve) => {
    let got = 0;
    const t0 = now();
    w.on('message', function onMsg() {
      if (++got === count) {
        const t = Number(now() - t0);
        w.off('message', onMsg);
        resolve(t / count);
      }
    });
    w.postMessage(count);
  });
  await rep(Math.max(1, Math.floor(n / 10))); // warm-up
  const samples = [];
  for (let r = 0; r < opt.reps; r++) samples.push(await rep(n));
  emitNs(bench, wl, bytes, samples, n);
  await w.terminate();
}

async function pingpong(wl) {
  const bench = 'node_port_pingpong';
  if (!wanted(bench)) return;
  const { WORKLOADS } = require(WL_PATH);
  const v = wl === 'int' ? 42 : WORKLOADS[wl].build();
  const bytes = require('v8').serialize(v).length;
  const w = await startWorker({ mode: 'echo', wl });
  const k = pingK();
  const rep = (count) => new Promise((resolve) => {
    const rtts = new Array(count);
    let i = 0, t0 = 0n;
    w.on('message', function onMsg() {
      rtts[i++] = Number(now() - t0);
      if (i === count) { w.off('message', onMsg); resolve(rtts); return; }
      t0 = now();
      w.postMessage(v);
    });
    t0 = now();
    w.postMessage(v);
  });
  await rep(Math.floor(k / 5) + 1);
  const reps = [];
  for (let r = 0; r < opt.reps; r++) reps.push(await rep(k));
  emitRtt(bench, wl, bytes, reps, k);
  await w.terminate();
}

async function oneway(wl, bufBytes, transfer) {
  const bench = wl === 'int' ? 'node_oneway' : transfer ? 'node_buf_oneway_transfer' : 'node_buf_oneway_copy';
  if (!wanted(bench)) return;
  const bytes = wl === 'int' ? 9 : bufBytes;
  const w = await startWorker({ mode: 'oneway', wl, transfer, bytes: bufBytes });
  const ops = onewayOps(bufBytes, !transfer);
  const samples = [];
  let back = null;
  for (let i = -onewayWarmups(bufBytes, !transfer); i < ops; i++) {
    const s = await new Promise((resolve, reject) => {
      w.once('message', (m) => {
        const t1 = now();
        if (wl !== 'int' && m.v.byteLength !== bytes) reject(new Error('wrong size'));
        back = m.v;
        resolve(Number(t1 - m.t0));
      });
      if (transfer && back instanceof ArrayBuffer) w.postMessage(back, [back]);
      else w.postMessage(i);
    });
    if (i >= 0) samples.push(s);
  }
  emitNs(bench, wl, bytes, samples, 1);
  await w.terminate();
}

const START_SRC = `
const { parentPort, workerData } = require('worker_threads');
parentPort.postMessage(workerData.id);
`;

async function startExit() {
  const bench = 'node_worker_start_exit';
  if (!wanted(bench)) return;
  const one = () => new Promise((resolve, reject) => {
    const t0 = now();
    const w = new Worker(START_SRC, { eval: true, workerData: { id: 1 } });
    let got = false;
    w.once('message', () => { got = true; });
    w.once('error', reject);
    w.once('exit', () => (got ? resolve(Number(now() - t0)) : reject(new Error('no message'))));
  });
  await one(); // warm-up
  const samples = [];
  for (let r = 0; r < opt.reps; r++) samples.push(await one());
  emitNs(bench, '-', 0, samples, 1);
}

async function main() {
  process.stderr.write(`node_port_bench: run ${opt.run}, ${BUILD}, ${opt.reps} reps${opt.quick ? ' (quick)' : ''}\n`);
  const steps = [
    ['node_port_tput', 'W1', () => tput('W1')],
    ['node_port_tput', 'W2', () => tput('W2')],
    ['node_port_tput', 'W6_1M', () => tput('W6_1M')],
    ['node_port_pingpong', 'int', () => pingpong('int')],
    ['node_port_pingpong', 'W1', () => pingpong('W1')],
    ['node_oneway', 'int', () => oneway('int', 0, false)],
    ...BUFS.flatMap(([wl, b]) => [
      ['node_buf_oneway_copy', wl, () => oneway(wl, b, false)],
      ['node_buf_oneway_transfer', wl, () => oneway(wl, b, true)],
    ]),
    ['node_worker_start_exit', '-', startExit],
  ];
  for (const [bench, wl, fn] of steps) {
    try { await fn(); } catch (e) { emitError(bench, wl, e); }
  }
}

main();
