'use strict';
// Benchmark workloads W1–W6 of ../shared/WORKLOADS.md in JavaScript: the same
// generator, the same words and the same digest as bench/workloads.c.
//
//   node bench/workloads.js          prints each workload's digest and sizes
//
// WORKLOADS.md fixes "the 64 ASCII words in both files" but does not print
// them, and the canonical files were not found. WORDS below is OUR OWN list,
// identical to wl_words in workloads.c: W2 and W5 (the workloads that draw
// word()) therefore have digests that differ from the table, but the C and
// JS digests agree with each other. The r() sequence does not depend on the
// words, so every other workload (W5s included) matches the table.

const WORDS = [
  'alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel',
  'india', 'juliet', 'kilo', 'lima', 'mike', 'november', 'oscar', 'papa',
  'quebec', 'romeo', 'sierra', 'tango', 'uniform', 'victor', 'whiskey', 'xray',
  'yankee', 'zulu', 'apple', 'banana', 'cherry', 'date', 'elder', 'fig',
  'grape', 'hazel', 'iris', 'jasmine', 'kiwi', 'lemon', 'mango', 'nutmeg',
  'olive', 'pear', 'quince', 'raisin', 'sage', 'thyme', 'umber', 'vanilla',
  'walnut', 'yarrow', 'zest', 'amber', 'basalt', 'cobalt', 'dune', 'ember',
  'fjord', 'granite', 'harbor', 'island', 'juniper', 'kestrel', 'lagoon', 'meadow',
];
if (WORDS.length !== 64) throw new Error('WORDS must hold 64 words');

// mulberry32, bit-identical to the C version (uint32 results).
function mulberry32(seed) {
  let s = seed >>> 0;
  return function r() {
    s = (s + 0x6D2B79F5) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  };
}

function w1() {
  return { id: 12345, name: 'short string', ok: true, score: 3.5, tags: ['a', 'b', 'c'] };
}

function w2() {
  const r = mulberry32(2);
  const word = () => WORDS[r() % 64];
  const metaTags = [];
  for (let i = 0; i < 5; i++) metaTags.push(word());
  const items = [];
  for (let i = 0; i < 46; i++) {
    const id = 100000 + i;
    const uid = r() % 1000000000;
    const name = word() + ' ' + word();
    const active = (r() & 1) === 1;
    const score = (r() % 100000) / 100;
    const ratio = r() / 4294967296;
    const ntags = 1 + r() % 4;
    const tags = [];
    for (let k = 0; k < ntags; k++) tags.push(word());
    const num = 1 + r() % 9999;
    const street = num + ' ' + word() + ' St';
    const city = word();
    const zip = String(10000 + r() % 90000);
    const history = [];
    for (let k = 0; k < 3; k++) {
      const t = 1700000000 + r() % 1000000;
      const v = ((r() % 2000000) - 1000000) / 1000;
      history.push({ t, v });
    }
    let note = null;
    if (r() % 4 !== 0) {
      const nw = 3 + r() % 8;
      const ws = [];
      for (let k = 0; k < nw; k++) ws.push(word());
      note = ws.join(' ');
    }
    items.push({ id, uid, name, active, score, ratio, tags, address: { street, city, zip }, history, note });
  }
  return {
    version: 3, generator: 'perf-anchors-w2', created: '2024-06-01T12:00:00Z',
    meta: { seed: 2, count: 46, tags: metaTags, flags: { a: true, b: false, c: null } },
    items,
  };
}

function w3doubles() {
  const r = mulberry32(3);
  const a = []; // push, not new Array(n): a packed (not holey) array, as v8.serialize's dense form needs
  for (let i = 0; i < 1000000; i++) a.push(r() / 4294967296);
  return a;
}

function w3a() { return w3doubles(); }
function w3b() { return Float64Array.from(w3doubles()); }

function w4refs() {
  const r = mulberry32(4);
  const n = 10000;
  const a = new Uint32Array(n), b = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let j = r() % 9999; if (j >= i) j++; a[i] = j;
    j = r() % 9999; if (j >= i) j++; b[i] = j;
  }
  return { n, a, b };
}

function w4() {
  const { n, a, b } = w4refs();
  const nodes = [];
  for (let i = 0; i < n; i++) nodes.push({ id: i, a: null, b: null });
  for (let i = 0; i < n; i++) { nodes[i].a = nodes[a[i]]; nodes[i].b = nodes[b[i]]; }
  return nodes;
}

function w4flat() {
  const { n, a, b } = w4refs();
  const out = [];
  for (let i = 0; i < n; i++) out.push([i, a[i], b[i]]);
  return out;
}

function w5gen(set) {
  const r = mulberry32(5);
  const m = set ? new Set() : new Map();
  for (let i = 0; i < 50000; i++) {
    const key = 'user:' + i + ':' + (r() % 1000000);
    const name = WORDS[r() % 64];
    const score = r() / 4294967296;
    const active = (r() & 1) === 1;
    if (set) m.add(key); else m.set(key, { id: i, name, score, active });
  }
  return m;
}

