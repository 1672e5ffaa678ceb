// Benchmark of issue 4: throughput of one transfer, side by side in one run:
//   native -> native through webswarm (two `webswarm` processes),
//   native seeder -> WebTorrent in Chromium,
//   WebTorrent in Chromium -> WebTorrent in Chromium (the reference).
// Prints MB/s (10^6 bytes), CPU seconds per GiB, time to the first piece and
// ratios. Run it in a loopback-only namespace:
//   unshare --net sh -c 'ip link set lo up && exec "$@"' sh node bench/native.mjs [MiB] [native runs]
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTracker, startStatic, browser, openPage, runWebswarm, pidCpu, procStat } from '../interop/harness.mjs';

const MIB = Number(process.argv[2] || 256);
// native -> native is run this many times (the median is the row).
const RUNS = Number(process.argv[3] || 1);
const SIZE = MIB * 1024 * 1024;
const GIB = SIZE / 2 ** 30;
/** CPU seconds used so far by every process whose command name matches. */
function cpuOf(match) {
  let secs = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const { name, cpu } = procStat(`/proc/${pid}/stat`);
      if (match(name)) secs += cpu;
    } catch { /* the process ended */ }
  }
  return secs;
}
const isChromium = (n) => n.startsWith('chrom');

/** Runs in the leecher page: adds `magnet`, resolves with timings. */
async function webtorrentLeech({ magnet }) {
  const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    client.on('error', (e) => reject(String(e)));
    client.add(magnet, (t) => {
      let first = null;
      t.on('verified', () => { if (first === null) first = performance.now() - t0; });
      t.on('download', () => { if (first === null && t.progress > 0) first = performance.now() - t0; });
      t.on('done', () => resolve({ seconds: (performance.now() - t0) / 1000, first: first / 1000, length: t.length }));
    });
  });
}

async function nativeToNative(file, tracker) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-bench-dl-'));
  const seeder = await runWebswarm(['seed', file, '--tracker', tracker.url, '--bind', '127.0.0.1'], { ready: (l) => l.startsWith('magnet:'), timeoutMs: 300_000 });
  const seedCpu0 = pidCpu(seeder.child.pid);
  try {
    const r = await runWebswarm(['get', seeder.line.trim(), '-o', dir, '--bind', '127.0.0.1'], { timeoutMs: 600_000 });
    const m = r.stderr().match(/in ([\d.]+) s, [\d.]+ MB\/s, first piece after ([\d.]+) s, fetched \d+ bytes, cpu ([\d.]+) s/);
    if (!m) throw new Error(`no summary line: ${r.stderr()}`);
    const seedCpu = pidCpu(seeder.child.pid) - seedCpu0;
    return { seconds: Number(m[1]), first: Number(m[2]), cpu: Number(m[3]) + seedCpu, note: 'seeder+leecher processes' };
  } finally {
    seeder.child.kill('SIGINT');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function nativeToWebTorrent(file, tracker, site) {
  const seeder = await runWebswarm(['seed', file, '--tracker', tracker.url, '--bind', '127.0.0.1'], { ready: (l) => l.startsWith('magnet:'), timeoutMs: 300_000 });
  const b = await browser();
  try {
    const page = await openPage(b, site.url);
    const seed0 = pidCpu(seeder.child.pid);
    const chrome0 = cpuOf(isChromium);
    const r = await page.evaluate(webtorrentLeech, { magnet: seeder.line.trim() });
    const cpu = pidCpu(seeder.child.pid) - seed0 + (cpuOf(isChromium) - chrome0);
    return { ...r, cpu, note: 'native seeder + leecher Chromium' };
  } finally {
    seeder.child.kill('SIGINT');
    await b.close();
  }
}

async function webtorrentToWebTorrent(tracker, site) {
  const [b1, b2] = [await browser(), await browser()];
  try {
    const [p1, p2] = [await openPage(b1, site.url), await openPage(b2, site.url)];
    const magnet = await p1.evaluate(async ({ size, announce }) => {
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
      const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
      window.client = client;
      return new Promise((resolve) => client.seed(new File([data], 'ref.bin'), { announce: [announce] }, (t) => resolve(t.magnetURI)));
    }, { size: SIZE, announce: tracker.url });
    const chrome0 = cpuOf(isChromium);
    const r = await p2.evaluate(webtorrentLeech, { magnet });
    return { ...r, cpu: cpuOf(isChromium) - chrome0, note: 'both Chromiums' };
  } finally {
    await b1.close();
    await b2.close();
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-bench-'));
const file = path.join(dir, `bench-${MIB}MiB.bin`);
{
  const fd = fs.openSync(file, 'w');
  for (let i = 0; i < MIB; i++) fs.writeSync(fd, crypto.randomBytes(1 << 20));
  // On disk before timing starts: its writeback must not compete with the transfers.
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}
const tracker = await startTracker();
const site = await startStatic();
const load = os.loadavg()[0].toFixed(2);
const rows = [];
try {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await nativeToNative(file, tracker));
  runs.sort((a, b) => b.seconds - a.seconds);
  rows.push(['native -> native (webswarm)', runs[Math.floor(RUNS / 2)]]);
  console.log(`native -> native, ${RUNS} runs: ${runs.map((r) => (SIZE / r.seconds / 1e6).toFixed(1)).join(' / ')} MB/s`);
  rows.push(['native -> WebTorrent/Chromium', await nativeToWebTorrent(file, tracker, site)]);
  rows.push(['WebTorrent/Chromium -> WebTorrent/Chromium (ref)', await webtorrentToWebTorrent(tracker, site)]);
} finally {
  tracker.stop();
  site.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
const ref = rows[2][1];
const mbps = (r) => SIZE / r.seconds / 1e6;
console.log(`\n${MIB} MiB, in-memory WebTorrent store, load average at start ${load}, ${os.cpus().length} cores\n`);
console.log('| transfer | MB/s | vs ref | CPU s/GiB | first piece (s) | CPU counted |');
console.log('|---|---|---|---|---|---|');
for (const [name, r] of rows) {
  console.log(`| ${name} | ${mbps(r).toFixed(1)} | ${(mbps(r) / mbps(ref)).toFixed(2)}x | ${(r.cpu / GIB).toFixed(1)} | ${r.first?.toFixed(2) ?? '-'} | ${r.note} |`);
}
