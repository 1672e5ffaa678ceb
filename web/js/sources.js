// The <webswarm-download sources> view: the file as a strip of pieces coloured
// by where each came from, and the bytes from peers, native seeders and the
// webseed (the site's origin). Loaded by widget.js only when asked for.
import { fmtBytes } from './widget.js';

const STYLE = `
.sources { --_c1: var(--_muted); --_c2: var(--webswarm-peers, #16a34a);
  --_c3: var(--webswarm-native, #7c3aed); --_c4: var(--webswarm-webseed, #ea580c); margin-top: .5rem; }
.map { display: block; width: 100%; height: .6rem; border-radius: 3px; background: var(--_track); }
.legend { display: flex; flex-wrap: wrap; gap: .25rem 1rem; color: var(--_muted); font-size: 13px; margin-top: .35rem; }
.legend i { display: inline-block; width: .7em; height: .7em; border-radius: 2px; margin-right: .3em; }
`;

// By `Torrent.pieceSources` value: [value, key of `Torrent.sources`, label].
const SOURCES = [[2, 'peers', 'Peers'], [3, 'native', 'Native seeders'], [4, 'webseed', 'Web server'],
  [1, 'stored', 'Already here']];

export class SourcesView {
  /** Adds the view to the widget's `.box`. */
  constructor(box) {
    const style = document.createElement('style');
    style.textContent = STYLE;
    this.el = document.createElement('div');
    this.el.className = 'sources';
    this.el.setAttribute('part', 'sources');
    this.el.innerHTML = `<canvas class="map" part="map" height="1" role="img"
      aria-label="Pieces by where they came from"></canvas><div class="legend">${SOURCES.map(([v, k, label]) =>
      `<span data-source="${k}"><i style="background: var(--_c${v})"></i>${label} <b></b></span>`).join('')}</div>`;
    box.before(style);
    box.querySelector('.row').before(this.el);
  }

  render(torrent) {
    const map = torrent.pieceSources;
    this.el.hidden = !map;
    if (!map) return;
    const bytes = torrent.sources;
    const got = bytes.peers + bytes.native + bytes.webseed;
    for (const [, k] of SOURCES) {
      const el = this.el.querySelector(`[data-source=${k}]`);
      el.dataset.bytes = String(bytes[k]);
      el.hidden = k === 'stored' && !bytes.stored;
      const pct = got && k !== 'stored' ? ' (' + Math.round(100 * bytes[k] / got) + ' %)' : '';
      el.querySelector('b').textContent = fmtBytes(bytes[k]) + pct;
    }
    this._draw(map);
  }

  _draw(map) {
    const canvas = this.el.querySelector('canvas');
    const width = Math.max(1, Math.round(canvas.clientWidth * (window.devicePixelRatio || 1)));
    if (canvas.width !== width) canvas.width = width;
    const css = getComputedStyle(this.el);
    const colors = [0, 1, 2, 3, 4].map((v) => css.getPropertyValue(v ? '--_c' + v : '--_track').trim());
    const ctx = canvas.getContext('2d');
    const n = map.length;
    // A column shows the most common source among its pieces (many pieces to
    // a column in a big file, many columns to a piece in a small one).
    for (let x = 0; x < width; x++) {
      const from = Math.floor(x * n / width);
      const to = Math.max(from + 1, Math.floor((x + 1) * n / width));
      const count = [0, 0, 0, 0, 0];
      for (let p = from; p < to; p++) count[map[p]]++;
      ctx.fillStyle = colors[count.indexOf(Math.max(...count))];
      ctx.fillRect(x, 0, 1, 1);
    }
  }
}
