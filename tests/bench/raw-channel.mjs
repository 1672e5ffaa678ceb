// The ceiling our browser peer works under: a raw RTCDataChannel between two
// headless Chromiums on this machine, no BitTorrent, 64 MiB of one message
// size with bufferedAmount back-pressure. Prints MB/s (10^6 bytes/s) and the
// receiving browser's CPU seconds (the floor under any leecher's CPU):
//   unshare --net sh -c 'ip link set lo up && exec "$@"' sh node bench/raw-channel.mjs [message bytes] [high-water bytes]
import crypto from 'node:crypto';
import { startStatic, browser, browserCpu, openPage } from '../interop/harness.mjs';
const site = await startStatic();
const tag = `webswarm-raw-${crypto.randomBytes(4).toString('hex')}`;
const b1 = await browser(), b2 = await browser({ tag });
const MSG = Number(process.argv[2] || 262144);
try {
  const a = await openPage(b1, site.url), b = await openPage(b2, site.url);
  const gather = `(pc) => new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); })`;
  const offer = await a.evaluate(async (g) => {
    const gather = eval(g);
    const pc = new RTCPeerConnection({ iceServers: [] });
    const dc = pc.createDataChannel('raw'); dc.binaryType = 'arraybuffer';
    window.pc = pc; window.dc = dc;
    await pc.setLocalDescription(await pc.createOffer()); await gather(pc);
    return pc.localDescription.sdp;
  }, gather);
  const answer = await b.evaluate(async ({ offer, g }) => {
    const gather = eval(g);
    const pc = new RTCPeerConnection({ iceServers: [] });
    window.pc = pc;
    window.got = new Promise((resolve) => {
      pc.ondatachannel = (e) => {
        const ch = e.channel; ch.binaryType = 'arraybuffer';
        let n = 0, t0 = 0;
        ch.onmessage = (m) => { if (!t0) t0 = performance.now(); n += m.data.byteLength; if (n >= 64 * 1048576) resolve({ n, s: (performance.now() - t0) / 1000 }); };
      };
    });
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    await pc.setLocalDescription(await pc.createAnswer()); await gather(pc);
    return pc.localDescription.sdp;
  }, { offer, g: gather });
  const cpu0 = browserCpu(tag);
  await a.evaluate(async ({ answer, MSG, HW }) => {
    await window.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    const dc = window.dc;
    await new Promise((r) => dc.readyState === 'open' ? r() : dc.onopen = r);
    const buf = new Uint8Array(MSG);
    dc.bufferedAmountLowThreshold = 256 * 1024;
    let sent = 0;
    while (sent < 64 * 1048576) {
      if (dc.bufferedAmount > Number(HW)) { await new Promise((r) => dc.onbufferedamountlow = r); continue; }
      dc.send(buf); sent += MSG;
    }
  }, { answer, MSG, HW: process.argv[3] || 1048576 });
  const r = await b.evaluate(() => window.got);
  const cpu = browserCpu(tag) - cpu0;
  console.log(`raw Chromium->Chromium, ${MSG} B messages: ${(r.n / r.s / 1e6).toFixed(1)} MB/s, receiver CPU ${cpu.toFixed(2)} s per 64 MiB`);
} finally { await b1.close(); await b2.close(); site.stop(); }
