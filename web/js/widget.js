// <webswarm-download>: a download button for one file of a torrent.
//   <script type="module" src="/webswarm/widget.js"></script>
//   <webswarm-download src="magnet:?xt=…" webseed="https://…/" file="big.iso"></webswarm-download>
// Attributes: src (magnet link or .torrent URL), webseed and trackers
// (space-separated URLs), file (path or name; default the first file),
// storage ("opfs" or "memory"), theme ("light" or "dark"; default: the
// system's), sources (present: a piece map coloured by where each piece came
// from, and the bytes from peers, native seeders and the webseed). Style it
// with --webswarm-accent, --webswarm-bg, --webswarm-fg, --webswarm-muted,
// --webswarm-radius, --webswarm-font, and --webswarm-peers, --webswarm-native,
// --webswarm-webseed for the sources.
import { defaultClient, addOnce, pickFile } from './index.js';

const STYLE = `
:host { display: block; max-width: 32rem; font: 14px/1.4 var(--webswarm-font, system-ui, sans-serif);
  --_accent: var(--webswarm-accent, #2563eb); --_bg: var(--webswarm-bg, #ffffff);
  --_fg: var(--webswarm-fg, #111827); --_muted: var(--webswarm-muted, #4b5563);
  --_track: var(--webswarm-track, #e5e7eb); --_error: var(--webswarm-error, #b91c1c); }
@media (prefers-color-scheme: dark) { :host(:not([theme=light])) {
  --_bg: var(--webswarm-bg, #111827); --_fg: var(--webswarm-fg, #f9fafb);
  --_muted: var(--webswarm-muted, #d1d5db); --_track: var(--webswarm-track, #374151);
  --_accent: var(--webswarm-accent, #60a5fa); --_error: var(--webswarm-error, #fca5a5); } }
:host([theme=dark]) { --_bg: var(--webswarm-bg, #111827); --_fg: var(--webswarm-fg, #f9fafb);
  --_muted: var(--webswarm-muted, #d1d5db); --_track: var(--webswarm-track, #374151);
  --_accent: var(--webswarm-accent, #60a5fa); --_error: var(--webswarm-error, #fca5a5); }
.box { background: var(--_bg); color: var(--_fg); border: 1px solid var(--_track);
  border-radius: var(--webswarm-radius, 10px); padding: 1rem; }
.head { display: flex; justify-content: space-between; gap: 1rem; font-weight: 600; }
.name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.size { color: var(--_muted); font-weight: 400; white-space: nowrap; }
.bar { height: .6rem; background: var(--_track); border-radius: 99px; margin: .75rem 0 .5rem; overflow: hidden; }
.fill { height: 100%; width: 0; background: var(--_accent); transition: width .2s; }
.stats { color: var(--_muted); font-size: 13px; min-height: 1.4em; }
.state { color: var(--_fg); font-weight: 600; }
.row { display: flex; gap: .5rem; margin-top: .75rem; }
button { font: inherit; border-radius: 6px; padding: .4rem .9rem; cursor: pointer;
  border: 1px solid var(--_accent); background: var(--_accent); color: var(--_bg); }
button.secondary { background: transparent; color: var(--_accent); }
button:disabled { opacity: .5; cursor: default; }
button:focus-visible { outline: 3px solid var(--_fg); outline-offset: 2px; }
.error { color: var(--_error); margin: .5rem 0 0; }
`;

const STATES = {
  loading: 'Loading', peers: 'Finding peers', downloading: 'Downloading',
  verifying: 'Verifying', paused: 'Paused', done: 'Done', error: 'Error',
};

