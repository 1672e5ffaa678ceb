// webswarm-web: BitTorrent over WebRTC in the browser, from WebAssembly.
// This file turns the raw wasm-bindgen classes into the public API:
// torrents are EventTargets, files have blob()/arrayBuffer()/stream().
import initWasm, { Client as RawClient } from './webswarm_web.js';

let loading = null;
let exports = null;

/** Loads the wasm module once. Optional: every API call awaits it. */
export function init(wasm) {
  if (!loading) {
    loading = initWasm(wasm === undefined ? undefined : { module_or_path: wasm }).then((e) => { exports = e; return e; });
  }
  return loading;
}

/** Bytes of wasm linear memory: its peak, since wasm memory never shrinks. */
export function wasmMemoryBytes() {
  return exports ? exports.memory.buffer.byteLength : 0;
}

export class Client {
  /** @param {import('./index').ClientOptions} [options] */
  constructor(options = {}) {
    this._raw = null;
    this._ready = init(options.wasm).then(() => { this._raw = new RawClient(options); });
    this._torrents = new Map();
  }

  /** Resolves once the wasm module is loaded and the options were accepted. */
  ready() { return this._ready.then(() => this); }

  async add(source, options = {}) {
    await this._ready;
    if (source instanceof URL) source = source.href;
    return this._wrap(await this._raw.add(source, options));
  }

  async seed(files, options = {}) {
    await this._ready;
    return this._wrap(await this._raw.seed(files, options));
  }

  get torrents() { return [...this._torrents.values()]; }

  trackerStatus() { return this._raw ? this._raw.trackerStatus() : []; }

  destroy() {
    for (const t of this._torrents.values()) t._destroyed = true;
    this._torrents.clear();
    if (this._raw) this._raw.destroy();
  }

  _wrap(raw) {
    const t = new Torrent(raw, this);
    this._torrents.set(t.infoHash, t);
    return t;
  }
}

/** Everything read from a torrent goes through the raw object's promises. */
export class Torrent extends EventTarget {
  constructor(raw, client) {
    super();
    this._raw = raw;
    this._client = client;
    this._files = null;
    this._destroyed = false;
    raw.setListener((type, detail) => this.dispatchEvent(new CustomEvent(type, { detail })));
  }

  /** `torrent.on('done', fn)`: a shorthand for addEventListener with the detail. */
  on(type, fn) { this.addEventListener(type, (e) => fn(e.detail)); return this; }

  get infoHash() { return this._raw.infoHash; }
  get magnetURI() { return this._raw.magnetURI; }
  get peerId() { return this._raw.peerId; }
  get torrentFile() { return this._raw.torrentFile; }
  get name() { return this._raw.name; }
  get length() { return this._raw.length; }
  get pieceLength() { return this._raw.pieceLength; }
  get progress() { return this._raw.progress; }
  get done() { return this._raw.done; }
  get paused() { return this._raw.paused; }
  get downloaded() { return this._raw.downloaded; }
  get uploaded() { return this._raw.uploaded; }
  get downloadSpeed() { return this._raw.downloadSpeed; }
  get uploadSpeed() { return this._raw.uploadSpeed; }
  get numPeers() { return this._raw.numPeers; }
  get webseedSpeed() { return this._raw.webseedSpeed; }
  get numWebseeds() { return this._raw.numWebseeds; }
  get banned() { return this._raw.banned; }
  get timeToFirstPiece() { return this._raw.timeToFirstPiece; }
  get error() { return this._raw.error; }

  /** Resolves when the metadata is known (at once for .torrent input). */
  async ready() { await this._raw.ready(); return this; }

  /** Resolves when every selected file is verified. */
  whenDone() {
    if (this.done) return Promise.resolve(this);
    return new Promise((resolve, reject) => {
      const ok = () => { cleanup(); resolve(this); };
      const fail = (e) => { cleanup(); reject(new Error(e.detail)); };
      const cleanup = () => { this.removeEventListener('done', ok); this.removeEventListener('error', fail); };
      this.addEventListener('done', ok);
      this.addEventListener('error', fail);
    });
  }

