// webswarm-web: BitTorrent over WebRTC in the browser.
//
// The WebAssembly module (webswarm.wasm, built from web/src) holds core's
// torrent hosts and tracker client and decides everything; it imports
// nothing. This file is the browser side of it: it carries out the module's
// ops (data channels, WebSockets, OPFS, WebCrypto, fetch, timers), reports
// the results back, and offers the public API: Client, Torrent (an
// EventTarget), TorrentFile, fetch() and streaming through a service worker.
// The op encoding is defined in web/src/ops.rs.

const enc = new TextEncoder();
const dec = new TextDecoder();
const now = () => performance.now();
const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;
// WebTorrent's default STUN servers: a page on the open internet needs one
// to connect across NATs. Pass `iceServers` to use your own (or none).
const DEFAULT_ICE = [{ urls: ['stun:stun.l.google.com:19302', 'stun:global.stun.twilio.com:3478'] }];

let compiling = null;
const instances = new Set();

/** Compiles the wasm module once; every Client instantiates it. */
export function init(wasm) {
  if (!compiling) {
    compiling = (async () => {
      if (wasm instanceof WebAssembly.Module) return wasm;
      const r = await (wasm instanceof Response ? wasm : fetch(wasm || new URL('webswarm.wasm', import.meta.url)));
      if (!r.ok) throw new Error('cannot load webswarm.wasm: HTTP ' + r.status);
      // Compiled while it downloads, off the page's busy main thread (a
      // server must say application/wasm for that).
      if (/^application\/wasm/.test(r.headers.get('content-type'))) return WebAssembly.compileStreaming(r);
      return WebAssembly.compile(await r.arrayBuffer());
    })();
  }
  return compiling;
}

/** Bytes of wasm linear memory of the live clients (it never shrinks). */
export function wasmMemoryBytes() {
  let n = 0;
  for (const w of instances) n += w.memory.buffer.byteLength;
  return n;
}

