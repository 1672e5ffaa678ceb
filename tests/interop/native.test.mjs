// Our native peer (the `webswarm` CLI) and the real WebTorrent client in
// headless Chromium exchange a file through webswarm-tracker, both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTracker, startStatic, browser, openPage, runWebswarm, sha256 } from './harness.mjs';

const SIZE = 16 * 1024 * 1024 + 12345;

test('WebTorrent in Chromium downloads from the native seeder', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-interop-'));
  const file = path.join(dir, 'from-native.bin');
  const data = crypto.randomBytes(SIZE);
  fs.writeFileSync(file, data);
  const tracker = await startTracker();
  const site = await startStatic();
  const b = await browser();
  let seeder;
  try {
    seeder = await runWebswarm(['seed', file, '--tracker', tracker.url, '--bind', '127.0.0.1'], {
      ready: (l) => l.startsWith('magnet:'),
    });
    const page = await openPage(b, site.url);
    const got = await page.evaluate((magnet) => window.webtorrentDownload(magnet), seeder.line.trim());
    assert.equal(got.length, SIZE);
    assert.equal(got.hex, sha256(data), 'WebTorrent got different bytes');
    console.log(`WebTorrent <- native: ${(SIZE / 1048576).toFixed(1)} MiB in ${got.seconds.toFixed(2)} s`);
  } finally {
    seeder?.child.kill('SIGINT');
    await b.close();
    site.stop();
    tracker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the native leecher downloads from WebTorrent in Chromium', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-interop-'));
  const tracker = await startTracker();
  const site = await startStatic();
  const b = await browser();
  try {
    const page = await openPage(b, site.url);
    const seeded = await page.evaluate(async ({ size, announce }) => {
      const data = window.randomBytes(size);
      const hex = await window.sha256hex(data);
      const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
      window.client = client;
      const magnet = await new Promise((resolve, reject) => {
        client.on('error', (e) => reject(String(e)));
        client.seed(new File([data], 'from-webtorrent.bin'), { announce: [announce] }, (t) => resolve(t.magnetURI));
      });
      return { magnet, hex };
    }, { size: SIZE, announce: tracker.url });
    const started = Date.now();
    await runWebswarm(['get', seeded.magnet, '-o', dir, '--bind', '127.0.0.1'], { timeoutMs: 90_000 });
    const got = fs.readFileSync(path.join(dir, 'from-webtorrent.bin'));
    assert.equal(got.length, SIZE);
    assert.equal(sha256(got), seeded.hex, 'native leecher got different bytes');
    console.log(`native <- WebTorrent: ${(SIZE / 1048576).toFixed(1)} MiB in ${((Date.now() - started) / 1000).toFixed(2)} s (process start to exit)`);
  } finally {
    await b.close();
    site.stop();
    tracker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
