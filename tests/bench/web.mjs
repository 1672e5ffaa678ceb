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
import { ourLeech, ourSeedFile, webtorrentLeech, webtorrentSeedFile, randomFileIn } from './leech.mjs';

const SIZES = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (SIZES.length === 0) SIZES.push(64, 256);
const MiB = 1024 * 1024;

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
    const magnet = await seed.evaluate(ourSeedFile, { tracker: tracker.url });
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
    const magnet = await seed.evaluate(webtorrentSeedFile, { announce: tracker.url });
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
