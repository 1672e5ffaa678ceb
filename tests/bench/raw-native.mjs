// The ceiling the native seeder works under: our webrtc-rs transport sending
// raw bytes (no BitTorrent) into a headless Chromium. The page offers (as our
// browser peer does to a native seeder), the native side answers and sends.
//   cargo build --release -p webswarm-native --example raw_send
//   unshare --net sh -c 'ip link set lo up && exec "$@"' sh node bench/raw-native.mjs [MiB] [message bytes] [send buffer bytes]
// `rawNative` is also run by bench/ceiling.mjs, beside our peer.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { startStatic, browser, browserCpu, browserCpuByProcess, browserCpuByThread, cpuDelta, openPage, pidCpu } from '../interop/harness.mjs';

/**
 * One transfer of `mib` MiB. `seconds`: first message to last (the bench's
 * classic figure); `fromAnswer`: from applying the answer, so connection
 * setup counts as it does for a peer timed from `add`.
 */
export async function rawNative({ mib = 64, msg = '262144', sendBuffer } = {}) {
  const bin = process.env.RAW_SEND_BIN || '../target/release/examples/raw_send';
  // A blank page: the bench needs nothing of the package.
  const site = await startStatic({ extra: { '/raw.html': Buffer.from('<!doctype html><script>window.ready = true</script>') } });
  const tag = `webswarm-raw-${crypto.randomBytes(4).toString('hex')}`;
  const b = await browser({ tag });
  const child = spawn(bin, [String(mib), String(msg), ...(sendBuffer ? [String(sendBuffer)] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  // raw_send stays up 30 s after its last byte: an exit before the page has
  // them all is a failure, and a write to its stdin then fails with EPIPE
  // (unhandled, that error ended the whole bench). Both reject this run.
  const died = new Promise((_, reject) => {
    child.once('error', (e) => reject(new Error(`${bin} did not start: ${e.message}`)));
    child.once('exit', (code, signal) => reject(new Error(`${bin} exited (${signal || `status ${code}`}) before the transfer ended`)));
  });
  died.catch(() => {});
  child.stdin.on('error', () => {});
  const senderCpu = () => {
    try { return pidCpu(child.pid); } catch { throw new Error(`${bin} exited before the transfer ended`); }
  };
  try {
    const page = await openPage(b, site.url + 'raw.html');
    const offer = await page.evaluate(async (total) => {
      const pc = new RTCPeerConnection({ iceServers: [] });
      const dc = pc.createDataChannel('raw'); dc.binaryType = 'arraybuffer';
      window.pc = pc;
      window.got = new Promise((resolve) => {
        let n = 0, t0 = 0;
        dc.onmessage = (m) => {
          if (!t0) t0 = performance.now();
          n += m.data.byteLength;
          if (n >= total) resolve({ n, s: (performance.now() - t0) / 1000, end: performance.now() });
        };
      });
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); });
      return pc.localDescription.sdp;
    }, mib * 1048576);
    const cpu0 = browserCpu(tag);
    const by0 = browserCpuByProcess(tag);
    const threads0 = browserCpuByThread(tag);
    // From here on, as our peer's sender is counted: connection setup and the transfer.
    const sender0 = senderCpu();
    child.stdin.write(JSON.stringify(offer) + '\n');
    const lines = createInterface({ input: child.stdout });
    const answer = JSON.parse(await Promise.race([new Promise((r) => lines.once('line', r)), died]));
    await page.evaluate((sdp) => { window.applied = performance.now(); return window.pc.setRemoteDescription({ type: 'answer', sdp }); }, answer);
    const r = await Promise.race([
      page.evaluate(() => window.got),
      new Promise((_, rej) => setTimeout(() => rej(new Error('timed out after 120 s')), 120000).unref()),
      died,
    ]);
    const applied = await page.evaluate(() => window.applied);
    const by = browserCpuByProcess(tag);
    return {
      mbps: r.n / r.s / 1e6,
      seconds: r.s,
      fromAnswer: applied ? (r.end - applied) / 1000 : undefined,
      senderCpu: senderCpu() - sender0,
      browserCpu: browserCpu(tag) - cpu0,
      byProcess: Object.fromEntries(Object.keys(by).map((k) => [k, +(by[k] - (by0[k] || 0)).toFixed(2)]).filter(([, v]) => v > 0)),
      byThread: cpuDelta(threads0, browserCpuByThread(tag)),
    };
  } finally { child.kill(); await b.close(); site.stop(); }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const MIB = Number(process.argv[2] || 64);
  const MSG = process.argv[3] || '262144';
  const r = await rawNative({ mib: MIB, msg: MSG, sendBuffer: process.argv[4] });
  const kinds = Object.entries(r.byProcess).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
  console.log(`raw webrtc-rs -> Chromium, ${MIB} MiB of ${MSG} B writes: ${r.mbps.toFixed(1)} MB/s, CPU (setup included): sender ${r.senderCpu.toFixed(2)} s, receiving browser ${r.browserCpu.toFixed(2)} s (${kinds})`);
  console.log('receiving browser CPU s by thread:', JSON.stringify(r.byThread));
}
