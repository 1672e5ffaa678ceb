// webswarm-web service worker: answers requests for
// <scope>/webswarm-stream/<info-hash>/<file index>/<name> from the page that
// holds the torrent, honouring Range, so a <video> can play and seek while
// the file downloads. Serve this file from your site's root (or give
// `Service-Worker-Allowed`) and call `registerServiceWorker()` in the page.
const MARK = '/webswarm-stream/';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  const at = url.pathname.indexOf(MARK);
  if (at < 0 || url.origin !== self.location.origin) return;
  const id = url.pathname.slice(at + MARK.length);
  const range = event.request.headers.get('range');
  event.respondWith(fromStart(id, range, event) || serve(event, id, range));
});

// The start of each file a page streams, which the page sends as it is
// verified (`streamURL()`), before the player asks: the first bytes then need
// no round trip through the page's main thread, which a download keeps busy.
// By id: { length, type, end, chunks: [[start, bytes]], wake: [] }; at most a
// few files, each at most the page's `end` (1 MiB).
const starts = new Map();

self.addEventListener('message', (e) => {
  const m = e.data;
  if (!m || m.webswarm !== 'start') return;
  if (!m.bytes && !m.failed) {
    starts.delete(m.id);
    if (starts.size >= 4) starts.delete(starts.keys().next().value);
    starts.set(m.id, { length: m.length, type: m.type, end: m.end, chunks: [], wake: [] });
    return;
  }
  const s = starts.get(m.id);
  if (!s) return;
  // A failed start is forgotten too: a player that retries (Chromium retries
  // a body that broke off) is answered by the page then, which says 404, an
  // error it does not retry, instead of waiting on retries for many seconds.
  if (m.failed) { s.failed = true; starts.delete(m.id); } else s.chunks.push([m.start, m.bytes]);
  for (const w of s.wake.splice(0)) w();
});

/** A Response that begins with the pushed start, or `null` when the request is not for it. */
function fromStart(id, range, event) {
  // The id ends with the file's name; the page's key is info-hash/index.
  const s = starts.get(id.split('/').slice(0, 2).join('/'));
  const r = /^bytes=(\d+)-(\d*)$/.exec((range || 'bytes=0-').trim());
  if (!s || !r || Number(r[1]) >= s.end) return null;
  const start = Number(r[1]);
  const end = r[2] === '' ? s.length - 1 : Math.min(Number(r[2]), s.length - 1);
  if (start > end) return null;
  let pos = start;
  let rest = null;
  const body = new ReadableStream({
    async pull(controller) {
      if (pos > end) return controller.close();
      while (pos < s.end) {
        const c = s.chunks.find(([at, b]) => at <= pos && pos < at + b.length);
        if (c) {
          const bytes = c[1].subarray(pos - c[0], Math.min(c[1].length, end + 1 - c[0]));
          pos += bytes.length;
          return controller.enqueue(bytes);
        }
        // Not verified yet: the page sends it when it is. (A pull that
        // returns with nothing enqueued is not called again.)
        if (s.failed) throw new Error('the page stopped reading this torrent');
        await new Promise((w) => s.wake.push(w));
      }
      if (!rest) {
        const res = await serve(event, id, `bytes=${pos}-${end}`);
        // Never an error page's bytes in the middle of the file.
        if (res.status !== 206 && res.status !== 200) throw new Error(`the page answered ${res.status}`);
        rest = res.body.getReader();
      }
      const { value, done } = await rest.read();
      if (done) controller.close(); else { pos += value.length; controller.enqueue(value); }
    },
    cancel() { if (rest) rest.cancel(); },
  }, { highWaterMark: 4 });
  const headers = { 'Content-Type': s.type, 'Content-Length': String(end - start + 1), 'Accept-Ranges': 'bytes' };
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${s.length}`;
  return new Response(body, { status: range ? 206 : 200, headers });
}

/** Asks the pages in turn; the one that holds the torrent answers. */
async function serve(event, id, range) {
  const first = event.clientId ? await self.clients.get(event.clientId) : null;
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const pages = first ? [first, ...all.filter((c) => c.id !== first.id)] : all;
  for (const page of pages) {
    const res = await ask(page, id, range);
    if (res) return res;
  }
  return new Response('no open page holds this torrent', { status: 404 });
}

function ask(page, id, range) {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    const timer = setTimeout(() => { port1.close(); resolve(null); }, 10000);
    port1.onmessage = (m) => {
      clearTimeout(timer);
      const head = m.data;
      if (!head || head.status === 404) { port1.close(); resolve(null); return; }
      resolve(respond(port1, head));
    };
    page.postMessage({ webswarm: 'stream', id, range }, [port2]);
  });
}

/**
 * The body is pulled chunk by chunk, a few chunks ahead of the player: each
 * pull is a round trip through the page's main thread, which a download
 * keeps busy, and a player that waits for every one starts late.
 */
function respond(port, head) {
  if (head.status >= 400) return new Response(head.error || '', { status: head.status, headers: head.headers });
  let waiting = null;
  port.onmessage = (m) => { const w = waiting; waiting = null; if (w) w(m.data); };
  const body = new ReadableStream({
    pull(controller) {
      return new Promise((resolve) => {
        waiting = (chunk) => {
          if (chunk && chunk.error) controller.error(new Error(chunk.error));
          else if (chunk) controller.enqueue(chunk);
          else { controller.close(); port.close(); }
          resolve();
        };
        port.postMessage('pull');
      });
    },
    cancel() { port.postMessage('cancel'); port.close(); },
  }, { highWaterMark: 4 });
  return new Response(body, { status: head.status, headers: head.headers });
}
