// Where the demo page's time to first frame goes: one run of the demo page
// against the native seeder (no webseed), with the page's milestones and
// every request the video element makes, in ms from `add` (WebSocket,
// RTCPeerConnection, the data channel and the video element wrapped; the
// messages sent to the tracker and the block requests sent to peers marked).
// `QUIET=1`: only each run's first frame. Needs the built binaries and
// web/dist (the WEBSWARM_* variables of the e2e tests) and the bench video.
//   (cd tests && unshare --net sh -c 'ip link set lo up && exec "$@"' sh node bench/first-frame-trace.mjs [runs])
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { browser, runWebswarm, webDist } from '../interop/harness.mjs';

const RUNS = Number(process.argv[2] || 1);
const file = path.join(os.tmpdir(), 'webswarm-bench-64mib.webm');
if (!fs.existsSync(file)) {
  console.error(`${file} is missing: run \`cargo xtask bench-demo 1\` once, it makes the video`);
  process.exit(2);
}
const demo = await runWebswarm(['demo', file, '--port', '0', '--no-webseed', '--web-dir', webDist()], {
  ready: (l) => l.startsWith('webswarm demo: open'),
});
const url = demo.line.match(/http:\/\/\S+\//)[0];

const HOOK = () => {
  const log = (window.__trace = []);
  const mark = (what) => log.push([performance.now(), what]);
  const dispatch = EventTarget.prototype.dispatchEvent;
  let verified = 0;
  EventTarget.prototype.dispatchEvent = function (e) {
    if (e.type === 'verified') { if (verified++ < 12) mark(`verified piece ${e.detail}`); }
    else if (['metadata', 'ready', 'wire', 'peer'].includes(e.type)) mark(e.type);
    return dispatch.call(this, e);
  };
  const WS = window.WebSocket;
  window.WebSocket = function (...a) { mark('tracker socket'); const ws = new WS(...a); ws.addEventListener('open', () => mark('tracker open')); const wsend = ws.send.bind(ws); ws.send = (d) => { mark(`tracker send ${String(d).length} B`); return wsend(d); }; ws.addEventListener('message', (m) => mark(`tracker says ${String(m.data).slice(0, 60)}`)); return ws; };
  window.WebSocket.prototype = WS.prototype;
  const PC = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...a) {
    const pc = new PC(...a); mark('peer connection');
    pc.addEventListener('connectionstatechange', () => mark(`pc ${pc.connectionState}`));
    pc.addEventListener('datachannel', () => mark('datachannel (remote)'));
    const cdc = pc.createDataChannel.bind(pc);
    pc.createDataChannel = (...b) => { const dc = cdc(...b); dc.addEventListener('open', () => mark('channel open')); let n = 0, bytes = 0, next = 65536; dc.addEventListener('message', (m) => { const len = m.data.byteLength ?? m.data.length; bytes += len; if (n++ < 3) mark(`channel message ${len} B`); if (len >= 1024 && !window.__metaSeen) window.__metaSeen = true; if (len >= 16384 && !window.__firstBlock) { window.__firstBlock = true; mark('first block'); } if (bytes >= next) { mark(`channel has brought ${bytes >> 10} KiB`); next *= 2; } }); return dc; };
    const sendOrig = RTCDataChannel.prototype.send;
    if (!RTCDataChannel.prototype.__traced) { RTCDataChannel.prototype.__traced = true; let k = 0; RTCDataChannel.prototype.send = function (d) { if (k++ < 12) mark(`send ${d.byteLength ?? d.length} B`); if (window.__metaSeen && (window.__reqs = (window.__reqs || 0)) < 40 && d.byteLength) { const u = new Uint8Array(d.buffer || d, d.byteOffset || 0, d.byteLength); const v = new DataView(u.buffer, u.byteOffset, u.byteLength); const got = []; for (let o = 0; o + 4 <= u.length;) { const n = v.getUint32(o); if (n === 13 && u[o + 4] === 6) got.push(`${v.getUint32(o + 5)}/${v.getUint32(o + 9) >> 14}`); o += 4 + n; } if (got.length) { window.__reqs += got.length; mark(`requests ${got.join(' ')}`); } } if (window.__metaSeen && !window.__firstRequest) { window.__firstRequest = true; mark('first request'); } const t0 = performance.now(); try { return sendOrig.call(this, d); } finally { const dt = performance.now() - t0; window.__sendMs = (window.__sendMs || 0) + dt; window.__sends = (window.__sends || 0) + 1; window.__sendMax = Math.max(window.__sendMax || 0, dt); } }; }
    const sld = pc.setLocalDescription.bind(pc); pc.setLocalDescription = (...b) => { mark('setLocalDescription'); return sld(...b).then((r) => { mark('local description set'); return r; }); };
    const srd = pc.setRemoteDescription.bind(pc); pc.setRemoteDescription = (...b) => { mark('setRemoteDescription'); return srd(...b).then((r) => { mark('remote description set'); return r; }); };
    return pc;
  };
  window.RTCPeerConnection.prototype = PC.prototype;
  const src = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'src');
  Object.defineProperty(HTMLMediaElement.prototype, 'src', { set(v) { mark('video src set'); this.addEventListener('loadedmetadata', () => mark('loadedmetadata'), { once: true }); this.addEventListener('canplay', () => mark('canplay'), { once: true }); src.set.call(this, v); }, get() { return src.get.call(this); } });
};

try {
  for (let run = 0; run < RUNS; run++) {
    const b = await browser();
    try {
      const page = await b.newPage();
      await page.addInitScript(HOOK);
      const t0 = Date.now();
      const reqs = [];
      page.on('request', (r) => { if (r.url().includes('/webswarm/stream/') || r.resourceType() === 'media') reqs.push([Date.now() - t0, `request ${r.headers().range || ''} ${r.url().slice(-40)}`]); });
      page.on('response', (r) => { if (r.request().resourceType() === 'media') reqs.push([Date.now() - t0, `response ${r.status()} ${r.headers()['content-range'] || ''}`]); });
      await page.goto(url);
      await page.waitForFunction('window.demo?.timings?.firstFrameAt !== undefined', null, { timeout: 60_000, polling: 20 });
      const { trace, timings, origin } = await page.evaluate(() => ({ trace: window.__trace, timings: window.demo.timings, origin: performance.timeOrigin }));
      const add = timings.addAt;
      const at = (w) => trace.find(([, x]) => x === w)?.[0];
      const served = at('first block') - at('first request');
      // Chromium's data-channel send waits for its network thread: the page's main thread
      // spent this much in it by the time the trace is read (just after the first frame).
      const [sends, sendMs, sendMax] = await page.evaluate(() => [window.__sends, window.__sendMs, window.__sendMax]);
      console.log(`\nrun ${run + 1}: first frame ${(timings.firstFrameAt - add).toFixed(0)} ms after add; first request -> first block ${served.toFixed(1)} ms; ${sends} channel sends by then took ${sendMs.toFixed(1)} ms (longest ${sendMax.toFixed(1)})`);
      const rel = reqs.map(([ms, w]) => [t0 + ms - origin - add, w]);
      const all = [...trace.map(([t, w]) => [t - add, w]), ...rel, [timings.firstFrameAt - add, 'FIRST FRAME']].sort((a, b) => a[0] - b[0]);
      if (!process.env.QUIET) for (const [t, w] of all) console.log(`${t.toFixed(1).padStart(8)} ms  ${w}`);
    } finally { await b.close(); }
  }
} finally { demo.child.kill('SIGINT'); }