export class WebswarmDownload extends HTMLElement {
  static get observedAttributes() { return ['src']; }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = `<style>${STYLE}</style>
      <div class="box" part="box" role="group">
        <div class="head"><span class="name" part="name">…</span><span class="size" part="size"></span></div>
        <div class="bar" part="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0">
          <div class="fill" part="fill"></div></div>
        <div class="stats" part="stats" aria-live="polite"><span class="state"></span> <span class="detail"></span></div>
        <div class="row"><button class="save" part="save" disabled>Save</button>
          <button class="pause secondary" part="pause" disabled>Pause</button></div>
        <p class="error" part="error" role="alert" hidden></p>
      </div>`;
    this._el = (c) => root.querySelector(c);
    this._el('.save').addEventListener('click', () => this.save());
    this._el('.pause').addEventListener('click', () => this._togglePause());
    this.torrent = null;
    this.file = null;
    this._timer = null;
    this._error = null;
    this._started = 0;
  }

  connectedCallback() { if (!this.torrent) this._start(); }

  disconnectedCallback() { clearInterval(this._timer); this._timer = null; }

  attributeChangedCallback(name, old, value) {
    if (name === 'src' && old !== null && old !== value && this.isConnected) this._start();
  }

  /** The widget's state: loading, peers, downloading, verifying, paused, done or error. */
  get state() { return this.dataset.state || 'loading'; }

  async _start() {
    const src = this.getAttribute('src');
    if (!src) return this._fail('no src attribute: give a magnet link or a .torrent URL');
    // A new src replaces whatever the element showed before.
    clearInterval(this._timer);
    this._error = null;
    this._el('.error').hidden = true;
    this._setState('loading');
    this._started = performance.now();
    try {
      const words = (a) => (this.getAttribute(a) || '').split(/\s+/).filter(Boolean)
        .map((u) => new URL(u, location.href).href);
      const options = { webseeds: words('webseed'), trackers: words('trackers') };
      if (this.hasAttribute('storage')) options.storage = this.getAttribute('storage');
      const client = defaultClient();
      const source = src.startsWith('magnet:') ? src : new URL(src, location.href).href;
      const t = await addOnce(client, source, options);
      this.torrent = t;
      t.addEventListener('error', (e) => this._fail(e.detail));
      t.addEventListener('done', () => this._render());
      this._timer = setInterval(() => this._render(), 250);
      this._render();
      await t.ready();
      this.file = pickFile(t, this.getAttribute('file'));
      if (!this.file) return this._fail(`no file "${this.getAttribute('file')}" in ${t.name}`);
      for (const f of t.files) if (f !== this.file) f.deselect();
      this._render();
      this.dispatchEvent(new CustomEvent('webswarm-ready', { detail: t }));
    } catch (e) {
      this._fail(e && e.message ? e.message : String(e));
    }
  }

  _setState(s) {
    this.dataset.state = s;
    this._el('.state').textContent = STATES[s];
  }

  _fail(msg) {
    this._error = msg;
    this._setState('error');
    const p = this._el('.error');
    p.textContent = msg;
    p.hidden = false;
    this._el('.save').disabled = true;
  }

  _render() {
    const t = this.torrent;
    if (!t || this._error) return;
    const f = this.file;
    const name = f ? f.name : t.name;
    const total = f ? f.length : t.length;
    this._el('.name').textContent = name || 'Fetching metadata…';
    this._el('.size').textContent = total ? fmtBytes(total) : '';
    this._el('.box').setAttribute('aria-label', 'Download ' + (name || ''));
    const progress = t.progress;
    const pct = Math.floor(progress * 1000) / 10;
    this.dataset.progress = String(progress);
    const bar = this._el('.bar');
    bar.setAttribute('aria-valuenow', String(pct));
    bar.setAttribute('aria-valuetext', pct + '%');
    bar.setAttribute('aria-label', 'Download progress of ' + (name || 'the file'));
    this._el('.fill').style.width = pct + '%';
    let state;
    if (t.done) state = 'done';
    else if (t.paused) state = 'paused';
    else if (!t.length) state = 'peers';
    else if (t.downloaded >= t.length && progress < 1) state = 'verifying';
    else if (t.numPeers === 0 && t.downloadSpeed === 0) state = 'peers';
    else state = 'downloading';
    if (state !== this.dataset.state) {
      const was = this.dataset.state;
      this._setState(state);
      if (state === 'done' && was !== 'done') {
        this.dataset.seconds = ((performance.now() - this._started) / 1000).toFixed(2);
        this.dispatchEvent(new CustomEvent('webswarm-done', { detail: t }));
      }
    }
    const parts = [pct.toFixed(1) + '%'];
    if (state !== 'done') {
      const web = t.webseedSpeed;
      parts.push('↓ ' + fmtBytes(t.downloadSpeed) + '/s' + (web > 0 ? ' (' + fmtBytes(web) + '/s from the web)' : ''));
      if (total && t.downloadSpeed > 0) parts.push('ETA ' + fmtTime(total * (1 - progress) / t.downloadSpeed));
    }
    parts.push('↑ ' + fmtBytes(t.uploadSpeed) + '/s');
    parts.push(t.numPeers + (t.numPeers === 1 ? ' peer' : ' peers'));
    this._el('.detail').textContent = '· ' + parts.join(' · ');
    // The piece map lives in its own module: pages without it do not load it.
    if (this.hasAttribute('sources')) {
      this._sources ||= import('./sources.js').then((m) => new m.SourcesView(this._el('.box')));
      this._sources.then((v) => v.render(t));
    }
    const save = this._el('.save');
    save.disabled = state !== 'done';
    save.setAttribute('aria-label', 'Save ' + (name || 'file'));
    const pause = this._el('.pause');
    pause.disabled = state === 'done';
    pause.textContent = t.paused ? 'Resume' : 'Pause';
  }

  _togglePause() {
    const t = this.torrent;
    if (!t) return;
    if (t.paused) t.resume(); else t.pause();
    this._render();
  }

  /**
   * Streams the file to disk: through the File System Access picker where the
   * browser has it, else a download of the (disk-backed, with OPFS) Blob.
   */
  async save() {
    const f = this.file;
    if (!f || !this.torrent.done) return;
    if (window.showSaveFilePicker) {
      let handle;
      try {
        handle = await window.showSaveFilePicker({ suggestedName: f.name });
      } catch (e) {
        if (e.name === 'AbortError') return;
        throw e;
      }
      await f.stream().pipeTo(await handle.createWritable());
      return;
    }
    const url = URL.createObjectURL(await f.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = f.name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }
}

export function fmtBytes(n) {
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : String(Math.round(n))) + ' ' + u[i];
}

function fmtTime(s) {
  if (!isFinite(s)) return '–';
  if (s < 60) return Math.ceil(s) + ' s';
  const m = Math.floor(s / 60);
  return m < 60 ? m + ' min ' + Math.round(s % 60) + ' s' : Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}

if (!customElements.get('webswarm-download')) customElements.define('webswarm-download', WebswarmDownload);
