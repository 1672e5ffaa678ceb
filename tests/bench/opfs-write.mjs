// What a piece write into OPFS costs in Chromium: 64 MiB as 256 KiB files,
// through createWritable (the page) and through createSyncAccessHandle (a
// dedicated worker, the only place it exists). Prints MB/s and the
// browser's CPU seconds. Writes one at a time, or CONCURRENT at once.
// `oneFile`: the page posts each piece to a worker that keeps one sync
// access handle open on one big file and writes the piece at its offset.
//   node bench/opfs-write.mjs [piece KiB] [concurrent] [total MiB]
import crypto from 'node:crypto';
import { startStatic, browser, browserCpu, openPage } from '../interop/harness.mjs';

const site = await startStatic({ extra: { '/blank.html': Buffer.from('<!doctype html><script>window.ready = true</script>') } });
const PIECE = Number(process.argv[2] || 256) * 1024;
const CONCURRENT = Number(process.argv[3] || 1);
// Fixed costs (worker start, directory handles) weigh on 64 MiB: 256 gives
// the steady per-byte cost.
const TOTAL_MIB = Number(process.argv[4] || 64), N = (TOTAL_MIB << 20) / PIECE;
for (const how of CONCURRENT > 1 ? ['createWritable'] : ['createWritable', 'syncAccessHandle', 'oneFile']) {
  const tag = `webswarm-opfs-${crypto.randomBytes(4).toString('hex')}`;
  const b = await browser({ tag });
  try {
    const page = await openPage(b, site.url + 'blank.html');
    const cpu0 = browserCpu(tag);
    const s = await page.evaluate(async ({ how, PIECE, N, CONCURRENT }) => {
      const root = await navigator.storage.getDirectory();
      const dir = await root.getDirectoryHandle('bench', { create: true });
      const data = new Uint8Array(PIECE).fill(7);
      const t0 = performance.now();
      if (how === 'createWritable') {
        let next = 0;
        const one = async () => {
          while (next < N) {
            const i = next++;
            const fh = await dir.getFileHandle('p' + i, { create: true });
            const w = await fh.createWritable();
            await w.write(data);
            await w.close();
          }
        };
        await Promise.all(Array.from({ length: CONCURRENT }, one));
      } else if (how === 'oneFile') {
        const src = `let opened;
        const open = async () => {
          const root = await navigator.storage.getDirectory();
          const dir = await root.getDirectoryHandle('bench', { create: true });
          const fh = await dir.getFileHandle('all', { create: true });
          return fh.createSyncAccessHandle();
        };
        onmessage = async (e) => {
          const h = await (opened ||= open());
          if (e.data.done) { h.flush(); h.close(); postMessage('done'); return; }
          h.write(e.data.buf, { at: e.data.at });
          postMessage(e.data.at);
        };`;
        const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
        let acked = 0, waiter = null;
        w.onmessage = (e) => { acked++; if (waiter) waiter(); };
        for (let i = 0; i < N; i++) {
          // A fresh copy each time, as a piece leaving wasm memory is.
          const buf = data.slice();
          w.postMessage({ at: i * PIECE, buf }, [buf.buffer]);
          while (i - acked > 8) await new Promise((r) => { waiter = r; });
        }
        await new Promise((r) => { w.onmessage = (e) => { if (e.data === 'done') r(); }; w.postMessage({ done: true }); });
      } else {
        const src = `onmessage = async (e) => {
          const root = await navigator.storage.getDirectory();
          const dir = await root.getDirectoryHandle('bench', { create: true });
          for (let i = 0; i < e.data.N; i++) {
            const fh = await dir.getFileHandle('p' + i, { create: true });
            const h = await fh.createSyncAccessHandle();
            h.write(new Uint8Array(e.data.PIECE).fill(7), { at: 0 });
            h.flush(); h.close();
          }
          postMessage('done');
        };`;
        const w = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
        await new Promise((r) => { w.onmessage = r; w.postMessage({ PIECE, N }); });
      }
      return (performance.now() - t0) / 1000;
    }, { how, PIECE, N, CONCURRENT });
    const cpu = browserCpu(tag) - cpu0;
    console.log(`${how}, ${PIECE >> 10} KiB pieces, ${TOTAL_MIB} MiB, ${CONCURRENT} at once: ${(PIECE * N / s / 1e6).toFixed(1)} MB/s, CPU ${(cpu * 64 / TOTAL_MIB).toFixed(2)} s per 64 MiB`);
  } finally { await b.close(); }
}
site.stop();