function opt(o, key, check, what) {
  const v = o[key];
  if (v !== undefined && v !== null && !check(v)) throw new Error('option `' + key + '` must be ' + what);
  return v ?? undefined;
}
const count = (o, key) => opt(o, key, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
const words = (o, key) => {
  const v = opt(o, key, (x) => typeof x === 'string' || (Array.isArray(x) && x.every((s) => typeof s === 'string')),
    'a string or an array of strings');
  return v === undefined ? [] : [].concat(v);
};
const hasOpfs = () => !!(globalThis.navigator && navigator.storage && navigator.storage.getDirectory);
function storageKind(o, dflt) {
  const s = o.storage ?? dflt;
  if (s !== 'opfs' && s !== 'memory') throw new Error('option `storage` must be "opfs" or "memory", not ' + JSON.stringify(s));
  // No OPFS (old browser, some private modes): memory still works.
  return s === 'opfs' && !hasOpfs() ? 'memory' : s;
}

const message = (e) => (e && e.message) || String(e);
const storageError = (e) => (e && e.name === 'QuotaExceededError'
  ? `the browser's storage quota for this site is full (${message(e)}); free some space, or use storage: 'memory'`
  : message(e));
const sameBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const hex = (bytes) => Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join('');

export class Client {
  /** @param {import('./index').ClientOptions} [options] */
  constructor(options = {}) {
    const o = options;
    const max = count(o, 'maxConnections') ?? 100;
    const offers = count(o, 'offersPerAnnounce') ?? 5;
    const peers = count(o, 'maxPeersPerTorrent') ?? 50;
    this._gather = count(o, 'iceGatherTimeout') ?? 3000;
    this._connect = count(o, 'connectTimeout') ?? 20000;
    this._ice = opt(o, 'iceServers', Array.isArray, 'an array of RTCIceServer') ?? DEFAULT_ICE;
    // Relay candidates only: peers learn the TURN server's address, never ours.
    this._policy = opt(o, 'relayOnly', (v) => typeof v === 'boolean', 'true or false') ? 'relay' : 'all';
    this._turnUrl = opt(o, 'turnCredentials', (v) => typeof v === 'string' || v instanceof URL, 'a URL');
    this._fixedIce = this._ice;
    if (!this._turnUrl) this._checkRelay();
    this._storage = storageKind(o, 'opfs');
    const trackers = words(o, 'trackers');
    this._torrents = new Map();
    this._byId = new Map();
    this._rtc = new Map();
    this._ws = new Map();
    this._events = [];
    this._pumping = false;
    this._timer = 0;
    this._due = -1;
    this._full = [];
    this._ready = (async () => {
      if (this._turnUrl) await this._fetchTurn();
      const w = (this._w = (await WebAssembly.instantiate(await init(o.wasm), {})).exports);
      instances.add(w);
      for (const t of trackers) this._stage(1, t);
      const r = crypto.getRandomValues(new Uint32Array(2));
      w.setup((r[0] & 0x1fffff) * 2 ** 32 + r[1], Math.max(1, max), offers, Math.max(1, peers));
    })();
    // A failed load is reported by ready() and add(), not as an unhandled rejection.
    this._ready.catch(() => {});
  }

  _checkRelay() {
    if (this._policy === 'relay' && !this._ice.some((s) => [].concat(s.urls).some((u) => /^turns?:/.test(u)))) {
      throw new Error('option `relayOnly` needs a TURN server (a turn: or turns: URL) in `iceServers`');
    }
  }

  // Short-lived TURN credentials from the tracker (`/turn-credentials`), renewed at half their life.
  async _fetchTurn() {
    const r = await fetch(this._turnUrl, { cache: 'no-store' });
    if (!r.ok) throw new Error(`cannot get TURN credentials from ${this._turnUrl}: HTTP ${r.status}`);
    const c = await r.json();
    this._ice = [...this._fixedIce, ...c.iceServers];
    this._checkRelay();
    if (!this._stopped) this._turnTimer = setTimeout(() => this._fetchTurn().catch(() => {}), Math.max(30, c.ttl / 2) * 1000);
  }

  /** Resolves once the wasm module is loaded and the options were accepted. */
  ready() { return this._ready.then(() => this); }

  // ---- talking to the module ------------------------------------------------------------

  _put(x) {
    const b = typeof x === 'string' ? enc.encode(x) : x;
    const p = this._w.buf(b.length);
    new Uint8Array(this._w.memory.buffer, p, b.length).set(b);
  }
  _reply() { const w = this._w; return new Uint8Array(w.memory.buffer, w.reply_ptr(), w.reply_len()).slice(); }
  _replyText() { return dec.decode(this._reply()); }
  _stage(kind, x, n = 0) { this._put(x); this._w.stage(kind, n); }

  /** Calls the module (`input` first written, if given), then carries out its ops. */
  _call(name, args, input) {
    const w = this._w;
    if (!w) return;
    if (input !== undefined) this._put(input);
    const r = w[name](...args);
    if (!this._pumping) this._pump();
    return r;
  }

  _pump() {
    const w = this._w;
    this._pumping = true;
    try {
      do {
        // A view of the module's memory, not a copy: nothing in `_run` calls the module,
        // and the batch's sends go out (copied by the channel) before the next call.
        for (let n; (n = w.take(now())); ) {
          this._run(new Uint8Array(w.memory.buffer, w.taken_ptr(), n));
          this._flush();
        }
      } while (this._tellUnwritable());
    } finally {
      this._pumping = false;
    }
    this._arm(w.next_timer(now()));
    // Page code runs last, with nothing half done: it may call back in.
    const events = this._events.splice(0);
    for (const [t, type, detail] of events) {
      t.dispatchEvent(new CustomEvent(type, { detail: typeof detail === 'function' ? detail() : detail }));
    }
  }

  /** One timer for the module's next deadline, re-armed only when the deadline moves. */
  _arm(ms) {
    const due = ms < 0 ? -1 : Math.round(now() + ms);
    if (due === this._due && (this._timer || due < 0)) return;
    clearTimeout(this._timer);
    this._timer = 0;
    this._due = due;
    if (due >= 0) {
      this._timer = setTimeout(() => { this._timer = 0; this._call('tick', [now()]); }, Math.min(ms + 1, 2 ** 31 - 1));
    }
  }

  /** Carries out one batch of ops (see web/src/ops.rs). */
  _run(ops) {
    const dv = new DataView(ops.buffer, ops.byteOffset, ops.byteLength);
    let i = 0;
    const u32 = () => { i += 4; return dv.getUint32(i - 4, true); };
    const f64 = () => { i += 8; return dv.getFloat64(i - 8, true); };
    const bytes = () => { const n = u32(); i += n; return ops.subarray(i - n, i); };
    const str = () => dec.decode(bytes());
    const t = () => this._byId.get(u32()) || NONE;
    while (i < ops.length) {
      switch (ops[i++]) {
        case 1: this._send(u32(), bytes()); break;
        case 2: this._drop(u32()); break;
        case 3: { const x = t(); x._read(u32(), u32()); break; }
        case 4: { const x = t(); x._storeBlock(u32(), u32(), u32(), bytes()); break; }
        case 5: { const x = t(); x._check(u32(), bytes().slice()); break; }
        case 6: {
          const x = t(); const args = [u32(), u32(), u32()]; const len = u32(); const reqs = [];
          for (let n = u32(); n > 0; n--) reqs.push([str(), f64(), f64(), u32()]);
          x._fetch(args, len, reqs);
          break;
        }
        case 7: { const x = t(); x._open(bytes().slice()); break; }
        case 8: { const x = t(); x._save(bytes().slice()); break; }
        case 9: { const x = t(); x._note(u32(), u32(), u32(), str()); break; }
        case 10: this._wsOpen(u32(), str()); break;
        case 11: { const r = u32(); const ws = this._ws.get(r); this._ws.delete(r); if (ws) ws.close(); break; }
        case 12: { const ws = this._ws.get(u32()); const text = str(); if (ws && ws.readyState === 1) ws.send(text); break; }
        case 13: this._offer(u32()); break;
        case 14: this._answer(u32(), str()); break;
        case 15: this._accept(u32(), str()); break;
        default: throw new Error('webswarm: unknown op ' + ops[i - 1]);
      }
    }
  }

  _emit(t, type, detail) { this._events.push([t, type, detail]); }

  // ---- tracker sockets -----------------------------------------------------------------------

  _wsOpen(r, url) {
    let ws;
    const gone = () => { if (this._ws.get(r) === ws) { this._ws.delete(r); this._call('ws_closed', [now(), r]); } };
    try {
      ws = new WebSocket(url);
    } catch {
      queueMicrotask(() => this._call('ws_closed', [now(), r]));
      return;
    }
    this._ws.set(r, ws);
    ws.onopen = () => this._call('ws_opened', [now(), r]);
    ws.onmessage = (e) => { if (typeof e.data === 'string') this._call('ws_message', [now(), r], e.data); };
    ws.onclose = ws.onerror = gone;
  }

  // ---- WebRTC: one data channel per peer connection, full SDP (no trickle) as WebTorrent ----

  _pc(h, answering) {
    const c = { pc: new RTCPeerConnection({ iceServers: this._ice, iceTransportPolicy: this._policy }), dc: null, open: false, early: [], out: [], max: 65536,
      // On the answering side, what we send before the offerer's first message: Chromium's
      // offering side drops data that reaches it before it has taken our DCEP ACK (our
      // handshake was lost in 1 of 40 first connections). It only sends once open, so its
      // first message proves our data will be taken.
      held: answering ? [] : null };
    this._rtc.set(h, c);
    c.pc.onconnectionstatechange = () => {
      const s = c.pc.connectionState;
      if (s === 'failed' || s === 'closed') this._gone(h, c);
    };
    return c;
  }

  /** A channel's events; messages before the module knows the channel is open are kept. */
  _channel(h, c, dc) {
    c.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = LOW_WATER;
    dc.onmessage = (e) => {
      if (c.held) { const held = c.held; c.held = null; for (const b of held) this._sendNow(c, b); }
      const data = typeof e.data === 'string' ? enc.encode(e.data) : new Uint8Array(e.data);
      if (c.open) this._call('rtc_data', [now(), h], data); else c.early.push(data);
    };
    dc.onclose = () => this._gone(h, c);
    dc.onbufferedamountlow = () => this._call('rtc_writable', [now(), h, 1]);
  }

  /** Waits for the channel to open within the connect timeout. */
  _opened(c) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the connection did not open')), this._connect);
      const check = () => { if (c.dc && c.dc.readyState === 'open') { clearTimeout(timer); resolve(); } };
      c.wake = check;
      check();
    });
  }

  // The SDP goes out once it holds a UDP candidate of the last kind our ICE
  // servers can give (relay with a TURN server, else reflexive with a STUN
  // one, else host), not at 'complete': Chromium's last phase only adds TCP
  // host candidates, ~120 ms later. When every server has failed from every
  // local address (no DNS, no route: Chromium says so within milliseconds),
  // only host candidates can come. If that kind never comes, the old rule.
  async _gathered(pc) {
    const urls = this._ice.flatMap((s) => [].concat(s.urls));
    const kind = urls.reduce((k, u) => (/^turns?:/.test(u) ? 'relay' : k === 'host' && /^stun:/.test(u) ? 'srflx' : k), 'host');
    // The addresses each server failed from (redacted by the browser: two
    // addresses may look alike, never the reverse), against the SDP's UDP
    // host candidates.
    const failed = new Map();
    await new Promise((resolve) => {
      const check = () => {
        const sdp = pc.localDescription?.sdp || '';
        const hosts = new Set(sdp.match(/ udp \d+ \S+(?= \d+ typ host)/gi));
        const dead = hosts.size && urls.length && failed.size >= urls.length
          && [...failed.values()].every((from) => from.size >= hosts.size);
        if (pc.iceGatheringState === 'complete' || new RegExp(` udp .* typ ${dead ? 'host' : kind}`, 'i').test(sdp)) resolve();
      };
      setTimeout(resolve, this._gather);
      pc.addEventListener('icegatheringstatechange', check);
      pc.addEventListener('icecandidate', check);
      pc.addEventListener('icecandidateerror', (e) => {
        if (!failed.has(e.url)) failed.set(e.url, new Set());
        failed.get(e.url).add(e.address);
        check();
      });
      check();
    });
    // WebTorrent strips this line too: no candidate trickles after this SDP.
    return pc.localDescription.sdp.replace('a=ice-options:trickle\r\n', '');
  }

  async _offer(h) {
    const c = this._pc(h, false);
    const dc = c.pc.createDataChannel(hex(crypto.getRandomValues(new Uint8Array(20))));
    this._channel(h, c, dc);
    dc.onopen = () => c.wake && c.wake();
    let sdp = null;
    try {
      await c.pc.setLocalDescription(await c.pc.createOffer());
      sdp = await this._gathered(c.pc);
    } catch { /* reported as a failed offer */ }
    if (this._rtc.get(h) !== c) return;
    if (sdp === null) this._drop(h);
    this._call('offer_made', [now(), h, sdp === null ? 0 : 1], sdp ?? '');
  }

  async _accept(h, sdp) {
    const c = this._rtc.get(h);
    if (!c) return;
    try {
      await c.pc.setRemoteDescription({ type: 'answer', sdp });
      await this._opened(c);
      this._live(h, c);
    } catch {
      this._gone(h, c);
    }
  }

  async _answer(h, offer) {
    const c = this._pc(h, true);
    c.pc.ondatachannel = (e) => { this._channel(h, c, e.channel); e.channel.onopen = () => c.wake && c.wake(); c.wake && c.wake(); };
    let answered = false;
    try {
      await c.pc.setRemoteDescription({ type: 'offer', sdp: offer });
      await c.pc.setLocalDescription(await c.pc.createAnswer());
      const sdp = await this._gathered(c.pc);
      if (this._rtc.get(h) !== c) return;
      answered = true;
      this._call('answer_made', [h, 1], sdp);
      await this._opened(c);
      this._live(h, c);
    } catch {
      if (answered) this._gone(h, c);
      else if (this._rtc.get(h) === c) { this._drop(h); this._call('answer_made', [h, 0]); }
    }
  }

  /** The channel is open: the module takes it, then what arrived early. */
  _live(h, c) {
    if (this._rtc.get(h) !== c) return;
    c.open = true;
    const max = c.pc.sctp && c.pc.sctp.maxMessageSize;
    c.max = Math.min(max || 65536, 256 << 10);
    this._call('rtc_open', [now(), h]);
    for (const data of c.early.splice(0)) if (this._rtc.get(h) === c) this._call('rtc_data', [now(), h], data);
  }

  /** Closed by the remote or failed: the module is told once. */
  _gone(h, c) {
    if (this._rtc.get(h) !== c) return;
    this._drop(h);
    this._call('rtc_closed', [now(), h]);
  }

  /** Closed by us (the module forgot it already). */
  _drop(h) {
    const c = this._rtc.get(h);
    if (!c) return;
    this._rtc.delete(h);
    c.pc.onconnectionstatechange = null;
    if (c.dc) { c.dc.onclose = c.dc.onmessage = c.dc.onbufferedamountlow = null; c.dc.close(); }
    c.pc.close();
  }

  /** Bytes for a channel; one batch's bytes go out together at `_flush`. */
  _send(h, b) {
    const c = this._rtc.get(h);
    if (c) { c.out.push(b); this._dirty = true; }
  }

  /** Sends what the batch queued; channels now over their high-water mark are noted. */
  _flush() {
    if (!this._dirty) return;
    this._dirty = false;
    for (const [h, c] of this._rtc) {
      if (!c.out.length) continue;
      const parts = c.out.splice(0);
      const all = parts.length === 1 ? parts[0] : concat(parts);
      if (c.held) { c.held.push(all.slice()); c.heldBytes = (c.heldBytes || 0) + all.length; }
      else this._sendNow(c, all);
      if ((c.held ? c.heldBytes : c.dc.bufferedAmount) > HIGH_WATER) this._full.push(h);
    }
  }

  /** Tells the module which channels are full; returns whether there were any. */
  _tellUnwritable() {
    const full = this._full.splice(0);
    for (const h of full) this._w.rtc_writable(now(), h, 0);
    return full.length > 0;
  }

  /** Sends in messages the remote takes (Chromium's data channels cost per message). */
  _sendNow(c, b) {
    try {
      for (let at = 0; at < b.length; at += c.max) c.dc.send(b.subarray(at, at + c.max));
    } catch { /* closing: its close event follows */ }
  }

  // ---- the public API ------------------------------------------------------------------------

  /**
   * Starts downloading. `source`: a magnet link, a hex info-hash, a .torrent
   * URL, or .torrent bytes. Options: `trackers`, `webseeds`, `storage`.
   * Resolves to the torrent at once; its metadata may come later.
   */
  async add(source, options = {}) {
    await this._ready;
    if (source instanceof URL) source = source.href;
    let text = null;
    let bytes = null;
    if (typeof source === 'string') {
      const s = source.trim();
      if (/^(https?:\/\/|\/)/.test(s)) bytes = await fetchBytes(s);
      else text = s;
    } else if (source instanceof ArrayBuffer) bytes = new Uint8Array(source);
    else if (ArrayBuffer.isView(source)) bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    // Anything else the module refuses with the message for a bad string.
    else text = String(source);
    const kind = storageKind(options, this._storage);
    const trackers = words(options, 'trackers');
    const webseeds = words(options, 'webseeds');
    const w = this._w;
    const probe = () => { this._put(text ?? bytes); if (!w.probe(text === null ? 0 : 1)) throw new Error(this._replyText()); return this._replyText(); };
    const hash = probe();
    if (this._torrents.has(hash)) throw new Error('this torrent is already added');
    const resume = kind === 'opfs' ? await loadResume(hash) : null;
    // Staging and start happen in one go: nothing else may stage in between.
    probe();
    if (resume) {
      if (resume.info) this._stage(3, resume.info);
      if (resume.have) this._stage(4, resume.have);
      for (const p of resume.pieces) this._stage(5, '', p);
    }
    for (const u of trackers) this._stage(1, u);
    for (const u of webseeds) this._stage(2, u);
    const id = w.start(now());
    if (!id) throw new Error(this._replyText());
    const t = this._register(id, kind, null, null);
    // Its worker starts while the torrent finds peers and metadata: blocks
    // arriving before storage opens wait in wasm memory.
    if (kind === 'opfs') (t._pre = new OpfsStore(hash)).open().catch(() => {});
    return t;
  }

  /**
   * Seeds a File, a Blob, or an array (or FileList) of them. Options: `name`,
   * `trackers`, `pieceLength`. Resolves once every piece is hashed.
   */
  async seed(files, options = {}) {
    await this._ready;
    const list = files instanceof Blob ? [files] : files && typeof files[Symbol.iterator] === 'function' ? [...files] : null;
    if (!list || !list.every((f) => f instanceof Blob)) throw new Error('seed takes a File, a Blob, or an array of them');
    if (!list.length) throw new Error('nothing to seed');
    const names = list.map((f, i) => f.name || 'file' + i);
    const name = typeof options.name === 'string' ? options.name : names[0];
    const pieceLength = count(options, 'pieceLength') ?? 0;
    const trackers = words(options, 'trackers');
    const w = this._w;
    const all = new Blob(list);
    const begin = () => {
      list.forEach((f, i) => this._stage(6, list.length === 1 ? '' : names[i], f.size));
      this._put(name);
      const l = w.create_begin(pieceLength);
      if (l < 0) throw new Error(this._replyText());
      return l;
    };
    const len = begin();
    const hashes = [];
    const read = (at) => all.slice(at, Math.min(at + len, all.size)).arrayBuffer();
    let next = all.size > 0 ? read(0) : null;
    for (let at = 0; next; at += len) {
      const buf = new Uint8Array(await next);
      next = at + len < all.size ? read(at + len) : null;
      hashes.push([await this._sha1(buf), buf.length]);
    }
    // Hashing awaited: the torrent is made in one go, nothing else may stage in between.
    begin();
    for (const [h, n] of hashes) {
      this._put(h);
      if (!w.create_piece(n)) throw new Error(this._replyText());
    }
    for (const u of trackers) this._stage(1, u);
    const id = w.create_finish(now());
    if (!id) throw new Error(this._replyText());
    return this._register(id, 'blob', this._reply(), new BlobStore(all, len));
  }

  _register(id, kind, torrentFile, store) {
    const t = new Torrent(this, id, kind, torrentFile, store);
    this._byId.set(id, t);
    this._torrents.set(t.infoHash, t);
    this._pump();
    return t;
  }

  async _sha1(data) {
    if (globalThis.crypto && crypto.subtle) {
      try { return new Uint8Array(await crypto.subtle.digest('SHA-1', data)); } catch { /* below */ }
    }
    // No WebCrypto (a page served over plain http from another host): the module's SHA-1,
    // after a microtask, so that it is never called from inside `_run`.
    await null;
    this._put(data);
    this._w.sha1();
    return this._reply();
  }

  /** The torrents added, in no particular order. */
  get torrents() { return [...this._torrents.values()]; }

  /** Each tracker socket: its URL, whether it is open, and its last error. */
  trackerStatus() {
    if (!this._w) return [];
    this._w.trackers();
    return JSON.parse(this._replyText());
  }

  /** Stops every torrent and closes the tracker sockets. */
  destroy() {
    if (!this._w) return;
    // The torrents are still known while the module stops them: their last records are saved.
    this._call('destroy', [now()]);
    for (const t of this._torrents.values()) t._gone();
    this._torrents.clear();
    this._byId.clear();
    clearTimeout(this._timer);
    clearTimeout(this._turnTimer);
    this._stopped = true;
    instances.delete(this._w);
    this._w = null;
  }
}