  /** `[]` until the metadata is known; see `ready()`. */
  get files() {
    if (!this._files) {
      const raw = this._raw.files;
      if (raw.length === 0) return [];
      this._files = raw.map((f, i) => new TorrentFile(this, i, f));
    }
    return this._files;
  }

  pause() { this._raw.pause(); }
  resume() { this._raw.resume(); }

  /** Leaves the swarm; `{removeStorage: true}` also deletes stored pieces. */
  async destroy(options = {}) {
    this._destroyed = true;
    this._client._torrents.delete(this.infoHash);
    await this._raw.destroy(options);
  }
}

export class TorrentFile {
  constructor(torrent, index, meta) {
    this._t = torrent;
    this.index = index;
    this.name = meta.name;
    this.path = meta.path;
    this.length = meta.length;
    this.offset = meta.offset;
  }

  select() { this._t._raw.select(this.index, true); }
  deselect() { this._t._raw.select(this.index, false); }

  /** The whole file once downloaded. With OPFS the Blob is disk-backed. */
  async blob(options = {}) {
    const parts = await this._t._raw.blobParts(this.offset, this.offset + this.length);
    return new Blob(parts, { type: options.type || '' });
  }

  async arrayBuffer() {
    const bytes = await this._t._raw.read(this.offset, this.offset + this.length);
    return bytes.buffer;
  }

  /**
   * A URL a `<video>`, `<audio>` or `<img>` can load while the file downloads,
   * with seeking: served by the service worker (see `registerServiceWorker`).
   */
  streamURL() {
    if (!swScope) throw new Error('call registerServiceWorker() first: streaming URLs are served by it');
    streamFiles.set(this._t.infoHash + '/' + this.index, this);
    return swScope + 'webswarm-stream/' + this._t.infoHash + '/' + this.index + '/' + encodeURIComponent(this.name);
  }

  /** A Response of the whole file, streamed as it downloads. */
  response() {
    return new Response(this.stream(), {
      headers: { 'Content-Type': contentType(this.name), 'Content-Length': String(this.length) },
    });
  }

  /**
   * A ReadableStream of the file from `start` to `end` (exclusive). Each read
   * asks for the next chunk first, so playback position drives the download.
   */
  stream({ start = 0, end = this.length } = {}) {
    const t = this._t;
    const chunk = Math.max(t.pieceLength || 0, 64 * 1024);
    let pos = Math.max(0, start);
    const stop = Math.min(end, this.length);
    return new ReadableStream({
      pull: async (controller) => {
        if (pos >= stop) { controller.close(); return; }
        const next = Math.min(pos + chunk - ((this.offset + pos) % chunk), stop);
        const bytes = await t._raw.read(this.offset + pos, this.offset + next);
        pos = next;
        controller.enqueue(bytes);
      },
    }, { highWaterMark: 2 });
  }
}

// ---- streaming into media elements, through the service worker -------------

const streamFiles = new Map();
let swScope = null;

/**
 * Registers webswarm's service worker (sw.js from this package, served from
 * your site's root) and starts answering its requests. Resolves once it
 * controls the page, so `file.streamURL()` works right after.
 */
export async function registerServiceWorker(url = '/sw.js', options = {}) {
  if (!('serviceWorker' in navigator)) throw new Error('this browser has no service workers (or the page is not https/localhost)');
  navigator.serviceWorker.addEventListener('message', onWorkerMessage);
  const reg = await navigator.serviceWorker.register(url, { scope: options.scope || '/' });
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
  }
  swScope = new URL(reg.scope).pathname;
  return reg;
}

function onWorkerMessage(event) {
  const m = event.data;
  if (!m || m.webswarm !== 'stream' || !event.ports[0]) return;
  const port = event.ports[0];
  const [hash, index] = m.id.split('/');
  const file = streamFiles.get(hash + '/' + index);
  if (!file || file._t._destroyed) { port.postMessage({ status: 404 }); return; }
  answer(file, m.range, port);
}

