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
  event.respondWith(serve(event, url.pathname.slice(at + MARK.length)));
});

/** Asks the pages in turn; the one that holds the torrent answers. */
async function serve(event, id) {
  const first = event.clientId ? await self.clients.get(event.clientId) : null;
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const pages = first ? [first, ...all.filter((c) => c.id !== first.id)] : all;
  const range = event.request.headers.get('range');
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
