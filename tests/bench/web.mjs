// Benchmark of issue 5: one download at a time, side by side in one run, for
// each size given (MiB; default 64 and 256):
//   native seeder (`webswarm seed`) -> our browser peer,
//   our browser peer -> our browser peer,
//   WebTorrent in Chromium -> WebTorrent in Chromium (the reference),
// each with OPFS storage and with memory storage. Prints MB/s (10^6 bytes/s,
// add to done), the leecher browser's CPU seconds, time to the first verified
// piece, wasm memory of the leecher, and ratios to the reference with the same
// storage. Run it in a loopback-only namespace (`cargo xtask bench-web`).
// BENCH_ONLY=native (or ours, ref; comma-separated) runs only those rows.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTracker, startStatic, browser, browserCpu, openPage, runWebswarm } from '../interop/harness.mjs';

const SIZES = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (SIZES.length === 0) SIZES.push(64, 256);
const MiB = 1024 * 1024;

/** In the leecher page: our peer downloads `source`. */
async function ourLeech({ source, tracker, storage }) {
  const client = new window.webswarm.Client({ iceServers: [], trackers: [tracker], storage });
  const t0 = performance.now();
  const t = await client.add(source);
  await t.whenDone();
  const seconds = (performance.now() - t0) / 1000;
  const r = { seconds, first: t.timeToFirstPiece / 1000, length: t.length, wasm: window.webswarm.wasmMemoryBytes() };
  await t.destroy({ removeStorage: true });
  client.destroy();
  return r;
}

/** In the leecher page: WebTorrent downloads `magnet` into OPFS (its default) or memory. */
async function webtorrentLeech({ magnet, storage }) {
  // A minimal abstract-chunk-store in memory (WebTorrent's bundle does not export its own).
  class MemoryStore {
    constructor(chunkLength) { this.chunkLength = chunkLength; this.chunks = []; }
    put(i, buf, cb = () => {}) { this.chunks[i] = buf; queueMicrotask(() => cb(null)); }
    get(i, opts, cb) {
      if (typeof opts === 'function') { cb = opts; opts = null; }
      const buf = this.chunks[i];
      queueMicrotask(() => {
        if (!buf) return cb(new Error('chunk not found'));
        if (!opts) return cb(null, buf);
        const offset = opts.offset || 0;
        cb(null, buf.subarray(offset, offset + (opts.length || buf.length - offset)));
      });
    }
    close(cb = () => {}) { queueMicrotask(() => cb(null)); }
    destroy(cb = () => {}) { this.chunks = []; queueMicrotask(() => cb(null)); }
  }
  const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
  const opts = storage === 'memory' ? { store: MemoryStore, storeCacheSlots: 0 } : {};
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    client.on('error', (e) => reject(String(e)));
    client.add(magnet, opts, (t) => {
      let first = null;
      t.on('verified', () => { if (first === null) first = performance.now() - t0; });
      t.on('done', () => {
        const r = { seconds: (performance.now() - t0) / 1000, first: first / 1000, length: t.length };
        t.destroy({ destroyStore: true }, () => { client.destroy(); resolve(r); });
      });
    });
  });
}

async function randomFileIn(page, size) {
  await page.evaluate(async ({ size }) => {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
    window.file = new File([data], 'bench.bin');
  }, { size });
}

/** Runs `leech(page)` in a fresh tagged browser and measures its CPU. */
async function measured(site, leech) {
  const tag = `webswarm-bench-${crypto.randomBytes(4).toString('hex')}`;
  const b = await browser({ tag });
  try {
    const page = await openPage(b, site.url);
    const cpu0 = browserCpu(tag);
    const r = await leech(page);
    return { ...r, cpu: browserCpu(tag) - cpu0 };
  } finally {
    await b.close();
  }
}

async function nativeToOurs(file, tracker, site, storage) {
  const seeder = await runWebswarm(['seed', file, '--tracker', tracker.url, '--bind', '127.0.0.1'],
    { ready: (l) => l.startsWith('magnet:'), timeoutMs: 300_000 });
  try {
    return await measured(site, (p) => p.evaluate(ourLeech, { source: seeder.line.trim(), tracker: tracker.url, storage }));
  } finally {
    seeder.child.kill('SIGINT');
  }
}

async function oursToOurs(size, tracker, site, storage) {
  const b = await browser();
  try {
    const seed = await openPage(b, site.url);
    await randomFileIn(seed, size);
    const magnet = await seed.evaluate(async ({ tracker }) => {
      const client = new window.webswarm.Client({ iceServers: [], trackers: [tracker], storage: 'memory' });
      return (await client.seed(window.file)).magnetURI;
    }, { tracker: tracker.url });
    return await measured(site, (p) => p.evaluate(ourLeech, { source: magnet, tracker: tracker.url, storage }));
  } finally {
    await b.close();
  }
}

async function webtorrentToWebtorrent(size, tracker, site, storage) {
  const b = await browser();
  try {
    const seed = await openPage(b, site.url);
    await randomFileIn(seed, size);
    const magnet = await seed.evaluate(async ({ announce }) => {
      const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
      return new Promise((resolve) => client.seed(window.file, { announce: [announce] }, (t) => resolve(t.magnetURI)));
    }, { announce: tracker.url });
    return await measured(site, (p) => p.evaluate(webtorrentLeech, { magnet, storage }));
  } finally {
    await b.close();
  }
}

const ONLY = (process.env.BENCH_ONLY || 'native,ours,ref').split(',');
const only = (what) => ONLY.includes(what);
const tracker = await startTracker();
const site = await startStatic();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-bench-web-'));
const load = os.loadavg()[0].toFixed(2);
const lines = [];
try {
  for (const mib of SIZES) {
    const size = mib * MiB;
    const file = path.join(dir, `bench-${mib}.bin`);
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < mib; i++) fs.writeSync(fd, crypto.randomBytes(MiB));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    for (const storage of ['opfs', 'memory']) {
      const ref = only('ref') ? await webtorrentToWebtorrent(size, tracker, site, storage) : null;
      const rows = [];
      if (only('native')) rows.push(['native seeder -> webswarm browser', await nativeToOurs(file, tracker, site, storage)]);
      if (only('ours')) rows.push(['webswarm browser -> webswarm browser', await oursToOurs(size, tracker, site, storage)]);
      if (ref) rows.push(['WebTorrent -> WebTorrent (ref)', ref]);
      const mbps = (r) => size / r.seconds / 1e6;
      const ratio = (a, b) => (b ? `${(a / b).toFixed(2)}x` : '-');
      for (const [name, r] of rows) {
        console.log(name, storage, mib, 'MiB:', JSON.stringify(r));
        lines.push(`| ${mib} MiB | ${storage} | ${name} | ${mbps(r).toFixed(1)} | ${ratio(mbps(r), ref && mbps(ref))} | ${r.cpu.toFixed(1)} | ${ratio(r.cpu, ref?.cpu)} | ${r.first?.toFixed(2) ?? '-'} | ${r.wasm ? (r.wasm / MiB).toFixed(1) : '-'} |`);
      }
    }
    fs.rmSync(file, { force: true });
  }
} finally {
  tracker.stop();
  site.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`\nload average at start ${load}, ${os.cpus().length} cores; CPU = the leecher browser's processes\n`);
console.log('| size | storage | transfer | MB/s | vs ref | leecher CPU s | vs ref | first piece (s) | wasm memory (MiB) |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const l of lines) console.log(l);
