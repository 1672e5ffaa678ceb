// The ceiling our browser peer works under: a raw RTCDataChannel between two
// headless Chromiums on this machine, no BitTorrent, 64 MiB of one message
// size with bufferedAmount back-pressure. Prints MB/s (10^6 bytes/s) and the
// receiving browser's CPU seconds (the floor under any leecher's CPU):
//   unshare --net sh -c 'ip link set lo up && exec "$@"' sh node bench/raw-channel.mjs [message bytes] [high-water bytes]
import crypto from 'node:crypto';
import { startStatic, browser, browserCpu, openPage } from '../interop/harness.mjs';
import { rawTransfer } from './leech.mjs';

const site = await startStatic();
const tag = `webswarm-raw-${crypto.randomBytes(4).toString('hex')}`;
const b1 = await browser(), b2 = await browser({ tag });
const MSG = Number(process.argv[2] || 262144);
const SIZE = 64 * 1048576;
try {
  const a = await openPage(b1, site.url), b = await openPage(b2, site.url);
  const cpu0 = browserCpu(tag);
  const r = await rawTransfer(a, b, { size: SIZE, message: MSG, highWater: Number(process.argv[3] || 1048576) });
  const cpu = browserCpu(tag) - cpu0;
  console.log(`raw Chromium->Chromium, ${MSG} B messages: ${(SIZE / (r.seconds - r.first) / 1e6).toFixed(1)} MB/s, receiver CPU ${cpu.toFixed(2)} s per 64 MiB`);
} finally { await b1.close(); await b2.close(); site.stop(); }