function concat(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const all = new Uint8Array(n);
  n = 0;
  for (const p of parts) { all.set(p, n); n += p.length; }
  return all;
}

async function fetchBytes(url) {
  let r;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new Error('fetching ' + url + ' failed: ' + message(e));
  }
  if (!r.ok) throw new Error('fetching ' + url + ' failed: HTTP ' + r.status + ' ' + r.statusText);
  return new Uint8Array(await r.arrayBuffer());
}

// ---- webseeds: HTTP ranges, at most 4 requests per host across the page -------------------------

const hosts = new Map();

async function turn(url) {
  const host = url.split('/').slice(0, 3).join('/');
  let h = hosts.get(host);
  if (!h) hosts.set(host, (h = { busy: 0, queue: [] }));
  if (h.busy < 4) h.busy++;
  else await new Promise((resolve) => h.queue.push(resolve));
  // The slot passes to the next waiter, or is given back.
  return () => { const next = h.queue.shift(); if (next) next(); else if (--h.busy === 0) hosts.delete(host); };
}

async function fetchRange(url, start, end) {
  const done = await turn(url);
  try {
    const want = end - start + 1;
    const r = await fetch(url, { headers: { Range: 'bytes=' + start + '-' + end }, signal: AbortSignal.timeout(30000) });
    // 200 is a server ignoring Range: usable only when the range is the whole body.
    const whole = r.status === 200 && start === 0 && Number(r.headers.get('content-length')) === want;
    if (r.status !== 206 && !whole) {
      if (r.body) r.body.cancel();
      throw new Error('HTTP ' + r.status);
    }
    const b = new Uint8Array(await r.arrayBuffer());
    if (b.length !== want) throw new Error(b.length + ' bytes for a ' + want + '-byte range');
    return b;
  } finally {
    done();
  }
}

