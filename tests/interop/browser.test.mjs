// Our browser peer (webswarm-web, built by `cargo xtask build-web`) end to
// end in headless Chromium: from the native seeder, browser to browser, both
// ways with the real WebTorrent client, resume after a reload, and a peer
// that sends garbage. Every transfer is checked by SHA-256.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startTracker, startStatic, browser, openPage, runWebswarm, ourDownload, ourSeed, randomFile, webtorrentSeed, reloadAndResume, sha256,
} from './harness.mjs';

const MiB = 1024 * 1024;

/** Tracker, static site, browsers and temp dir for one test; `done()` stops all. */
async function setup(nBrowsers = 1) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-browser-'));
  const tracker = await startTracker();
  const site = await startStatic();
  const browsers = [];
  for (let i = 0; i < nBrowsers; i++) browsers.push(await browser());
  const children = [];
  return {
    dir, tracker, site, browsers, children,
    async done() {
      for (const c of children) c.kill('SIGINT');
      for (const b of browsers) await b.close();
      site.stop();
      tracker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function nativeSeed(env, file) {
  const s = await runWebswarm(['seed', file, '--tracker', env.tracker.url, '--bind', '127.0.0.1'], {
    ready: (l) => l.startsWith('magnet:'),
  });
  env.children.push(s.child);
  return s.line.trim();
}

test('our browser peer downloads 64 MiB from the native seeder', { timeout: 180_000 }, async () => {
  const env = await setup();
  try {
    const { file, data } = randomFile(env.dir, 'native.bin', 64 * MiB);
    const magnet = await nativeSeed(env, file);
    const page = await openPage(env.browsers[0], env.site.url);
    const got = await ourDownload(page, magnet, { tracker: env.tracker.url });
    assert.equal(got.length, data.length);
    assert.equal(got.hex, sha256(data), 'browser got different bytes');
    console.log(`webswarm browser <- native: 64 MiB in ${got.seconds.toFixed(2)} s, first piece ${got.firstPiece?.toFixed(0)} ms`);
  } finally {
    await env.done();
  }
});

test('browser to browser, our peer on both sides', { timeout: 180_000 }, async () => {
  const env = await setup(2);
  try {
    const seeder = await openPage(env.browsers[0], env.site.url);
    const leecher = await openPage(env.browsers[1], env.site.url);
    const seeded = await ourSeed(seeder, 16 * MiB + 4321, env.tracker.url);
    const got = await ourDownload(leecher, seeded.magnet, { tracker: env.tracker.url, storage: 'memory' });
    assert.equal(got.hex, seeded.hex, 'browser got different bytes');
    console.log(`webswarm browser <- webswarm browser: 16 MiB in ${got.seconds.toFixed(2)} s`);
  } finally {
    await env.done();
  }
});

// The first connection between two browsers used to fail now and then (a
// handshake lost before the channel was fully open on one side; the exact
// mechanics are unit-tested in web/src/rtc.rs), and the download then
// waited for the 2 s lonely re-announce. It showed with freshly started
// browsers only (reused ones: 0 of 48 rounds; fresh ones with the old code:
// 1 of 36 here, 2 to 7 of 25 in a probe with 16 MiB), so each round starts
// two; every first piece must come well before that re-announce.
test('two browser peers connect at the first try, every time', { timeout: 300_000 }, async () => {
  const env = await setup(0);
  const ROUNDS = 12;
  try {
    const firsts = [];
    for (let i = 0; i < ROUNDS; i++) {
      const [a, b] = [await browser(), await browser()];
      try {
        const seeder = await openPage(a, env.site.url);
        const leecher = await openPage(b, env.site.url);
        const seeded = await ourSeed(seeder, 4 * MiB + i, env.tracker.url);
        const got = await ourDownload(leecher, seeded.magnet, { tracker: env.tracker.url, storage: 'memory' });
        assert.equal(got.hex, seeded.hex, 'browser got different bytes');
        firsts.push(got.firstPiece);
      } finally {
        await a.close();
        await b.close();
      }
    }
    console.log(`first piece over ${ROUNDS} pairs of fresh browsers: ${firsts.map((f) => f.toFixed(0)).join(', ')} ms`);
    assert.ok(firsts.every((f) => f < 1800), `a first connection failed: first piece after ${Math.max(...firsts).toFixed(0)} ms`);
  } finally {
    await env.done();
  }
});

test('our browser peer and WebTorrent exchange files both ways', { timeout: 180_000 }, async () => {
  const env = await setup(2);
  try {
    const ours = await openPage(env.browsers[0], env.site.url);
    const theirs = await openPage(env.browsers[1], env.site.url);
    // WebTorrent downloads from us.
    const seeded = await ourSeed(ours, 16 * MiB + 99, env.tracker.url);
    const wt = await theirs.evaluate((magnet) => window.webtorrentDownload(magnet), seeded.magnet);
    assert.equal(wt.hex, seeded.hex, 'WebTorrent got different bytes from us');
    // We download from WebTorrent.
    const wtSeed = await webtorrentSeed(theirs, 16 * MiB + 7, env.tracker.url);
    const got = await ourDownload(ours, wtSeed.magnet, { tracker: env.tracker.url, storage: 'memory' });
    assert.equal(got.hex, wtSeed.hex, 'we got different bytes from WebTorrent');
    console.log(`WebTorrent <- webswarm browser: ${wt.seconds.toFixed(2)} s; webswarm browser <- WebTorrent: ${got.seconds.toFixed(2)} s (16 MiB each)`);
  } finally {
    await env.done();
  }
});

test('a reload mid-download resumes from OPFS without refetching', { timeout: 180_000 }, async () => {
  const env = await setup();
  try {
    const { file, data } = randomFile(env.dir, 'resume.bin', 64 * MiB);
    const magnet = await nativeSeed(env, file);
    const page = await openPage(env.browsers[0], env.site.url);
    const r = await reloadAndResume(page, magnet, env.tracker.url, sha256(data));
    console.log(`resume: ${(r.before * 100).toFixed(0)}% before the reload, ${(r.atStart * 100).toFixed(0)}% found after it; fetched ${(r.downloaded / MiB).toFixed(1)} MiB of the ${(r.missing / MiB).toFixed(1)} MiB missing`);
  } finally {
    await env.done();
  }
});

/**
 * Runs in a page: a hand-made peer that joins the swarm through the tracker,
 * sends a valid handshake and then garbage (a 4 GiB length prefix) to the
 * peer whose id is `targetHex`, and resolves when that peer closes on it.
 */
async function garbagePeer(page, { tracker, infoHashHex, targetHex }) {
  return page.evaluate(async ({ tracker, infoHashHex, targetHex }) => {
    const bin = (hex) => String.fromCharCode(...hex.match(/../g).map((h) => parseInt(h, 16)));
    const randomHex = () => Array.from(crypto.getRandomValues(new Uint8Array(20)))
      .map((x) => x.toString(16).padStart(2, '0')).join('');
    const infoHash = bin(infoHashHex);
    const peerId = '-GB0001-' + randomHex().slice(0, 12);
    const ws = new WebSocket(tracker);
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    const pending = new Map();
    const offers = [];
    for (let i = 0; i < 5; i++) {
      const pc = new RTCPeerConnection({ iceServers: [] });
      const dc = pc.createDataChannel(randomHex());
      dc.binaryType = 'arraybuffer';
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise((r) => {
        if (pc.iceGatheringState === 'complete') r();
        pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') r(); };
      });
      const id = bin(randomHex());
      pending.set(id, { pc, dc });
      offers.push({ offer: { type: 'offer', sdp: pc.localDescription.sdp }, offer_id: id });
    }
    const target = bin(targetHex);
    const result = new Promise((resolve, reject) => {
      setTimeout(() => reject(new Error('the target never connected and closed')), 30_000);
      ws.onmessage = async (e) => {
        const m = JSON.parse(e.data);
        if (!m.answer || !pending.has(m.offer_id) || m.peer_id !== target) return;
        const { pc, dc } = pending.get(m.offer_id);
        await pc.setRemoteDescription(m.answer);
        let sentAt = 0;
        dc.onopen = () => {
          const hs = new Uint8Array(68);
          hs[0] = 19;
          hs.set(new TextEncoder().encode('BitTorrent protocol'), 1);
          hs.set(Uint8Array.from(infoHash, (c) => c.charCodeAt(0)), 28);
          hs.set(new TextEncoder().encode(peerId), 48);
          dc.send(hs);
          const junk = crypto.getRandomValues(new Uint8Array(4096));
          junk.set([0xff, 0xff, 0xff, 0xff], 0);
          dc.send(junk);
          sentAt = performance.now();
        };
        dc.onclose = () => resolve({ closedAfterMs: performance.now() - sentAt });
      };
    });
    ws.send(JSON.stringify({
      action: 'announce', info_hash: infoHash, peer_id: peerId, numwant: 5,
      uploaded: 0, downloaded: 0, left: 1, event: 'started', offers,
    }));
    return result;
  }, { tracker, infoHashHex, targetHex });
}

test('a peer sending garbage is dropped and the download goes on', { timeout: 180_000 }, async () => {
  const env = await setup();
  try {
    const { file, data } = randomFile(env.dir, 'garbage.bin', 64 * MiB);
    const magnet = await nativeSeed(env, file);
    const page = await openPage(env.browsers[0], env.site.url);
    const evil = await openPage(env.browsers[0], env.site.url);
    const ids = await page.evaluate(async ({ magnet, tracker }) => {
      const client = new window.webswarm.Client({ iceServers: [], trackers: [tracker], storage: 'memory' });
      const t = await client.add(magnet);
      window.torrent = t;
      window.result = (async () => {
        await t.whenDone();
        return window.sha256hex(await (await t.files[0].blob()).arrayBuffer());
      })();
      return { peerId: t.peerId, infoHash: t.infoHash };
    }, { magnet, tracker: env.tracker.url });
    const dropped = await garbagePeer(evil, { tracker: env.tracker.url, infoHashHex: ids.infoHash, targetHex: ids.peerId });
    const progressAtDrop = await page.evaluate(() => window.torrent.progress);
    const hex = await page.evaluate(() => window.result);
    assert.equal(hex, sha256(data), 'download after the garbage peer has different bytes');
    console.log(`garbage peer dropped ${dropped.closedAfterMs.toFixed(0)} ms after its garbage, at ${(progressAtDrop * 100).toFixed(0)}%; download completed`);
  } finally {
    await env.done();
  }
});

test('after a tracker restart the browser peer reconnects and is found again', { timeout: 180_000 }, async () => {
  const env = await setup(2);
  let tracker2;
  try {
    const seeder = await openPage(env.browsers[0], env.site.url);
    const seeded = await ourSeed(seeder, 4 * MiB + 1, env.tracker.url);
    // The tracker socket opens on its own time after seed() resolves.
    await seeder.waitForFunction(() => window.client.trackerStatus()[0]?.connected === true, null, { timeout: 10_000, polling: 20 });
    await env.tracker.kill();
    await seeder.waitForFunction(() => window.client.trackerStatus()[0]?.connected === false, null, { timeout: 10_000 });
    tracker2 = await startTracker({ port: env.tracker.port });
    const t0 = Date.now();
    await seeder.waitForFunction(() => window.client.trackerStatus()[0]?.connected === true, null, { timeout: 30_000, polling: 50 });
    const reconnectMs = Date.now() - t0;
    const leecher = await openPage(env.browsers[1], env.site.url);
    const got = await ourDownload(leecher, seeded.magnet, { tracker: tracker2.url, storage: 'memory' });
    assert.equal(got.hex, seeded.hex, 'download after the restart has different bytes');
    console.log(`tracker restart: reconnected ${reconnectMs} ms after the new tracker started; a new peer downloaded from the seeder`);
  } finally {
    tracker2?.stop();
    await env.done();
  }
});
