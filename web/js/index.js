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
