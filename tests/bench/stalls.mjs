// Issue 18 item 2: loss stalls. N consecutive native seeder -> our browser
// peer downloads (64 MiB into memory by default, a fresh Chromium each), the
// bytes received sampled every 100 ms in the page: the longest time without
// progress between the first byte and the end, and each run against the
// median. Target: no gap over 300 ms and no run slower than 1.5x the median.
// `demo` as the third argument runs the demo swarm instead: a fresh
// `webswarm demo` (no webseed) each run, our page and WebTorrent's
// downloading at once, both sampled.
// `STALLS_LOSS=P` drops P % of UDP datagrams (WebRTC's, both ways) at random
// with an nftables rule in the namespace: a lossy path, with no CPU cost.
// Run it in a loopback-only namespace (`cargo xtask bench-stalls [runs] [MiB] [demo]`).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTracker, startStatic, startDemo, browser, openPage, runWebswarm, randomFile, pidCpu, machineCpu, longestGap } from '../interop/harness.mjs';
import { dropUdp } from '../interop/netns.mjs';

const RUNS = Number(process.argv[2] || 20);
const LOSS = Number(process.env.STALLS_LOSS || 0);
/** UDP datagrams the loss rule dropped so far. */
const lossDrops = LOSS > 0 ? dropUdp(null, LOSS) : () => 0;
const DEMO = process.argv[4] === 'demo';
const MIB = Number(process.argv[3] || (DEMO ? 8 : 64));

/** In the page: downloads `source`, sampling `downloaded` every 100 ms. */
async function sampled({ source, tracker }) {
  const client = new window.webswarm.Client({ iceServers: [], trackers: [tracker], storage: 'memory' });
  const t0 = performance.now();
  const t = await client.add(source);
  const samples = [];
  const timer = setInterval(() => samples.push([performance.now() - t0, t.downloaded]), 100);
  await t.whenDone();
  clearInterval(timer);
  client.destroy();
  return { seconds: (performance.now() - t0) / 1000, samples };
}

/** In WebTorrent's page: downloads `magnet`, sampling `downloaded` every 100 ms. */
async function sampledWebtorrent(magnet) {
  const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
  const t0 = performance.now();
  const samples = [];
  await new Promise((resolve, reject) => {
    client.on('error', (e) => reject(String(e)));
    client.add(magnet, (t) => {
      const timer = setInterval(() => samples.push([performance.now() - t0, t.downloaded]), 100);
      t.on('done', () => { clearInterval(timer); resolve(); });
    });
  });
  client.destroy();
  return { seconds: (performance.now() - t0) / 1000, samples };
}

/**
 * With STALLS_TRACE: in the demo page, before its scripts, records when each
 * peer connection reached each step of its setup (s from the page's start),
 * and when the first announce with offers went to the tracker.
 */
function traceConnections() {
  const now = () => performance.now() / 1000;
  window.__pcs = [];
  const Orig = window.RTCPeerConnection;
  function Traced(...args) {
    const pc = new Orig(...args);
    const rec = { made: now() };
    window.__pcs.push(rec);
    const mark = (k) => { rec[k] ??= now(); };
    const remote = pc.setRemoteDescription.bind(pc);
    pc.setRemoteDescription = (d) => { mark(d && d.type === 'answer' ? 'answer' : 'offer in'); return remote(d); };
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') mark('gathered'); });
    pc.addEventListener('iceconnectionstatechange', () => { if (pc.iceConnectionState === 'connected') mark('ice'); });
    pc.addEventListener('connectionstatechange', () => { if (pc.connectionState === 'connected') mark('dtls'); });
    const create = pc.createDataChannel.bind(pc);
    pc.createDataChannel = (...a) => { const dc = create(...a); dc.addEventListener('open', () => mark('open')); return dc; };
    pc.addEventListener('datachannel', (e) => e.channel.addEventListener('open', () => mark('open')));
    return pc;
  }
  Traced.prototype = Orig.prototype;
  window.RTCPeerConnection = Traced;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) {
    if (typeof d === 'string' && d.includes('"offers"')) window.__announced ??= now();
    return send.call(this, d);
  };
}

/** The setup of the peer connection that opened first, as `step time` pairs. */
function firstOpened() {
  const first = (window.__pcs || []).filter((r) => r.open).sort((a, b) => a.open - b.open)[0];
  const steps = first ? Object.entries(first).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ') : 'none opened';
  return `announced ${window.__announced?.toFixed(2)}; ${(window.__pcs || []).length} connections; first opened: ${steps}; page start ${(performance.timeOrigin / 1000).toFixed(3)}`;
}

/** In the demo page: samples its widget's torrent until done (times from the page's start). */
async function sampledWidget() {
  const samples = [];
  const timer = setInterval(() => {
    const t = window.demo?.widget?.torrent;
    samples.push([performance.now(), t ? t.downloaded : 0]);
  }, 100);
  while (!window.demo?.widget?.torrent) await new Promise((r) => setTimeout(r, 10));
  // When each stage of the page's start was reached (s): a slow run's first
  // byte says which stage took its time.
  const t = window.demo.widget.torrent;
  const marks = { page: performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd / 1000, torrent: performance.now() / 1000 };
  const mark = (name) => () => { marks[name] ??= performance.now() / 1000; };
  t.on('peer-connected', mark('peer'));
  t.on('metadata', mark('metadata'));
  t.on('verified', mark('piece'));
  await t.whenDone();
  clearInterval(timer);
  return { seconds: performance.now() / 1000, samples, marks };
}

