// Issue 18 item 1 in one run: the native seeder -> our browser peer, into
// memory and into OPFS, against its ceiling, our webrtc-rs transport sending
// raw bytes into the same Chromium (bench/raw-native.mjs). Rounds alternate
// raw, memory, OPFS, each in a fresh browser, so a slow minute of the
// machine falls on every row; medians and ratios at the end.
// Two clocks: "from start" (ours from `add`: tracker, connection, metadata;
// raw from applying the answer: connection) and "steady" (ours from its
// first verified piece, raw from its first message). THREADS=1 prints each
// row's receiving-browser CPU by thread. PROFILE_ON_DISK=1 runs our rows in
// a browser profile on disk, as a visitor's is (by default each page is an
// incognito context, whose OPFS lives in the browser process's memory).
//   cargo build --release --bins && cargo build --release -p webswarm-native --example raw_send && cargo xtask build-web
//   (cd tests && unshare --net sh -c 'ip link set lo up && exec "$@"' sh node bench/ceiling.mjs [MiB] [rounds])
import crypto from 'node:crypto';
import os from 'node:os';
import { browser, browserCpuByThread, cpuDelta, openPage, pidCpu } from '../interop/harness.mjs';
import { ourLeech } from './leech.mjs';
import { rawNative } from './raw-native.mjs';
import { nativeSeeder } from './rig.mjs';

const MIB = Number(process.argv[2] || 64);
const ROUNDS = Number(process.argv[3] || 3);
const load = os.loadavg()[0].toFixed(2);
const rig = await nativeSeeder(MIB);
const { tracker, site, seeder } = rig;

async function ours(storage) {
  const tag = `webswarm-ceiling-${crypto.randomBytes(4).toString('hex')}`;
  const b = await browser({ tag, profile: !!process.env.PROFILE_ON_DISK });
  try {
    const page = await openPage(b, site.url);
    const threads0 = browserCpuByThread(tag);
    const seeder0 = pidCpu(seeder.child.pid);
    const r = await page.evaluate(ourLeech, { source: rig.magnet, tracker: tracker.url, storage });
    const byThread = cpuDelta(threads0, browserCpuByThread(tag));
    return {
      fromStart: r.length / r.seconds / 1e6,
      steady: (r.length - r.pieceLength) / (r.seconds - r.first) / 1e6,
      main: byThread['renderer/chromium'] || 0,
      browserCpu: Object.values(byThread).reduce((a, v) => a + v, 0),
      senderCpu: pidCpu(seeder.child.pid) - seeder0,
      byThread,
    };
  } finally { await b.close(); }
}

async function raw() {
  const r = await rawNative({ mib: MIB });
  return {
    fromStart: r.fromAnswer ? MIB * 1048576 / r.fromAnswer / 1e6 : NaN,
    steady: r.mbps,
    main: r.byThread['renderer/chromium'] || 0,
    browserCpu: Object.values(r.byThread).reduce((a, v) => a + v, 0),
    senderCpu: r.senderCpu,
    byThread: r.byThread,
  };
}

// A run that fails (a sender that died, a timeout) is reported and left
// out of the medians; the other rows and rounds go on.
const rows = { raw: [], memory: [], opfs: [] };
const failed = { raw: 0, memory: 0, opfs: 0 };
const runs = { raw, memory: () => ours('memory'), opfs: () => ours('opfs') };
const f = (r) => `${r.fromStart.toFixed(1)} / ${r.steady.toFixed(1)} MB/s (main ${r.main.toFixed(2)}, browser ${r.browserCpu.toFixed(2)}, sender ${r.senderCpu.toFixed(2)} CPU s)`;
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const said = [];
    for (const row of ['raw', 'memory', 'opfs']) {
      try {
        const r = await runs[row]();
        rows[row].push(r);
        said.push(`${row} ${f(r)}`);
        if (process.env.THREADS) said.push(`\n  ${row} by thread: ${JSON.stringify(r.byThread)}\n`);
      } catch (e) {
        failed[row]++;
        said.push(`${row} FAILED (${e.message})`);
      }
    }
    console.log(`round ${round}: ${said.join('; ')}`);
  }
} finally {
  rig.stop();
}

const failures = Object.entries(failed).filter(([, n]) => n > 0);
if (failures.length) console.log(`\nfailed runs, left out of the medians: ${failures.map(([k, n]) => `${k} ${n} of ${ROUNDS}`).join(', ')}`);
if (Object.values(rows).some((r) => r.length === 0)) {
  console.log('a row has no run that finished: no comparison');
  process.exit(1);
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const m = (row, k) => median(rows[row].map((r) => r[k]));
console.log(`\n${MIB} MiB, ${ROUNDS} rounds, load average at start ${load}, ${os.cpus().length} cores, ${process.env.PROFILE_ON_DISK ? 'a profile on disk' : 'incognito contexts'}; medians`);
console.log('| row | MB/s from start | MB/s steady | main thread CPU s | receiving browser CPU s | sender CPU s |');
console.log('|---|---|---|---|---|---|');
for (const row of ['raw', 'memory', 'opfs']) {
  console.log(`| ${row} | ${m(row, 'fromStart').toFixed(1)} | ${m(row, 'steady').toFixed(1)} | ${m(row, 'main').toFixed(2)} | ${m(row, 'browserCpu').toFixed(2)} | ${m(row, 'senderCpu').toFixed(2)} |`);
}
const ratio = (a, b, k) => (m(a, k) / m(b, k)).toFixed(2);
console.log(`\nmemory / raw: ${ratio('memory', 'raw', 'fromStart')}x from start, ${ratio('memory', 'raw', 'steady')}x steady (target 0.9)`);
console.log(`opfs / memory: ${ratio('opfs', 'memory', 'fromStart')}x from start, ${ratio('opfs', 'memory', 'steady')}x steady (target 0.85)`);
process.exit(0);