// ---- storage: verified pieces only -------------------------------------------------------------

/** Verified pieces kept as JS buffers, outside wasm memory (which never shrinks). */
class MemoryStore {
  constructor() { this.p = new Map(); }
  async read(i) {
    const b = this.p.get(i);
    if (!b) throw new Error('piece ' + i + ' is not stored');
    return b;
  }
  async write(i, b) { this.p.set(i, b); }
  part(i) { return this.read(i); }
  async saveHave() {}
  async remove() { this.p.clear(); }
}

/** Seeding straight from the page's files: pieces are slices of them, nothing is copied. */
class BlobStore {
  constructor(blob, pieceLength) { this.b = blob; this.l = pieceLength; }
  async part(i) { return this.b.slice(i * this.l, Math.min((i + 1) * this.l, this.b.size)); }
  async read(i) { return new Uint8Array(await (await this.part(i)).arrayBuffer()); }
  async write() { throw new Error('seeded files are read-only'); }
  async saveHave() {}
  async remove() {}
}

// The Origin Private File System: each torrent gets webswarm/<info-hash>/ holding its info
// dictionary (info), the verified-piece record (have), every piece in one file (data, piece i at
// i * piece length; bytes past its end are gone, as a cut file's would be) and a journal
// (journal: the u32 LE indices of the pieces written into data, with marks; see opfsWorker). A
// worker holds sync access handles on data and journal, so a piece write is one call: a file per
// piece made and committed through createWritable cost the browser 1.1-2.1 s more CPU per 64 MiB
// of 64 KiB pieces than the memory store (bench/ceiling.mjs). A resume trusts a recorded piece
// only if the journal lists it before its last mark, and hashes the journal's others first.