function answer(file, range, port) {
  const len = file.length;
  let start = 0;
  let end = len - 1;
  const r = range && /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (r) {
    if (r[1] === '') { start = Math.max(0, len - Number(r[2])); } else {
      start = Number(r[1]);
      if (r[2] !== '') end = Math.min(Number(r[2]), len - 1);
    }
    if (start >= len || start > end) {
      port.postMessage({ status: 416, headers: { 'Content-Range': 'bytes */' + len } });
      return;
    }
  }
  const headers = {
    'Content-Type': contentType(file.name),
    'Content-Length': String(end - start + 1),
    'Accept-Ranges': 'bytes',
  };
  if (r) headers['Content-Range'] = 'bytes ' + start + '-' + end + '/' + len;
  port.postMessage({ status: r ? 206 : 200, headers });
  const reader = file.stream({ start, end: end + 1 }).getReader();
  port.onmessage = async (m) => {
    if (m.data === 'cancel') { reader.cancel(); return; }
    try {
      const { value, done } = await reader.read();
      if (done) port.postMessage(null);
      else {
        const copy = value.slice();
        port.postMessage(copy, [copy.buffer]);
      }
    } catch (e) {
      port.postMessage({ error: String(e && e.message || e) });
    }
  };
}

const TYPES = {
  webm: 'video/webm', mp4: 'video/mp4', m4v: 'video/mp4', mkv: 'video/x-matroska', ogv: 'video/ogg',
  mov: 'video/quicktime', mp3: 'audio/mpeg', m4a: 'audio/mp4', ogg: 'audio/ogg', opus: 'audio/ogg',
  wav: 'audio/wav', flac: 'audio/flac', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg',
  gif: 'image/gif', webp: 'image/webp', svg: 'image/svg+xml', json: 'application/json',
  txt: 'text/plain', html: 'text/html', wasm: 'application/wasm', glb: 'model/gltf-binary',
  gltf: 'model/gltf+json', zip: 'application/zip', pdf: 'application/pdf',
};

function contentType(name) {
  const ext = name.includes('.') ? name.split('.').pop().toLowerCase() : '';
  return TYPES[ext] || 'application/octet-stream';
}

// ---- one call for a page's assets ------------------------------------------

let shared = null;

/** The page-wide client the widget and `fetch` use (created on first use). */
export function defaultClient(options) {
  if (!shared) shared = new Client(options || {});
  return shared;
}

/**
 * Fetches one file of a torrent as a `Response` that streams while it
 * downloads, from peers and the torrent's webseeds at once:
 * `const model = await (await webswarm.fetch(magnet, { path: 'model.glb' })).arrayBuffer()`.
 * Options: `path` (file path or name; default the first file), `webseeds`,
 * `trackers`, `storage`, `client`.
 */
export async function fetch(source, options = {}) {
  const client = options.client || defaultClient();
  await client.ready();
  const torrent = await addOnce(client, source, options);
  await torrent.ready();
  const file = pickFile(torrent, options.path);
  if (!file) throw new Error('no file ' + JSON.stringify(options.path) + ' in ' + torrent.name);
  return file.response();
}

const added = new WeakMap();

/** Adds `source` unless this client has it already (a page may ask twice). */
export async function addOnce(client, source, options = {}) {
  if (typeof source !== 'string' && !(source instanceof URL)) return client.add(source, options);
  const key = String(source);
  let bySource = added.get(client);
  if (!bySource) { bySource = new Map(); added.set(client, bySource); }
  const known = bySource.get(key);
  const t = known && await known.catch(() => null);
  if (t && !t._destroyed) return t;
  const p = client.add(source, options);
  bySource.set(key, p);
  p.catch(() => bySource.delete(key));
  return p;
}

export function pickFile(torrent, path) {
  const files = torrent.files;
  if (path === undefined || path === null || path === '') return files[0];
  return files.find((f) => f.path === path || f.name === path || f.path.endsWith('/' + path));
}
