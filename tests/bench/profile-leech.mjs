// Where the receiving browser's main thread spends its time: native seeder
// -> our browser peer in memory (as bench/web.mjs's native row), with the
// page's JavaScript and WebAssembly sampled by Chromium's profiler (CDP).
// Prints MB/s, the browser's CPU seconds by process type, and the top
// functions by self time. `PROFILE=0`: no profiler (it slows the main
// thread), only the CPU by process and thread.
//   (cd tests && unshare --net sh -c 'ip link set lo up && exec "$@"' sh node bench/profile-leech.mjs [MiB])
import crypto from 'node:crypto';
import path from 'node:path';
import { browser, browserCpuByProcess, browserCpuByThread, cpuDelta, openPage, pidCpu } from '../interop/harness.mjs';
import { ourLeech } from './leech.mjs';
import { nativeSeeder } from './rig.mjs';

const MIB = Number(process.argv[2] || 64);
const rig = await nativeSeeder(MIB);
const { tracker, site, seeder } = rig;

const tag = `webswarm-prof-${crypto.randomBytes(4).toString('hex')}`;
const b = await browser({ tag });
try {
  const page = await openPage(b, site.url);
  const profiling = process.env.PROFILE !== '0';
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
  const before = browserCpuByProcess(tag);
  const threads0 = browserCpuByThread(tag);
  const seeder0 = pidCpu(seeder.child.pid);
  if (profiling) await cdp.send('Profiler.start');
  const r = await page.evaluate(ourLeech, { source: rig.magnet, tracker: tracker.url, storage: 'memory' });
  const { profile } = profiling ? await cdp.send('Profiler.stop') : { profile: { timeDeltas: [], nodes: [], samples: [] } };
  const after = browserCpuByProcess(tag);
  const threads = cpuDelta(threads0, browserCpuByThread(tag));
  console.log(`seeder CPU ${(pidCpu(seeder.child.pid) - seeder0).toFixed(2)} s`);
  console.log(`${(r.length / r.seconds / 1e6).toFixed(1)} MB/s, ${r.seconds.toFixed(2)} s`);
  console.log('browser CPU s by process:', JSON.stringify(Object.fromEntries(Object.keys(after)
    .map((k) => [k, +(after[k] - (before[k] || 0)).toFixed(2)]).filter(([, v]) => v > 0))));
  console.log('browser CPU s by thread:', JSON.stringify(threads));
  const self = new Map();
  const dt = profile.timeDeltas;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  profile.samples.forEach((id, i) => counts.set(id, (counts.get(id) || 0) + (dt[i] || 0)));
  let total = 0;
  for (const [id, us] of counts) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const key = `${cf.functionName || '(anon)'} ${cf.url ? path.basename(cf.url) : ''}:${cf.lineNumber}`;
    self.set(key, (self.get(key) || 0) + us);
    total += us;
  }
  console.log(`profiled ${(total / 1e6).toFixed(2)} s of the page's main thread`);
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`${(us / 1e3).toFixed(0).padStart(7)} ms ${(100 * us / total).toFixed(1).padStart(5)} %  ${k}`);
  }
} finally {
  await b.close();
  rig.stop();
}
process.exit(0);
