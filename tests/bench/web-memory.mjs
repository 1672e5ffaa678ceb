// Wasm memory while the browser peer downloads a large file into OPFS from
// the native seeder and streams it back: the peak must stay small (pieces
// live in JS buffers and OPFS, never in wasm memory). Default 1024 MiB:
//   unshare --net sh -c 'ip link set lo up && exec "$@"' sh node bench/web-memory.mjs [MiB]
// (after `cargo xtask build-web` and a release build of the native peer).
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { startTracker, startStatic, browser, openPage, runWebswarm } from '../interop/harness.mjs';
const MIB = Number(process.argv[2] || 1024);
const file = path.join(os.tmpdir(), `webswarm-big-${MIB}.bin`);
const fd = fs.openSync(file, 'w');
for (let i = 0; i < MIB; i++) fs.writeSync(fd, crypto.randomBytes(1 << 20));
fs.fsyncSync(fd); fs.closeSync(fd);
const tracker = await startTracker();
const site = await startStatic();
const seeder = await runWebswarm(['seed', file, '--tracker', tracker.url, '--bind', '127.0.0.1'], { ready: (l) => l.startsWith('magnet:'), timeoutMs: 300_000 });
const b = await browser();
try {
  const page = await openPage(b, site.url);
  const r = await page.evaluate(async ({ magnet, tracker }) => {
    const client = new window.webswarm.Client({ iceServers: [], trackers: [tracker], storage: 'opfs' });
    const t0 = performance.now();
    const t = await client.add(magnet);
    let peak = 0;
    const iv = setInterval(() => { peak = Math.max(peak, window.webswarm.wasmMemoryBytes()); }, 500);
    await t.whenDone();
    clearInterval(iv);
    const secs = (performance.now() - t0) / 1000;
    // Read the whole file back through a stream: the memory stays flat too.
    let n = 0;
    const rd = t.files[0].stream().getReader();
    for (;;) { const { value, done } = await rd.read(); if (done) break; n += value.length; }
    peak = Math.max(peak, window.webswarm.wasmMemoryBytes());
    await t.destroy({ removeStorage: true });
    return { secs, peak, n, length: t.length };
  }, { magnet: seeder.line.trim(), tracker: tracker.url });
  console.log(`${MIB} MiB native -> browser (OPFS): ${r.secs.toFixed(1)} s, ${(r.length / r.secs / 1e6).toFixed(1)} MB/s; streamed back ${r.n} bytes; wasm memory peak ${(r.peak / 1048576).toFixed(1)} MiB`);
} finally { seeder.child.kill('SIGINT'); await b.close(); site.stop(); tracker.stop(); fs.rmSync(file); }
