'use strict';
// Node.js baselines on the workloads of ../shared/WORKLOADS.md, written as the
// JSON-lines schema there with "suite":"node".
//
//   node --stack-size=4000 bench/node_bench.js [--quick] [--reps N] [--target-ms MS]
//        [--run ID] [--workloads W1,W2] [--bench structuredClone,...] [--serve]
//
// --serve: commands on stdin (load W, rep BENCH, quit), the protocol of
// bench_codec --serve; bench/driver.py interleaves the two.
//
// W4 needs --stack-size=4000 (Node 20's serializer recurses; the default stack
// overflows). Benches, one operation each:
//   structuredClone            structuredClone(v)
//   structuredClone_transfer   structuredClone(cur, {transfer: [buffer]}); the
//                              result is the next op's source (W3b, W6_*)
//   v8_serialize               v8.serialize(v)
//   v8_deserialize             v8.deserialize(bytes) of one pre-serialized copy
// Timing: process.hrtime.bigint() around a batch of ops, the batch calibrated
// (the calibration doubles as warm-up) so one repetition lasts >= target-ms;
// one sample (ns per op) per repetition. Garbage collection happens when V8
// decides, inside the timed batches, as it would in a program.

const v8 = require('v8');
const { WORKLOADS, digest } = require('./workloads.js');

function parseArgs(argv) {
  const o = { quick: false, serve: false, reps: 0, targetMs: 0, run: 'r' + Math.floor(Date.now() / 1000), workloads: null, bench: null };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i], val = argv[i + 1];
    if (a === '--quick') o.quick = true;
    else if (a === '--serve') o.serve = true;
    else if (a === '--reps') { o.reps = Number(val); i++; }
    else if (a === '--target-ms') { o.targetMs = Number(val); i++; }
    else if (a === '--run') { o.run = val; i++; }
    else if (a === '--workloads') { o.workloads = val.split(','); i++; }
    else if (a === '--bench') { o.bench = val.split(','); i++; }
    else {
      process.stderr.write('usage: node --stack-size=4000 bench/node_bench.js [--quick] [--reps N] [--target-ms MS] [--run ID] [--workloads W1,..] [--bench name,..] [--serve]\n');
      process.exit(a === '--help' ? 0 : 2);
    }
  }
  if (!(o.reps > 0)) o.reps = o.quick ? 3 : 11;
  if (!(o.targetMs > 0)) o.targetMs = o.quick ? 10 : 20;
  return o;
}

const opt = parseArgs(process.argv);
const BUILD = 'node-' + process.version;
const targetNs = opt.targetMs * 1e6;
let sink = 0;

function head(bench, workload) {
  return { run: opt.run, suite: 'node', build: BUILD, pinned: false, bench, workload };
}

