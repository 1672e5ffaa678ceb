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
  const r = { seconds, first: t.timeToFirstPiece / 1000, length: t.length, pieceLength: t.pieceLength, wasm: window.webswarm.wasmMemoryBytes() };
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

// A raw RTCDataChannel, no BitTorrent: the ceiling a browser peer works
// under. The SDPs go through node (no trickle: each waits for gathering).

/** In the sending page: an offer with a data channel; resolves with its SDP. */
export async function rawOffer({ iceServers = [], relayOnly = false }) {
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: relayOnly ? 'relay' : 'all' });
  const dc = pc.createDataChannel('raw');
  window.raw = { pc, dc };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); });
  return pc.localDescription.sdp;
}

/** In the receiving page: answers `offer`; `window.rawGot` resolves once `size` bytes came. */
export async function rawAnswer({ offer, size, iceServers = [], relayOnly = false }) {
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: relayOnly ? 'relay' : 'all' });
  const t0 = performance.now();
  window.raw = { pc };
  window.rawGot = new Promise((resolve) => {
    pc.ondatachannel = (e) => {
      const ch = e.channel;
      ch.binaryType = 'arraybuffer';
      let n = 0;
      let first = null;
      ch.onmessage = (m) => {
        if (first === null) first = (performance.now() - t0) / 1000;
        n += m.data.byteLength;
        if (n >= size) resolve({ seconds: (performance.now() - t0) / 1000, first, length: n });
      };
    };
  });
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); });
  return pc.localDescription.sdp;
}

/** In the sending page: takes the answer and sends `size` bytes in `message`-byte messages, with back-pressure. */
export async function rawSend({ answer, size, message = 65536, highWater = 1048576 }) {
  const { pc, dc } = window.raw;
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await new Promise((r) => (dc.readyState === 'open' ? r() : (dc.onopen = r)));
  const buf = new Uint8Array(message);
  dc.bufferedAmountLowThreshold = highWater / 4;
  for (let sent = 0; sent < size;) {
    if (dc.bufferedAmount > highWater) {
      await new Promise((r) => { dc.onbufferedamountlow = r; });
      continue;
    }
    dc.send(buf);
    sent += message;
  }
}

/** Closes the page's raw connection. */
export function rawClose() {
  window.raw?.pc.close();
}

/** A raw transfer of `size` bytes from page `a` to page `b`; resolves with b's timings. */
export async function rawTransfer(a, b, { size, iceServers = [], relayOnly = false, message, highWater }) {
  const offer = await a.evaluate(rawOffer, { iceServers, relayOnly });
  const answer = await b.evaluate(rawAnswer, { offer, size, iceServers, relayOnly });
  await a.evaluate(rawSend, { answer, size, message, highWater });
  const r = await b.evaluate(() => window.rawGot);
  await a.evaluate(rawClose);
  await b.evaluate(rawClose);
  return r;
}