/**
 * Every 100 ms until stopped: the share of a core the process `pid` used and
 * the share of the machine that was busy (%), so a slow run shows whether the
 * seeder was starved or idle while the pages waited.
 */
function sampleCpu(pid) {
  const rows = [];
  let last = { cpu: pidCpu(pid), m: machineCpu() };
  const timer = setInterval(() => {
    try {
      const now = { cpu: pidCpu(pid), m: machineCpu() };
      const all = now.m.all - last.m.all;
      rows.push([Math.round((now.cpu - last.cpu) * 1000), all > 0 ? Math.round((100 * (now.m.busy - last.m.busy)) / all) : 0]);
      last = now;
    } catch { /* the process is gone */ }
  }, 100);
  return () => { clearInterval(timer); return rows; };
}

/** UDP datagrams this network namespace dropped for a full receive buffer. */
function rcvbufErrors() {
  const udp = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = udp.map((l) => l.trim().split(/\s+/));
  return Number(values[names.indexOf('RcvbufErrors')]);
}

function summary(name, runs) {
  const sorted = runs.map((r) => r.seconds).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const gaps = runs.filter((r) => r.gap > 300).length;
  const slow = runs.filter((r) => r.seconds > 1.5 * median).length;
  console.log(`${name}: median ${median.toFixed(2)} s; slowest ${sorted[sorted.length - 1].toFixed(2)} s `
    + `(${(sorted[sorted.length - 1] / median).toFixed(2)}x the median); longest gap `
    + `${Math.max(...runs.map((r) => r.gap)).toFixed(0)} ms; runs with a gap over 300 ms: ${gaps}; `
    + `runs over 1.5x the median: ${slow}`);
}

if (DEMO) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-stalls-'));
  const { file } = randomFile(dir, 'swarm.bin', MIB * 1024 * 1024);
  const site = await startStatic();
  const ours = [];
  const theirs = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const demo = await startDemo([file, '--no-webseed']);
      const b = await browser();
      try {
        const wt = await openPage(b, site.url);
        const page = await b.newPage();
        // The sampler starts before the page's own scripts, so a fast download is seen whole.
        if (process.env.STALLS_TRACE) await page.addInitScript(`(${traceConnections})()`);
        await page.addInitScript(`window.__sampled = (${sampledWidget})()`);
        const stopCpu = sampleCpu(demo.pid);
        const [, w] = await Promise.all([page.goto(demo.url + '?webseed=0&storage=memory'), wt.evaluate(sampledWebtorrent, demo.info.magnet)]);
        const o = await page.evaluate(() => window.__sampled);
        const cpu = stopCpu();
        for (const [rows, r] of [[ours, o], [theirs, w]]) rows.push({ seconds: r.seconds, gap: longestGap(r.samples) });
        const first = (r) => ((r.samples.find(([, b]) => b > 0) || [NaN])[0] / 1000).toFixed(2);
        if (process.env.STALLS_PROFILE) {
          // KiB received per 100 ms sample, from the first byte: where a slow run lost its time.
          const profile = (r) => {
            const k = r.samples.findIndex(([, b]) => b > 0);
            return r.samples.slice(Math.max(k, 1)).map(([, b], j) => Math.round((b - r.samples[Math.max(k, 1) + j - 1][1]) / 1024)).join(' ');
          };
          console.log(`  ours KiB/100 ms: ${profile(o)}\n  WebTorrent KiB/100 ms: ${profile(w)}`);
          // From when the pages were opened, not from the first byte.
          console.log(`  demo process (seeder, tracker) CPU %/100 ms: ${cpu.map((r) => r[0]).join(' ')}\n  machine busy %/100 ms: ${cpu.map((r) => r[1]).join(' ')}`);
        }
        if (process.env.STALLS_TRACE) console.log(`  ${await page.evaluate(firstOpened)}`);
        const marks = Object.entries(o.marks).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
        console.log(`run ${i + 1}: ours ${o.seconds.toFixed(2)} s (${marks}; first byte ${first(o)} s), gap ${ours[i].gap.toFixed(0)} ms; `
          + `WebTorrent ${w.seconds.toFixed(2)} s (first byte ${first(w)} s), gap ${theirs[i].gap.toFixed(0)} ms; `
          + `UDP receive-buffer drops so far ${rcvbufErrors()}`);
      } finally {
        await b.close();
        await demo.stop();
      }
    }
  } finally {
    site.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`\n${RUNS} demo-swarm runs of ${MIB} MiB (native seeder, our page, WebTorrent's page); load average ${load}`);
  summary('our page', ours);
  summary('WebTorrent', theirs);
  process.exit(0);
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
      const s = await page.evaluate(sampled, { source: seeder.line.trim(), tracker: tracker.url });
      const r = { seconds: s.seconds, gap: longestGap(s.samples) };
      runs.push(r);
      console.log(`run ${i + 1}: ${r.seconds.toFixed(2)} s, ${(MIB * 1.048576 / r.seconds).toFixed(1)} MB/s, longest gap ${r.gap.toFixed(0)} ms; `
        + `UDP receive-buffer drops so far ${rcvbufErrors()}${LOSS > 0 ? `, dropped by the loss rule ${lossDrops()}` : ''}`);
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
const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`\n${RUNS} runs of ${MIB} MiB, native seeder -> our browser peer (memory)${LOSS > 0 ? `, ${LOSS} % of UDP datagrams dropped` : ''}; load average ${load}`);
summary('our browser peer', runs);
