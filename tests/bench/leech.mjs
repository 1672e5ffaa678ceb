// Page-side halves of the browser benchmarks (bench/web.mjs, bench/nat.mjs):
// functions handed to page.evaluate, so each stands alone (no closures).

/** In the seeder page: our peer seeds `window.file`; resolves with the magnet. */
export async function ourSeedFile({ tracker, iceServers = [], relayOnly = false }) {
  const client = new window.webswarm.Client({ iceServers, relayOnly, trackers: [tracker], storage: 'memory' });
  window.seeder = client;
  return (await client.seed(window.file)).magnetURI;
}

/** In the seeder page: WebTorrent seeds `window.file`; resolves with the magnet. */
export function webtorrentSeedFile({ announce, iceServers = [], relayOnly = false }) {
  const rtcConfig = { iceServers, ...(relayOnly ? { iceTransportPolicy: 'relay' } : {}) };
  const client = new window.WebTorrent({ tracker: { rtcConfig } });
  window.seeder = client;
  return new Promise((resolve) => client.seed(window.file, { announce: [announce] }, (t) => resolve(t.magnetURI)));
}

/** In the leecher page: our peer downloads `source`. */
export async function ourLeech({ source, tracker, storage, iceServers = [], relayOnly = false }) {
  const client = new window.webswarm.Client({ iceServers, relayOnly, trackers: [tracker], storage });
  const t0 = performance.now();
  const t = await client.add(source);
  await t.whenDone();
  const seconds = (performance.now() - t0) / 1000;
  const r = { seconds, first: t.timeToFirstPiece / 1000, length: t.length, wasm: window.webswarm.wasmMemoryBytes() };
  await t.destroy({ removeStorage: true });
  client.destroy();
  return r;
}

/** In the leecher page: WebTorrent downloads `magnet` into OPFS (its default) or memory. */
export async function webtorrentLeech({ magnet, storage, iceServers = [], relayOnly = false }) {
  // A minimal abstract-chunk-store in memory (WebTorrent's bundle does not export its own).
  class MemoryStore {
    constructor(chunkLength) { this.chunkLength = chunkLength; this.chunks = []; }
    put(i, buf, cb = () => {}) { this.chunks[i] = buf; queueMicrotask(() => cb(null)); }
    get(i, opts, cb) {
      if (typeof opts === 'function') { cb = opts; opts = null; }
      const buf = this.chunks[i];
      queueMicrotask(() => {
        if (!buf) return cb(new Error('chunk not found'));
        if (!opts) return cb(null, buf);
        const offset = opts.offset || 0;
        cb(null, buf.subarray(offset, offset + (opts.length || buf.length - offset)));
      });
    }
    close(cb = () => {}) { queueMicrotask(() => cb(null)); }
    destroy(cb = () => {}) { this.chunks = []; queueMicrotask(() => cb(null)); }
  }
  const rtcConfig = { iceServers, ...(relayOnly ? { iceTransportPolicy: 'relay' } : {}) };
  const client = new window.WebTorrent({ tracker: { rtcConfig } });
  const opts = storage === 'memory' ? { store: MemoryStore, storeCacheSlots: 0 } : {};
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    client.on('error', (e) => reject(String(e)));
    client.add(magnet, opts, (t) => {
      let first = null;
      t.on('verified', () => { if (first === null) first = performance.now() - t0; });
      t.on('done', () => {
        const r = { seconds: (performance.now() - t0) / 1000, first: first / 1000, length: t.length };
        t.destroy({ destroyStore: true }, () => { client.destroy(); resolve(r); });
      });
    });
  });
}

/** Puts `size` random bytes in the page as `window.file`. */
export async function randomFileIn(page, size) {
  await page.evaluate(async ({ size }) => {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
    window.file = new File([data], 'bench.bin');
  }, { size });
}
