// Issue 18 end to end: origin offload. A site's origin (a webseed on a capped
// uplink, its bytes counted by the server) and four visitors' pages arriving
// one after another: the later ones take most of the file from the earlier
// ones, so the origin serves far less than four copies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStatic, startTracker, browser, openPage, runWebswarm, randomFile, sha256 } from './harness.mjs';

const SIZE = 24 * 1024 * 1024;
// The origin's upload: 8 MiB/s, shared by every visitor's fetches.
const ORIGIN_RATE = 8 * 1024 * 1024;
const VISITORS = 4;
const ARRIVAL_GAP_MS = 2000;

test('four visitors of a site take most of the file from each other, not from its origin', { timeout: 180_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-offload-'));
  const { file, data } = randomFile(dir, 'video.bin', SIZE);
  const tracker = await startTracker();
  const site = await startStatic({ extra: { '/origin/video.bin': file }, rate: ORIGIN_RATE });
  const b = await browser();
  try {
    const out = path.join(dir, 'video.torrent');
    await runWebswarm(['create', file, '--webseed', `${site.url}origin/video.bin`, '-o', out]);
    const torrent = [...fs.readFileSync(out)];
    const visit = async (i) => {
      await new Promise((r) => setTimeout(r, i * ARRIVAL_GAP_MS));
      const page = await openPage(b, site.url);
      return page.evaluate(async ({ torrent, tracker }) => {
        const client = new window.webswarm.Client({ storage: 'memory', trackers: [tracker] });
        window.client = client;
        const started = performance.now();
        const t = await client.add(new Uint8Array(torrent));
        await t.whenDone();
        const seconds = (performance.now() - started) / 1000;
        const hex = await window.sha256hex(await (await t.files[0].blob()).arrayBuffer());
        const map = t.pieceSources;
        return { hex, seconds, sources: t.sources, pieces: map.length, missing: map.filter((v) => v === 0).length };
      }, { torrent, tracker: tracker.url });
    };
    const got = await Promise.all([...Array(VISITORS).keys()].map(visit));
    for (const g of got) assert.equal(g.hex, sha256(data), 'a visitor got different bytes');
    const share = site.sent() / (VISITORS * SIZE);
    // Origin alone at a fair share of its uplink: the visitors overlap, so
    // each would take at least SIZE / ORIGIN_RATE (3 s) and up to 4x that.
    console.log(`origin served ${(site.sent() / 2 ** 20).toFixed(1)} MiB of ${VISITORS} x ${SIZE / 2 ** 20} MiB: `
      + `${(100 * share).toFixed(1)} %; visitors took ${got.map((g) => g.seconds.toFixed(1)).join(', ')} s `
      + `(origin alone: >= ${(SIZE / ORIGIN_RATE).toFixed(1)} s each)`);
    assert.ok(share < 0.6, `the origin served ${(100 * share).toFixed(1)} % of what the visitors got`);
    // What each page says about where its bytes came from adds up, and agrees
    // with the origin's own count.
    for (const g of got) {
      const s = g.sources;
      assert.equal(s.peers + s.native + s.webseed, SIZE, `sources ${JSON.stringify(s)}`);
      assert.equal(s.stored + s.native + g.missing, 0, `sources ${JSON.stringify(s)}, ${g.missing} pieces unmarked`);
    }
    assert.ok(got[0].sources.webseed > 0, 'the first visitor had only the origin at first');
    assert.ok(got[VISITORS - 1].sources.peers > 0, 'the last visitor took pieces from the others');
    const shown = got.reduce((n, g) => n + g.sources.webseed, 0);
    console.log(`pages say ${(shown / 2 ** 20).toFixed(1)} MiB came from the origin `
      + `(${got.map((g) => (100 * g.sources.webseed / SIZE).toFixed(0) + ' %').join(', ')}); the origin counted `
      + `${(site.sent() / 2 ** 20).toFixed(1)} MiB`);
    // Pieces mixing origin and peer blocks count for the origin; fetches cut
    // short by a peer's copy count at the origin only: close, not equal.
    assert.ok(Math.abs(shown - site.sent()) <= 0.15 * site.sent(), 'the pages and the origin disagree');
  } finally {
    await b.close();
    site.stop();
    tracker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
