// The public JS API of webswarm-web in Chromium, between two pages through
// our tracker: a multi-file torrent added by URL, file selection, events,
// blob/arrayBuffer/stream reads checked byte for byte, pause and resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTracker, startStatic, browser, openPage } from './harness.mjs';

test('the JS API: add by URL, select files, stream, pause and resume', { timeout: 180_000 }, async () => {
  const tracker = await startTracker();
  const extra = {};
  const site = await startStatic({ extra });
  const b = await browser();
  try {
    const seeder = await openPage(b, site.url);
    const leecher = await openPage(b, site.url);
    const torrentFile = await seeder.evaluate(async ({ tracker }) => {
      const make = (n, seed) => {
        const d = new Uint8Array(n);
        for (let i = 0; i < n; i++) d[i] = (i * 31 + seed * 7 + (i >> 9)) & 255;
        return d;
      };
      const files = [
        new File([make(1048579, 1)], 'a.bin'),
        new File([make(2 * 1048576, 2)], 'b.bin'),
        new File([make(300 * 1024 + 17, 3)], 'c.bin'),
      ];
      const client = new window.webswarm.Client({ iceServers: [], trackers: [tracker], storage: 'memory' });
      const t = await client.seed(files, { name: 'set', pieceLength: 65536 });
      window.keep = { client, t };
      return Array.from(t.torrentFile);
    }, { tracker: tracker.url });
    extra['/set.torrent'] = Buffer.from(torrentFile);

    const r = await leecher.evaluate(async ({ url, tracker }) => {
      const make = (n, seed) => {
        const d = new Uint8Array(n);
        for (let i = 0; i < n; i++) d[i] = (i * 31 + seed * 7 + (i >> 9)) & 255;
        return d;
      };
      const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
      const client = new window.webswarm.Client({ iceServers: [], trackers: [tracker], storage: 'memory' });
      const t = await client.add(url);
      const events = {};
      for (const e of ['progress', 'verified', 'done', 'peer-connected', 'peer-disconnected']) {
        events[e] = 0;
        t.addEventListener(e, () => { events[e]++; });
      }
      await t.ready();
      const names = t.files.map((f) => f.path);
      t.files[1].deselect();
      await t.whenDone();
      const a = new Uint8Array(await t.files[0].arrayBuffer());
      const chunks = [];
      const reader = t.files[2].stream().getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
      const c = new Uint8Array(await new Blob(chunks).arrayBuffer());
      // Pausing drops every connection; resuming finds the seeder again.
      t.pause();
      const pausedPeers = t.numPeers;
      const wasPaused = t.paused;
      t.resume();
      t.files[1].select();
      const bStream = t.files[1].stream({ start: 1000, end: 1500000 });
      const parts = [];
      for (const rd = bStream.getReader(); ;) {
        const { value, done } = await rd.read();
        if (done) break;
        parts.push(value);
      }
      const bPart = new Uint8Array(await new Blob(parts).arrayBuffer());
      await t.whenDone();
      const bBlob = new Uint8Array(await (await t.files[1].blob()).arrayBuffer());
      return {
        names, wasPaused, pausedPeers, events,
        a: same(a, make(1048579, 1)),
        c: same(c, make(300 * 1024 + 17, 3)),
        bPart: same(bPart, make(2 * 1048576, 2).subarray(1000, 1500000)),
        b: same(bBlob, make(2 * 1048576, 2)),
        done: t.done,
      };
    }, { url: `${site.url}set.torrent`, tracker: tracker.url });
    assert.deepEqual(r.names, ['set/a.bin', 'set/b.bin', 'set/c.bin']);
    assert.ok(r.a, 'a.bin differs');
    assert.ok(r.c, 'c.bin read by stream() differs');
    assert.ok(r.bPart, 'a range of b.bin read by stream() differs');
    assert.ok(r.b, 'b.bin differs after selecting it again');
    assert.ok(r.wasPaused && r.pausedPeers === 0, `pause left ${r.pausedPeers} peers`);
    assert.ok(r.done);
    assert.ok(r.events.verified > 0 && r.events.progress > 0, JSON.stringify(r.events));
    assert.equal(r.events.done, 2, `done fired ${r.events.done} times: once per completion`);
    assert.ok(r.events['peer-connected'] >= 2, 'expected a connection before and after the pause');
  } finally {
    await b.close();
    site.stop();
    tracker.stop();
  }
});
