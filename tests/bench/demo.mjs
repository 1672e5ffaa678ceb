// Benchmark of issue 6: a video page against the native seeder of
// `webswarm demo` (WebRTC only, no webseed), our demo page (widget + service
// worker streaming) versus WebTorrent's service-worker streaming
// (`client.createServer` + `file.streamTo`) on the same file and seeder, one
// after the other in fresh Chromiums. Prints, from page load: first video
// frame and finished download; first frame from the moment the page calls
// add, and from the moment it sets the video's source (the torrent known);
// and MB/s of the whole download, with ratios.
// The 64 MiB video is made with ffmpeg (apt-get install ffmpeg) and cached.
// Run it in a loopback-only namespace (`cargo xtask bench-demo`).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStatic, browser, runWebswarm, webDist } from '../interop/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;
const RUNS = Number(process.argv[2] || 3);

function video() {
  const file = path.join(os.tmpdir(), 'webswarm-bench-64mib.webm');
  if (fs.existsSync(file)) return file;
  // 720p test pattern, 54 s at up to 18 Mbit/s: about 64 MiB of playable VP8.
  execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
    '-t', '54', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '18M', '-minrate', '18M',
    '-maxrate', '18M', '-g', '60', file], { stdio: 'inherit' });
  return file;
}

const WT_PAGE = `<!doctype html><meta charset="utf-8"><title>WebTorrent streaming</title>
<video id="v" muted playsinline controls></video>
<script type="module">
import WebTorrent from '/webtorrent.min.js';
const magnet = new URLSearchParams(location.search).get('magnet');
const t = (window.timings = {});
await navigator.serviceWorker.register('/wt-sw.js', { scope: '/' });
// WebTorrent's server wants an activated worker that controls the page;
// its worker does not claim pages, so the first load reloads once (the
// reload's clock starts again: this favours WebTorrent slightly).
const reg = await navigator.serviceWorker.ready;
const w = reg.active;
if (w.state !== 'activated') await new Promise((r) => w.addEventListener('statechange', () => { if (w.state === 'activated') r(); }));
if (!navigator.serviceWorker.controller) { location.reload(); await new Promise(() => {}); }
const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
client.createServer({ controller: reg });
const video = document.getElementById('v');
t.addAt = performance.now();
client.add(magnet, (torrent) => {
  torrent.on('done', () => { t.doneAt = performance.now(); });
  const asked = performance.now();
  video.requestVideoFrameCallback(() => {
    t.firstFrame = performance.now() - asked;
    t.firstFrameAt = performance.now();
    t.progressAtFrame = torrent.progress;
  });
  torrent.files[0].streamTo(video);
  video.play().catch((e) => { t.playError = String(e); });
});
</script>`;

async function measure(url, read) {
  const b = await browser();
  try {
    const page = await b.newPage();
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.goto(url);
    await page.waitForFunction(read + '?.doneAt !== undefined && ' + read + '?.firstFrameAt !== undefined', null, { timeout: 120_000, polling: 100 });
    return await page.evaluate(read);
  } finally {
    await b.close();
  }
}

const file = video();
const size = fs.statSync(file).size;
// DEMO_PIECE_LENGTH=B hashes the video with B-byte pieces (default: `webswarm create`'s choice).
const pieceLength = process.env.DEMO_PIECE_LENGTH ? ['--piece-length', process.env.DEMO_PIECE_LENGTH] : [];
const demo = await runWebswarm(['demo', file, '--port', '0', '--no-webseed', '--web-dir', webDist(), ...pieceLength], {
  ready: (l) => l.startsWith('webswarm demo: open'),
});
const demoUrl = demo.line.match(/http:\/\/\S+\//)[0];
const info = await (await fetch(demoUrl + 'demo.json')).json();
const site = await startStatic({
  extra: {
    '/wt.html': Buffer.from(WT_PAGE),
    '/wt-sw.js': path.join(here, '../node_modules/webtorrent/dist/sw.min.js'),
  },
});
const rows = { ours: [], webtorrent: [] };
try {
  for (let i = 0; i < RUNS; i++) {
    rows.ours.push(await measure(demoUrl, 'window.demo?.timings'));
    rows.webtorrent.push(await measure(site.url + 'wt.html?magnet=' + encodeURIComponent(info.magnet), 'window.timings'));
  }
} finally {
  demo.child.kill('SIGINT');
  site.stop();
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const summary = (rs) => ({
  frameFromLoad: median(rs.map((r) => r.firstFrameAt)) / 1000,
  frameFromAsk: median(rs.map((r) => r.firstFrameAt - r.addAt)) / 1000,
  frameFromSrc: median(rs.map((r) => r.firstFrame)) / 1000,
  progressAtFrame: median(rs.map((r) => r.progressAtFrame)),
  done: median(rs.map((r) => r.doneAt)) / 1000,
  mbps: median(rs.map((r) => size / ((r.doneAt - r.addAt) / 1000) / 1e6)),
});
const ours = summary(rows.ours);
const wt = summary(rows.webtorrent);
const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`\n${(size / MiB).toFixed(1)} MiB VP8 video from the native seeder over WebRTC, median of ${RUNS} runs each; load average ${load}\n`);
console.log('| page | first frame from page load (s) | from add (s) | from setting the video source (s) | downloaded at first frame | done from page load (s) | MB/s add to done |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, s] of [['webswarm demo (widget + sw.js)', ours], ['WebTorrent (createServer + streamTo)', wt]]) {
  console.log(`| ${name} | ${s.frameFromLoad.toFixed(2)} | ${s.frameFromAsk.toFixed(2)} | ${s.frameFromSrc.toFixed(2)} | ${(s.progressAtFrame * 100).toFixed(1)} % | ${s.done.toFixed(2)} | ${s.mbps.toFixed(1)} |`);
}
console.log(`| ratio webswarm / WebTorrent | ${(ours.frameFromLoad / wt.frameFromLoad).toFixed(2)}x | ${(ours.frameFromAsk / wt.frameFromAsk).toFixed(2)}x | ${(ours.frameFromSrc / wt.frameFromSrc).toFixed(2)}x | | ${(ours.done / wt.done).toFixed(2)}x | ${(ours.mbps / wt.mbps).toFixed(2)}x |`);
console.log('\nall runs (s: first frame from page load / first frame from add / done from page load):');
for (const k of ['ours', 'webtorrent']) console.log(k, rows[k].map((r) => `${(r.firstFrameAt / 1000).toFixed(2)}/${((r.firstFrameAt - r.addAt) / 1000).toFixed(2)}/${(r.doneAt / 1000).toFixed(2)}`).join('  '));
