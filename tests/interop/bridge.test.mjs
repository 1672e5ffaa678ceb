// The bridge end to end: transmission, a classic BitTorrent client speaking
// TCP only, is the only seeder. `webswarm get --seed` joins its swarm (found
// through our tracker's HTTP side) and the WebSocket swarm of the same
// tracker; our browser peer and WebTorrent, both in headless Chromium, get
// the torrent through it while the bridge itself is still downloading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  startTracker, startStatic, browser, openPage, runWebswarm, sha256, randomFile, pageDownloadAll,
} from './harness.mjs';

const MiB = 1024 * 1024;
const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

/** A torrent of `src` made by transmission-create; its path and info-hash. */
function transmissionTorrent(dir, src, announce) {
  const torrent = path.join(dir, 't.torrent');
  const made = spawnSync('transmission-create', ['-s', '256', '-t', announce, '-o', torrent, src]);
  assert.equal(made.status, 0, String(made.stderr));
  const shown = String(spawnSync('transmission-show', [torrent]).stdout);
  const hash = shown.match(/Hash: ([0-9a-f]{40})/)[1];
  return { torrent, hash };
}

/** Until our tracker's scrape (BEP 48) counts a seeder of `hash`. */
async function waitForSeeder(port, hash) {
  const escaped = hash.match(/../g).map((b) => `%${b}`).join('');
  const until = Date.now() + 30_000;
  for (;;) {
    const body = await (await fetch(`http://127.0.0.1:${port}/scrape?info_hash=${escaped}`)).text();
    const complete = Number(body.match(/8:completei(\d+)e/)?.[1] ?? 0);
    if (complete >= 1) return;
    assert.ok(Date.now() < until, `transmission never announced: ${body}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('our browser peer and WebTorrent in Chromium get a transmission torrent through the bridge', {
  timeout: 180_000,
  skip: !has('transmission-cli') && 'transmission-cli is missing: `cargo xtask setup` installs it',
}, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-bridge-'));
  const src = path.join(dir, 'src', 'multi');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  const files = [randomFile(src, 'a.bin', 40 * MiB), randomFile(path.join(src, 'sub'), 'b.bin', 24 * MiB)];
  const want = files.map((f) => sha256(f.data)).sort();
  const tracker = await startTracker();
  const site = await startStatic();
  const b = await browser();
  const children = [];
  try {
    const { torrent, hash } = transmissionTorrent(dir, src, `http://127.0.0.1:${tracker.port}/announce`);
    const transmission = spawn('transmission-cli',
      ['-g', path.join(dir, 'tr'), '-p', String(await freePort()), '-w', path.dirname(src), torrent],
      { stdio: 'ignore' });
    children.push(transmission);
    await waitForSeeder(tracker.port, hash);

    const started = Date.now();
    const bridge = runWebswarm(
      ['get', torrent, '--seed', '--tracker', tracker.url, '--bind', '127.0.0.1', '--listen-port', '0', '-o', path.join(dir, 'bridge')],
      { readyErr: (l) => l.startsWith('downloaded '), timeoutMs: 150_000 },
    );
    let bridgeDone = null;
    bridge.then((r) => { bridgeDone = (Date.now() - started) / 1000; children.push(r.child); });

    const magnet = `magnet:?xt=urn:btih:${hash}&tr=${encodeURIComponent(tracker.url)}`;
    const [ours, theirs] = [await openPage(b, site.url), await openPage(b, site.url)];
    const pagesStarted = (Date.now() - started) / 1000;
    const [a, w] = await Promise.all([
      pageDownloadAll(ours, magnet, tracker.url, 'webswarm'),
      pageDownloadAll(theirs, magnet, tracker.url, 'webtorrent'),
    ]);
    assert.deepEqual(a.hashes, want, 'our browser peer got different bytes');
    assert.deepEqual(w.hashes, want, 'WebTorrent got different bytes');
    await bridge;
    console.log(
      `bridge done after ${bridgeDone.toFixed(1)} s; pages started at ${pagesStarted.toFixed(1)} s; `
      + `our peer done after ${a.seconds.toFixed(1)} s (first piece after ${a.firstPiece.toFixed(2)} s), `
      + `WebTorrent after ${w.seconds.toFixed(1)} s`,
    );
    // They downloaded alongside the bridge, not after it.
    assert.ok(pagesStarted < bridgeDone / 2, `pages started at ${pagesStarted} s, bridge done at ${bridgeDone} s`);
    assert.ok(pagesStarted + a.seconds < bridgeDone + 10, 'our peer finished long after the bridge');
  } finally {
    for (const c of children) c.kill('SIGINT');
    await b.close();
    site.stop();
    tracker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
