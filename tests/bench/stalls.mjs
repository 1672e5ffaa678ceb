// Issue 18 item 2: loss stalls. N consecutive native seeder -> our browser
// peer downloads (64 MiB into memory by default, a fresh Chromium each), the
// bytes received sampled every 100 ms in the page: the longest time without
// progress between the first byte and the end, and each run against the
// median. Target: no gap over 300 ms and no run slower than 1.5x the median.
// Run it in a loopback-only namespace (`cargo xtask bench-stalls`).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTracker, startStatic, browser, openPage, runWebswarm, randomFile } from '../interop/harness.mjs';

const RUNS = Number(process.argv[2] || 20);
const MIB = Number(process.argv[3] || 64);

/** In the page: downloads `source`, sampling `downloaded` every 100 ms. */
async function sampled({ source, tracker }) {
  const client = new window.webswarm.Client({ iceServers: [], trackers: [tracker], storage: 'memory' });
  const t0 = performance.now();
  const t = await client.add(source);
  const samples = [];
  const timer = setInterval(() => samples.push([performance.now() - t0, t.downloaded]), 100);
  await t.whenDone();
  clearInterval(timer);
  const seconds = (performance.now() - t0) / 1000;
  // The longest run of samples without a new byte, from the first byte on.
  let gap = 0;
  let since = null;
  let last = 0;
  for (const [at, bytes] of samples) {
    if (bytes > last) { if (since !== null) gap = Math.max(gap, at - since); since = at; last = bytes; }
  }
  client.destroy();
  return { seconds, gap };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-stalls-'));
const { file } = randomFile(dir, 'stalls.bin', MIB * 1024 * 1024);
const tracker = await startTracker();
const site = await startStatic();
const seeder = await runWebswarm(['seed', file, '--tracker', tracker.url, '--bind', '127.0.0.1'],
  { ready: (l) => l.startsWith('magnet:'), timeoutMs: 300_000 });
const runs = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const b = await browser();
    try {
      const page = await openPage(b, site.url);
      const r = await page.evaluate(sampled, { source: seeder.line.trim(), tracker: tracker.url });
      runs.push(r);
      console.log(`run ${i + 1}: ${r.seconds.toFixed(2)} s, ${(MIB * 1.048576 / r.seconds).toFixed(1)} MB/s, longest gap ${r.gap.toFixed(0)} ms`);
    } finally {
      await b.close();
    }
  }
} finally {
  seeder.child.kill('SIGINT');
  tracker.stop();
  site.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
const sorted = runs.map((r) => r.seconds).sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
const gaps = runs.filter((r) => r.gap > 300).length;
const slow = runs.filter((r) => r.seconds > 1.5 * median).length;
const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`\n${RUNS} runs of ${MIB} MiB, native seeder -> our browser peer (memory); load average ${load}`);
console.log(`median ${median.toFixed(2)} s; slowest ${sorted[sorted.length - 1].toFixed(2)} s (${(sorted[sorted.length - 1] / median).toFixed(2)}x the median); `
  + `longest gap ${Math.max(...runs.map((r) => r.gap)).toFixed(0)} ms; runs with a gap over 300 ms: ${gaps}; runs over 1.5x the median: ${slow}`);
