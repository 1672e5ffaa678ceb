// How often the receiving page calls into the browser per download: data
// channel sends, timers set, messages received (native seeder -> our peer
// in memory). Finds per-message work that batching could remove.
//   (cd tests && unshare --net sh -c 'ip link set lo up && exec "$@"' sh node bench/count-calls.mjs [MiB])
import { browser, openPage } from '../interop/harness.mjs';
import { ourLeech } from './leech.mjs';
import { nativeSeeder } from './rig.mjs';

const MIB = Number(process.argv[2] || 64);
const rig = await nativeSeeder(MIB);
const b = await browser();
try {
  const page = await openPage(b, rig.site.url);
  await page.evaluate(() => {
    const c = (window.counts = { send: 0, sendBytes: 0, setTimeout: 0, clearTimeout: 0, messages: 0 });
    const send = RTCDataChannel.prototype.send;
    RTCDataChannel.prototype.send = function (d) { c.send++; c.sendBytes += d.byteLength ?? d.length; return send.call(this, d); };
    const st = window.setTimeout, ct = window.clearTimeout;
    window.setTimeout = (...a) => { c.setTimeout++; return st(...a); };
    window.clearTimeout = (t) => { c.clearTimeout++; return ct(t); };
    const desc = Object.getOwnPropertyDescriptor(RTCDataChannel.prototype, 'onmessage');
    Object.defineProperty(RTCDataChannel.prototype, 'onmessage', {
      set(f) { desc.set.call(this, f && ((e) => { c.messages++; return f(e); })); },
      get() { return desc.get.call(this); },
    });
  });
  const r = await page.evaluate(ourLeech, { source: rig.magnet, tracker: rig.tracker.url, storage: 'memory' });
  const c = await page.evaluate(() => window.counts);
  console.log(`${MIB} MiB in ${r.seconds.toFixed(2)} s: ${JSON.stringify(c)}`);
} finally {
  await b.close();
  rig.stop();
}
process.exit(0);
