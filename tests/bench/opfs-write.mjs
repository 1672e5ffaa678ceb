// What a piece write into OPFS costs in Chromium: 64 MiB as 256 KiB files,
// through createWritable (the page) and through createSyncAccessHandle (a
// dedicated worker, the only place it exists). Prints MB/s and the
// browser's CPU seconds. Writes one at a time, or CONCURRENT at once.
//   node bench/opfs-write.mjs [piece KiB] [concurrent]
import crypto from 'node:crypto';
import { startStatic, browser, browserCpu, openPage } from '../interop/harness.mjs';

const site = await startStatic({ extra: { '/blank.html': Buffer.from('<!doctype html><script>window.ready = true</script>') } });
const PIECE = Number(process.argv[2] || 256) * 1024, N = (64 << 20) / PIECE;
const CONCURRENT = Number(process.argv[3] || 1);
for (const how of CONCURRENT > 1 ? ['createWritable'] : ['createWritable', 'syncAccessHandle']) {
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
    console.log(`${how}, ${PIECE >> 10} KiB files, ${CONCURRENT} at once: ${(PIECE * N / s / 1e6).toFixed(1)} MB/s, CPU ${cpu.toFixed(2)} s per 64 MiB`);
  } finally { await b.close(); }
}
site.stop();