function w6(len) {
  const r = mulberry32(6);
  const ab = new ArrayBuffer(len);
  const dv = new DataView(ab);
  for (let i = 0; i < len; i += 4) dv.setUint32(i, r(), true);
  return ab;
}

// name -> { build, digest (table), flatten (W4), buffer (transferable) }
const WORKLOADS = {
  W1: { build: w1, digest: '37e25cf0' },
  W2: { build: w2, digest: '0c5fada1', usesWords: true },
  W3a: { build: w3a, digest: 'ca5ca2d6' },
  W3b: { build: w3b, digest: 'f1d6af72', buffer: true },
  W4: { build: w4, digest: '70eab2d4', flatten: true },
  W4flat: { build: w4flat, digest: '70eab2d4' },
  W5: { build: () => w5gen(false), digest: '465c225d', usesWords: true },
  W5s: { build: () => w5gen(true), digest: 'e10d7217' },
  W6_1M: { build: () => w6(1 << 20), digest: '515555b3', buffer: true },
  W6_64M: { build: () => w6(64 << 20), digest: 'be39b49d', buffer: true },
};

// ---- digest: FNV-1a 32 over the canonical stream ----------------------------

class Fnv {
  constructor() { this.h = 0x811c9dc5; this.tmp = new DataView(new ArrayBuffer(8)); }
  byte(b) { this.h = Math.imul(this.h ^ b, 16777619) >>> 0; }
  bytes(u8) { let h = this.h; for (let i = 0; i < u8.length; i++) h = Math.imul(h ^ u8[i], 16777619) >>> 0; this.h = h; }
  u32(n) { this.byte(n & 255); this.byte((n >>> 8) & 255); this.byte((n >>> 16) & 255); this.byte((n >>> 24) & 255); }
  num(d) {
    this.byte(0x6e); // 'n'
    this.tmp.setFloat64(0, d, true);
    for (let i = 0; i < 8; i++) this.byte(this.tmp.getUint8(i));
  }
  str(s) { // ASCII only
    this.byte(0x73); this.u32(s.length);
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i));
  }
}

function digestInto(f, v) {
  if (v === null) { f.byte(0x7a); return; }
  switch (typeof v) {
    case 'number': f.num(v); return;
    case 'string': f.str(v); return;
    case 'boolean': f.byte(v ? 0x74 : 0x66); return;
    default: break;
  }
  if (Array.isArray(v)) {
    f.byte(0x61); f.u32(v.length);
    for (const e of v) digestInto(f, e);
  } else if (v instanceof Map) {
    f.byte(0x6f); f.u32(v.size);
    for (const [k, e] of v) { digestInto(f, k); digestInto(f, e); }
  } else if (v instanceof Set) {
    f.byte(0x61); f.u32(v.size);
    for (const k of v) digestInto(f, k);
  } else if (v instanceof ArrayBuffer) {
    f.byte(0x62); f.u32(v.byteLength); f.bytes(new Uint8Array(v));
  } else if (ArrayBuffer.isView(v)) {
    f.byte(0x62); f.u32(v.byteLength); f.bytes(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  } else if (typeof v === 'object') {
    const keys = Object.keys(v);
    f.byte(0x6f); f.u32(keys.length);
    for (const k of keys) { f.str(k); digestInto(f, v[k]); }
  } else {
    throw new TypeError('digest: unsupported ' + typeof v);
  }
}

// W4: each object-valued property of a root element becomes its root index.
function digestFlat(f, root) {
  const index = new Map();
  root.forEach((e, i) => index.set(e, i));
  f.byte(0x61); f.u32(root.length);
  for (const e of root) {
    const keys = Object.keys(e);
    f.byte(0x61); f.u32(keys.length);
    for (const k of keys) {
      const p = e[k];
      if (p !== null && typeof p === 'object') {
        if (!index.has(p)) throw new Error('digest: W4 reference outside the root array');
        f.num(index.get(p));
      } else {
        digestInto(f, p);
      }
    }
  }
}

function digest(v, flatten) {
  const f = new Fnv();
  if (flatten) digestFlat(f, v); else digestInto(f, v);
  return f.h.toString(16).padStart(8, '0');
}

module.exports = { WORDS, mulberry32, WORKLOADS, digest, w6 };

if (require.main === module) {
  const v8 = require('v8');
  for (const [name, w] of Object.entries(WORKLOADS)) {
    const v = w.build();
    const d = digest(v, w.flatten);
    let bytes = '-';
    try { bytes = v8.serialize(v).length; } catch (e) { bytes = 'v8.serialize: ' + e.message; }
    console.log(`${name.padEnd(7)} digest ${d} (table ${w.digest}) ${d === w.digest ? 'MATCH' : 'MISMATCH' + (w.usesWords ? ' (WORDS list differs from WORKLOADS.md\'s (not published to us))' : '')} | v8 ${bytes} B`);
  }
}