function emit(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

// One figure: `reps` repetitions of a batch of `state.ops` ops; state.ops 0:
// calibrated here first (the calibration runs are the warm-up) and kept, so
// serve mode calibrates once per workload and bench.
function measure(bench, workload, bytes, rep, state = { ops: 0 }, reps = opt.reps) {
  if (opt.bench && !opt.bench.includes(bench)) return;
  try {
    let ops = state.ops || 1;
    while (!state.ops) {
      const t = rep(ops);
      if (t >= targetNs) break;
      let f = t > 0 ? targetNs * 1.2 / t : 100;
      f = Math.min(100, Math.max(2, f));
      ops = Math.ceil(ops * f);
    }
    state.ops = ops;
    const samples = [];
    for (let r = 0; r < reps; r++) samples.push(rep(ops) / ops);
    const sorted = [...samples].sort((x, y) => x - y);
    const n = sorted.length;
    const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    const r1 = (x) => Math.round(x * 10) / 10;
    emit({
      ...head(bench, workload), metric: 'ns_per_op', unit: 'ns', median: r1(median), min: r1(sorted[0]),
      max: r1(sorted[n - 1]), n, bytes, ops_per_s: Math.round(1e9 / median), mb_per_s: r1(bytes * 1e3 / median),
      ops_per_rep: ops, samples: samples.map(r1),
    });
    process.stderr.write(`  ${bench.padEnd(26)} ${workload.padEnd(7)} ${median.toFixed(1).padStart(12)} ns/op  [${sorted[0].toFixed(1)} – ${sorted[n - 1].toFixed(1)}]  x${ops}\n`);
  } catch (e) {
    emit({ ...head(bench, workload), metric: 'error', error: String(e && e.message || e) });
    process.stderr.write(`  ${bench.padEnd(26)} ${workload.padEnd(7)} FAILED: ${e && e.message}\n`);
  }
}

function nowNs() { return process.hrtime.bigint(); }
function elapsed(t0) { return Number(process.hrtime.bigint() - t0); }

function bufferOf(v) { return v instanceof ArrayBuffer ? v : v.buffer; }

// Builds workload `name`, writes its digest line and returns its benches in
// order: [{ bench, bytes, rep }].
function loadWorkload(name, w) {
  const v = w.build();
  const d = digest(v, w.flatten);
  let bytes = 0, ser = null, serErr = null;
  try { ser = v8.serialize(v); bytes = ser.length; } catch (e) { serErr = String(e.message); }
  emit({ ...head('digest', name), metric: 'digest', digest: d, expected: w.digest, match: d === w.digest,
    words_canonical: false, v8_bytes: bytes, ...(serErr ? { v8_error: serErr } : {}) });
  process.stderr.write(`${name.padEnd(7)} digest ${d} (table ${w.digest}) ${d === w.digest ? 'MATCH' : 'MISMATCH' + (w.usesWords ? ' (WORDS list differs from WORKLOADS.md\'s (not published to us))' : '')} | v8 ${bytes} B\n`);

  const benches = [];
  benches.push({ bench: 'structuredClone', bytes, rep: (ops) => {
    const t0 = nowNs();
    for (let i = 0; i < ops; i++) sink ^= structuredClone(v) === v ? 1 : 0;
    return elapsed(t0);
  } });
  benches.push({ bench: 'v8_serialize', bytes, rep: (ops) => {
    const t0 = nowNs();
    for (let i = 0; i < ops; i++) sink ^= v8.serialize(v).length;
    return elapsed(t0);
  } });
  if (ser) {
    benches.push({ bench: 'v8_deserialize', bytes, rep: (ops) => {
      const t0 = nowNs();
      for (let i = 0; i < ops; i++) sink ^= v8.deserialize(ser) === v ? 1 : 0;
      return elapsed(t0);
    } });
  }
  if (w.buffer) {
    let cur = w.build(); // transfer detaches the source: a copy of its own
    let checked = false;
    benches.push({ bench: 'structuredClone_transfer', bytes, rep: (ops) => {
      const t0 = nowNs();
      for (let i = 0; i < ops; i++) cur = structuredClone(cur, { transfer: [bufferOf(cur)] });
      const t = elapsed(t0);
      // the last clone still holds the original bytes (checked once: a 64 MiB digest is slow)
      if (!checked && digest(cur, false) !== d) throw new Error('transferred buffer digest differs');
      checked = true;
      return t;
    } });
  }
  return benches.filter((b) => !opt.bench || opt.bench.includes(b.bench));
}

// Serve mode (bench/driver.py): the protocol of bench_codec --serve, so the
// driver alternates repetitions of msgport, msgpack-c and Node.
function serve() {
  const readline = require('readline');
  const rl = readline.createInterface({ input: process.stdin });
  let name = null, benches = [], state = {};
  rl.on('line', (line) => {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'load') {
      const w = WORKLOADS[arg];
      if (!w) { emit({ ctl: 'error', error: 'unknown workload ' + arg }); return; }
      name = arg; benches = []; state = {};
      if (global.gc) global.gc();
      benches = loadWorkload(name, w);
      emit({ ctl: 'ready', workload: name, benches: benches.map((b) => b.bench) });
    } else if (cmd === 'rep') {
      const b = benches.find((x) => x.bench === arg);
      if (!b) { emit({ ctl: 'error', error: 'bench does not apply: ' + arg }); return; }
      state[arg] = state[arg] || { ops: 0 };
      measure(b.bench, name, b.bytes, b.rep, state[arg], 1);
      emit({ ctl: 'done' });
    } else if (cmd === 'quit') {
      rl.close();
    } else {
      emit({ ctl: 'error', error: 'unknown command ' + line });
    }
  });
}

if (opt.serve) {
  process.stderr.write(`node_bench: run ${opt.run}, ${BUILD}, serving repetitions of >= ${opt.targetMs} ms\n`);
  serve();
} else {
  process.stderr.write(`node_bench: run ${opt.run}, ${BUILD}, ${opt.reps} reps of >= ${opt.targetMs} ms${opt.quick ? ' (quick)' : ''}\n`);
  for (const [name, w] of Object.entries(WORKLOADS)) {
    if (opt.workloads && !opt.workloads.includes(name)) continue;
    for (const b of loadWorkload(name, w)) measure(b.bench, name, b.bytes, b.rep);
  }
  if (sink === 0.5) process.stderr.write('');
}