async function opfsDir(hash, create) {
  const root = await navigator.storage.getDirectory();
  const ours = await root.getDirectoryHandle('webswarm', { create });
  return ours.getDirectoryHandle(hash, { create });
}

async function writeFile(dir, name, data) {
  const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
  await w.write(data);
  await w.close();
}

async function readFile(dir, name) {
  return new Uint8Array(await (await (await dir.getFileHandle(name)).getFile()).arrayBuffer());
}

// The worker's side (its source is this function's: terser minifies it with the rest). Requests
// run one at a time in arrival order. A piece's index goes into the journal as soon as its bytes are
// written, so a crash of the page or the browser loses nothing written; every 100 ms the data is
// flushed, then a mark (0xffffffff) goes in: after a power loss only the pieces listed before the
// last mark are sure to be on disk, and a resume hashes the others before they count.
function opfsWorker() {
  let d, j, at = 0, dirty = false, timer = 0, q = Promise.resolve();
  const u32 = (xs) => {
    const v = new DataView(new ArrayBuffer(xs.length * 4));
    xs.forEach((x, k) => v.setUint32(k * 4, x, true));
    return v;
  };
  // A short write would shift every later entry: it fails instead.
  const note = (xs) => {
    const v = u32(xs);
    if (j.write(v, { at }) !== v.byteLength) throw new DOMException('no room for the journal', 'QuotaExceededError');
    at += v.byteLength;
  };
  const flush = () => {
    clearTimeout(timer);
    timer = 0;
    if (!dirty) return;
    dirty = false;
    d.flush();
    note([0xffffffff]);
    j.flush();
  };
  const open = async (hash) => {
    const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('webswarm', { create: true })).getDirectoryHandle(hash, { create: true });
    const handle = async (name) => {
      const f = await dir.getFileHandle(name, { create: true });
      // Another page of this site may still be closing the torrent.
      for (let tries = 0; ; tries++) {
        try { return await f.createSyncAccessHandle(); } catch (e) {
          if (e.name !== 'NoModificationAllowedError' || tries >= 20) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    d = await handle('data');
    j = await handle('journal');
    const old = new Uint8Array(j.getSize() & ~3);
    j.read(old, { at: 0 });
    const v = new DataView(old.buffer);
    const list = [];
    for (let k = 0; k < old.length; k += 4) list.push(v.getUint32(k, true));
    at = old.length;
    // Pieces written again were listed again: each once, the sure ones first.
    const last = list.lastIndexOf(0xffffffff);
    const sure = new Set(list.slice(0, last + 1));
    sure.delete(0xffffffff);
    const rest = new Set(list.slice(last + 1).filter((p) => !sure.has(p)));
    if (list.length > 2 * (sure.size + rest.size) + 2) {
      at = j.write(u32([...sure, 0xffffffff, ...rest]), { at: 0 });
      j.truncate(at);
      j.flush();
    }
  };
  const run = async (m) => {
    switch (m.op) {
      case 'open': await open(m.hash); return {};
      case 'write':
        if (d.write(m.buf, { at: m.at }) !== m.buf.length) throw new DOMException('no room for piece ' + m.piece, 'QuotaExceededError');
        note([m.piece]);
        dirty = true;
        timer ||= setTimeout(flush, 100);
        return {};
      case 'read': {
        const buf = new Uint8Array(m.len);
        if (d.read(buf, { at: m.at }) < m.len) throw new DOMException('piece ' + m.piece + ' is not stored', 'NotFoundError');
        return { buf };
      }
      case 'close': if (d) { flush(); d.close(); j.close(); d = j = null; } return {};
    }
  };
  self.onmessage = ({ data: m }) => {
    q = q.then(() => run(m)).then(
      (r) => postMessage({ id: m.id, ...r }, r.buf ? [r.buf.buffer] : []),
      (e) => postMessage({ id: m.id, name: (e && e.name) || 'Error', message: String((e && e.message) || e) }));
  };
}

class OpfsStore {
  /** `size` and `pl` (piece length) are set when the torrent's metadata is known. */
  constructor(hash) {
    this.h = hash;
    this.size = 0;
    this.pl = 1;
    this.w = null;
    this.next = 1;
    // Closed for good (the torrent is gone): nothing reopens the files.
    this.done = false;
  }

  /** Starts the worker, which opens the files. */
  open() {
    if (!this.w) {
      let w;
      try {
        w = this.w = new Worker(URL.createObjectURL(new Blob([`(${opfsWorker})()`], { type: 'text/javascript' })));
      } catch (e) {
        return (this.opened = Promise.reject(e));
      }
      w.calls = new Map();
      w.onmessage = ({ data: r }) => {
        const [resolve, reject] = w.calls.get(r.id);
        w.calls.delete(r.id);
        if (r.name !== undefined) reject(new DOMException(r.message, r.name));
        else resolve(r.buf);
      };
      this.opened = this._ask({ op: 'open', hash: this.h });
    }
    return this.opened;
  }

  /** A request to the worker, which is started on first use. */
  _ask(m) {
    if (this.done) return Promise.reject(new DOMException('the torrent was closed', 'AbortError'));
    if (!this.w) this.open();
    const w = this.w;
    if (!w) return this.opened;
    const id = this.next++;
    return new Promise((resolve, reject) => {
      w.calls.set(id, [resolve, reject]);
      w.postMessage({ ...m, id });
    });
  }

  _at(i) { return { piece: i, at: i * this.pl, len: Math.min(this.pl, this.size - i * this.pl) }; }
  read(i) { return this._ask({ op: 'read', ...this._at(i) }); }
  write(i, b) { return this._ask({ op: 'write', piece: i, at: i * this.pl, buf: b }); }

  /** Disk-backed where the browser lets a page read the file beside the worker's handle. */
  async part(i) {
    const { at, len } = this._at(i);
    let f;
    try {
      f = await (await (await opfsDir(this.h, false)).getFileHandle('data')).getFile();
    } catch { /* below */ }
    if (f && f.size >= at + len) return f.slice(at, at + len);
    if (this.done) throw new DOMException('piece ' + i + ' is not stored', 'NotFoundError');
    return this.read(i);
  }

  async saveHave(bits) { return writeFile(await opfsDir(this.h, true), 'have', bits); }

  /** Flushes the journal and lets go of the files (another page may open them), for good. */
  close() {
    const w = this.w;
    if (!w || this.done) return this.closing;
    // Answered after everything asked before it.
    const closed = this._ask({ op: 'close' }).catch(() => {});
    this.w = null;
    this.done = true;
    this.closing = Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]).then(() => {
      w.terminate();
      for (const [, reject] of w.calls.values()) reject(new DOMException('the torrent was closed', 'AbortError'));
    });
    return this.closing;
  }

  async remove() {
    await this.close();
    this.done = true;
    let ours;
    try {
      ours = await (await navigator.storage.getDirectory()).getDirectoryHandle('webswarm');
    } catch {
      return;
    }
    // Writes still in flight (the bitfield) keep files open and removal fails while they are:
    // wait for them, up to a few seconds.
    for (let tries = 0; ; tries++) {
      try {
        return await ours.removeEntry(this.h, { recursive: true });
      } catch (e) {
        if (e && e.name === 'NotFoundError') return;
        const busy = e && (e.name === 'NoModificationAllowedError' || e.name === 'InvalidModificationError');
        if (!busy || tries >= 60) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}

/** A torrent another page holds open in OPFS: its pieces are read from the file, new ones kept in memory. */
class SharedStore extends MemoryStore {
  constructor(opfs) { super(); this.o = opfs; }
  async part(i) { return this.p.get(i) || this.o.part(i); }
  async read(i) { return this.p.get(i) || new Uint8Array(await (await this.part(i)).arrayBuffer()); }
}

/**
 * What OPFS remembers of a torrent: its info dictionary, record and journal of written pieces.
 * Pieces listed after the journal's last mark are dropped from the record, so they are hashed
 * before they count (see opfsWorker).
 */
async function loadResume(hash) {
  try {
    const dir = await opfsDir(hash, false);
    const info = await readFile(dir, 'info').catch(() => null);
    const have = await readFile(dir, 'have').catch(() => null);
    const j = await readFile(dir, 'journal').catch(() => new Uint8Array(0));
    const v = new DataView(j.buffer);
    const list = [];
    for (let at = 0; at + 4 <= j.length; at += 4) list.push(v.getUint32(at, true));
    const pieces = new Set(list);
    pieces.delete(0xffffffff);
    let cleared = false;
    for (const p of list.slice(list.lastIndexOf(0xffffffff) + 1)) {
      const bit = 0x80 >> (p & 7);
      if (have && have[p >> 3] & bit) { have[p >> 3] &= ~bit; cleared = true; }
    }
    // On disk too, before the download appends a mark: after that mark these
    // pieces (perhaps never written, if the power went) would be listed before
    // the last one while the old record still claimed them, and a crash before
    // the next record would have them trusted.
    if (cleared) await writeFile(dir, 'have', have).catch(() => {});
    return { info, have, pieces };
  } catch {
    return null;
  }
}

// ---- torrents -------------------------------------------------------------------------------

const NONE = { _read() {}, _storeBlock() {}, _check() {}, _fetch() {}, _open() {}, _save() {}, _note() {} };
const STATS = ['progress', 'downloaded', 'uploaded', 'downloadSpeed', 'uploadSpeed', 'webseedSpeed', 'numPeers',
  'numWebseeds', 'banned', 'firstPiece', 'done', 'paused', 'ready'];

export class Torrent extends EventTarget {
  constructor(client, id, kind, torrentFile, store) {
    super();
    this._c = client;
    this._id = id;
    this._kind = kind;
    this._torrentFile = torrentFile;
    this._store = store;
    this._assembling = new Map();
    this._waiters = new Map();
    this._readyWaiters = [];
    this._peers = 0;
    this._meta = null;
    this._files = null;
    this._stats = {};
    this._error = undefined;
    this._destroyed = false;
    // Where pieces came from: notes wait in `_srcNotes` until the page first
    // asks (the map is built from the module, which `_run` may not call).
    this._srcNotes = new Map();
    this._srcMap = null;
    this._writing = new Map();
  }

  /** `torrent.on('done', fn)`: a shorthand for addEventListener with the detail. */
  on(type, fn) { this.addEventListener(type, (e) => fn(e.detail)); return this; }

  _m() {
    if (!this._meta || this._meta.name === null) {
      const w = this._c._w;
      if (!this._destroyed && w && w.meta(this._id)) this._meta = JSON.parse(this._c._replyText());
    }
    return this._meta;
  }

  _s() {
    const w = this._c._w;
    if (!this._destroyed && w && w.stats(now(), this._id)) {
      const v = new Float64Array(w.memory.buffer, w.stats_ptr(), STATS.length);
      STATS.forEach((k, i) => { this._stats[k] = v[i]; });
    }
    return this._stats;
  }

  get infoHash() { return this._m().infoHash; }
  get magnetURI() { return this._m().magnet; }
  get peerId() { return this._m().peerId; }
  get torrentFile() { return this._torrentFile || undefined; }
  get name() { return this._m().name; }
  get length() { return this._m().length; }
  get pieceLength() { return this._m().pieceLength; }
  get progress() { return this._s().progress; }
  get done() { return !!this._s().done; }
  get paused() { return !!this._s().paused; }
  get downloaded() { return this._s().downloaded; }
  get uploaded() { return this._s().uploaded; }
  get downloadSpeed() { return this._s().downloadSpeed; }
  get uploadSpeed() { return this._s().uploadSpeed; }
  get webseedSpeed() { return this._s().webseedSpeed; }
  get numPeers() { return this._s().numPeers; }
  get numWebseeds() { return this._s().numWebseeds; }
  get banned() { return this._s().banned; }
  get timeToFirstPiece() { const f = this._s().firstPiece; return f >= 0 ? f : undefined; }
  get error() { return this._error; }

  /**
   * Where each piece came from, one byte per piece: 0 missing, 1 stored before
   * (resumed or seeded), 2 a peer, 3 a native seeder, 4 a webseed (the
   * site's origin). `null` until the metadata is known.
   */
  get pieceSources() {
    const m = this._m();
    const w = this._c._w;
    if (!this._srcMap && m && m.length !== null && w && !this._destroyed) {
      const map = (this._srcMap = new Uint8Array(Math.ceil(m.length / m.pieceLength)));
      for (let p = 0; p < map.length; p++) map[p] = this._srcNotes.get(p) || w.has(this._id, p);
      this._srcNotes = null;
    }
    return this._srcMap;
  }

  /** Verified bytes by where they came from (see `pieceSources`). */
  get sources() {
    const m = this._meta;
    const b = [0, 0, 0, 0, 0];
    (this.pieceSources || []).forEach((v, p) => { b[v] += Math.min(m.pieceLength, m.length - p * m.pieceLength); });
    return { stored: b[1], peers: b[2], native: b[3], webseed: b[4] };
  }

  /** `[]` until the metadata is known; see `ready()`. */
  get files() {
    if (!this._files) {
      const m = this._m();
      if (m.name === null) return [];
      this._files = m.files.map((f, i) => new TorrentFile(this, i, f));
    }
    return this._files;
  }

  /** Resolves when the metadata is known and storage is open (at once for seeds). */
  ready() {
    if (this._destroyed) return Promise.reject(new Error('the torrent was destroyed'));
    if (this._s().ready) return Promise.resolve(this);
    return new Promise((resolve, reject) => this._readyWaiters.push([resolve, reject]));
  }

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

  _select(i, wanted) { this._c._call('select', [now(), this._id, i, wanted ? 1 : 0]); }
  pause() { this._c._call('pause', [now(), this._id]); }
  resume() { this._c._call('resume', [now(), this._id]); }

  /** Leaves the swarm; `{removeStorage: true}` also deletes stored pieces. */
  async destroy(options = {}) {
    if (this._destroyed) return;
    const remove = !!options.removeStorage;
    this._s();
    this._c._call('stop', [now(), this._id, remove ? 0 : 1]);
    this._c._torrents.delete(this.infoHash);
    this._c._byId.delete(this._id);
    this._gone();
    const store = this._store || this._pre || (this._kind === 'opfs' && new OpfsStore(this.infoHash));
    if (remove && store) await store.remove();
  }

  _gone() {
    this._destroyed = true;
    const err = new Error('the torrent was destroyed');
    for (const [, reject] of this._readyWaiters.splice(0)) reject(err);
    for (const list of this._waiters.values()) for (const [, reject] of list) reject(err);
    this._waiters.clear();
    this._assembling.clear();
    const store = this._store || this._pre;
    if (store && store.close) store.close();
  }

  // ---- what the module asks of a torrent -------------------------------------------------------

  /** Answers the module; never from inside `_run` (which must not call it), so after a microtask. */
  _answer(name, args, input) {
    queueMicrotask(() => { if (!this._destroyed) this._c._call(name, [now(), this._id, ...args], input); });
  }

  async _open(info) {
    try {
      if (this._kind === 'opfs') {
        const dir = await opfsDir(this.infoHash, true);
        const m = this._m();
        let store = this._pre || new OpfsStore(this.infoHash);
        store.size = m.length;
        store.pl = m.pieceLength;
        try {
          await store.open();
          // Written beside the first pieces, not before them: a record without
          // its info is not trusted, and a failure stops the download.
          writeFile(dir, 'info', info).catch((e) => this._answer('storage_failed', [], storageError(e)));
        } catch (e) {
          // A page whose CSP forbids blob: workers, a browser without sync
          // access handles: the download goes on in memory.
          store.close();
          const shared = e && e.name === 'NoModificationAllowedError';
          this._c._emit(this, 'warning', shared
            ? 'another page of this site is writing this torrent into OPFS: this page reads what it stored and keeps new pieces in memory'
            : `cannot write into OPFS (${message(e)}): this page keeps the pieces in memory`);
          store = shared ? new SharedStore(store) : new MemoryStore();
        }
        this._store = store;
      } else this._store = new MemoryStore();
      this._answer('opened', [1]);
    } catch (e) {
      this._answer('opened', [0], storageError(e));
    }
  }

  async _read(piece) {
    try {
      const b = await this._get(piece);
      this._answer('piece_read', [piece, 1], b);
    } catch (e) {
      // Gone (the browser evicted it, or the user cleared site data): it is
      // downloaded again. Any other failure is reported and the piece kept.
      if (e && e.name === 'NotFoundError') this._answer('piece_read', [piece, 2]);
      else this._answer('piece_read', [piece, 0], message(e));
    }
  }

  _storeBlock(piece, size, offset, b) {
    let buf = this._assembling.get(piece);
    if (!buf) this._assembling.set(piece, (buf = new Uint8Array(size)));
    if (offset + b.length <= size) buf.set(b, offset);
  }

  /** Hashes a piece just received (then stores it) or one already stored (a recheck). */
  async _check(piece, hash) {
    const fresh = this._assembling.get(piece);
    this._assembling.delete(piece);
    let buf = fresh;
    try {
      buf = buf || await this._store.read(piece);
    } catch {
      return this._answer('checked', [piece, 0]);
    }
    const ok = sameBytes(await this._c._sha1(buf), hash);
    if (ok && fresh) {
      // A few writes may still be in flight when the piece counts as verified
      // (an OPFS write takes ~20 ms: a stream should not wait for it); reads
      // take it from memory meanwhile. A failed write stops the download, and
      // the resume record counts only pieces whose file exists.
      const write = this._store.write(piece, buf).then(() => this._writing.delete(piece), (e) => {
        // Not kept, so not verified: what the page counts is what a resume finds.
        this._writing.delete(piece);
        this._answer('piece_read', [piece, 2]);
        // Not the peers' fault: the download stops with the reason.
        this._answer('storage_failed', [], storageError(e));
        throw e;
      });
      this._writing.set(piece, buf);
      if (this._writing.size > 4) {
        try { await write; } catch { return; }
      } else write.catch(() => {});
    }
    this._answer('checked', [piece, ok ? 1 : 0]);
  }

  /** A verified piece: in memory while its write is in flight, else from the store. */
  _get(p) { return this._writing.get(p) || this._store.read(p); }

  async _save(bits) {
    try {
      await this._store.saveHave(bits);
      this._answer('saved', [1]);
    } catch (e) {
      this._answer('saved', [0], message(e));
    }
  }

  async _fetch([webseed, piece, offset], len, reqs) {
    const buf = new Uint8Array(len);
    try {
      for (const [url, start, end, dest] of reqs) buf.set(await fetchRange(url, start, end), dest);
      this._answer('fetched', [webseed, piece, offset, 1], buf);
    } catch (e) {
      this._answer('fetched', [webseed, piece, offset, 0], message(e));
    }
  }

  _note(kind, n, from, text) {
    const emit = (type, detail) => this._c._emit(this, type, detail);
    switch (kind) {
      case 1:
        for (const [resolve] of this._readyWaiters.splice(0)) resolve(this);
        emit('metadata');
        break;
      case 2:
        if (n !== this._peers) emit(n > this._peers ? 'peer-connected' : 'peer-disconnected', n);
        this._peers = n;
        break;
      case 3:
        for (const [resolve] of this._waiters.get(n) || []) resolve();
        this._waiters.delete(n);
        if (this._srcMap) this._srcMap[n] = from; else this._srcNotes.set(n, from);
        emit('verified', n);
        // Read when dispatched: `_run` never calls the module.
        emit('progress', () => this.progress);
        break;
      case 4: emit('done'); break;
      case 5: emit('warning', text); break;
      case 6: this._error = text; emit('error', text); break;
    }
  }

  /** Resolves once piece `p` is verified and stored. */
  _piece(p) {
    const w = this._c._w;
    if (this._destroyed) return Promise.reject(new Error('the torrent was destroyed'));
    if (w.has(this._id, p)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (!this._waiters.has(p)) this._waiters.set(p, []);
      this._waiters.get(p).push([resolve, reject]);
    });
  }

  /** The pieces covering `[start, end)`, with the range clamped to the torrent. */
  _range(start, end) {
    const m = this._m();
    if (m.length === null) throw new Error("the torrent's metadata is not known yet: await ready()");
    if (!(start >= 0 && end >= start)) throw new Error('read needs 0 <= start <= end');
    const s = Math.min(start, m.length);
    const e = Math.min(end, m.length);
    const pl = m.pieceLength;
    const pieces = [];
    for (let p = Math.floor(s / pl); p * pl < e; p++) pieces.push(p);
    return { s, e, pl, pieces };
  }

  /** Bytes `[start, end)`, waiting for their pieces and moving them to the front (streaming). */
  async _readRange(start, end) {
    const { s, e, pl, pieces } = this._range(start, end);
    this._c._call('want', [now(), this._id, s, e]);
    const out = new Uint8Array(e - s);
    for (const p of pieces) {
      await this._piece(p);
      const data = await this._get(p);
      const from = Math.max(s, p * pl);
      const to = Math.min(e, p * pl + data.length);
      if (from < to) out.set(data.subarray(from - p * pl, to - p * pl), from - s);
    }
    return out;
  }

  /** Blob parts covering `[start, end)` (disk-backed with OPFS): `new Blob(parts)` costs no memory. */
  async _blobParts(start, end) {
    const { s, e, pl, pieces } = this._range(start, end);
    const parts = [];
    for (const p of pieces) {
      await this._piece(p);
      const part = this._writing.get(p) || await this._store.part(p);
      const len = part.size ?? part.length;
      const from = Math.max(s, p * pl) - p * pl;
      const to = Math.min(e, p * pl + len) - p * pl;
      parts.push(from === 0 && to === len ? part : part.slice ? part.slice(from, to) : part.subarray(from, to));
    }
    return parts;
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

  select() { this._t._select(this.index, true); }
  deselect() { this._t._select(this.index, false); }

  /** The whole file once downloaded. With OPFS the Blob is disk-backed. */
  async blob(options = {}) {
    const parts = await this._t._blobParts(this.offset, this.offset + this.length);
    return new Blob(parts, { type: options.type || '' });
  }

  async arrayBuffer() {
    return (await this._t._readRange(this.offset, this.offset + this.length)).buffer;
  }

  /**
   * A URL a `<video>`, `<audio>` or `<img>` can load while the file downloads,
   * with seeking: served by the service worker (see `registerServiceWorker`).
   */
  streamURL() {
    if (!swScope) throw new Error('call registerServiceWorker() first: streaming URLs are served by it');
    const id = this._t.infoHash + '/' + this.index;
    streamFiles.set(id, this);
    this._sendStart(id);
    return swScope + 'webswarm-stream/' + id + '/' + encodeURIComponent(this.name);
  }

  /**
   * A player reads the start first (headers, the first key frame): it is asked
   * for now, and handed to the service worker as it is verified, so the
   * player's request needs no round trip through this busy main thread.
   */
  async _sendStart(id) {
    const t = this._t;
    const sw = navigator.serviceWorker.controller;
    const end = Math.min(this.length, 1 << 20);
    if (!sw || t._destroyed) return;
    t._c._call('want', [now(), t._id, this.offset, this.offset + end]);
    sw.postMessage({ webswarm: 'start', id, length: this.length, type: contentType(this.name), end });
    const pl = t.pieceLength;
    try {
      for (let pos = 0; pos < end;) {
        const next = Math.min(pos + pl - ((this.offset + pos) % pl), end);
        const bytes = await t._readRange(this.offset + pos, this.offset + next);
        sw.postMessage({ webswarm: 'start', id, start: pos, bytes }, [bytes.buffer]);
        pos = next;
      }
    } catch {
      // Destroyed, or the metadata is gone: the worker stops waiting.
      sw.postMessage({ webswarm: 'start', id, failed: true });
    }
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
        const bytes = await t._readRange(this.offset + pos, this.offset + next);
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
      port.postMessage({ error: message(e) });
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
async function fetchFile(source, options = {}) {
  const client = options.client || defaultClient();
  await client.ready();
  const torrent = await addOnce(client, source, options);
  await torrent.ready();
  const file = pickFile(torrent, options.path);
  if (!file) throw new Error('no file ' + JSON.stringify(options.path) + ' in ' + torrent.name);
  return file.response();
}
export { fetchFile as fetch };

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
