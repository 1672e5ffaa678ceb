// Firefox ESR as the second browser: our browser peer in headless Firefox
// (driven over WebDriver, see firefox.mjs) with the native seeder, with our
// peer in Chromium both ways, with WebTorrent in Chromium both ways, and OPFS
// resume. Every transfer is checked by SHA-256; the Chromium <-> Chromium
// transfer of the same run is the yardstick for Firefox's speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startTracker, startStatic, browser, openPage, runWebswarm, ourDownload, ourSeed, randomFile,
} from './harness.mjs';
import { firefox } from './firefox.mjs';

const MiB = 1024 * 1024;
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** Tracker, static site and temp dir; browsers are added with `env.chromium()` / `env.firefox()`. */
async function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-firefox-'));
  const tracker = await startTracker();
  const site = await startStatic();
  const browsers = [];
  const children = [];
  const open = async (b) => {
    browsers.push(b);
    return openPage(b, site.url);
  };
  return {
    dir, tracker, site, children,
    chromium: async () => open(await browser()),
    firefox: async () => open(await firefox()),
    async done() {
      for (const c of children) c.kill('SIGINT');
      for (const b of browsers) await b.close();
      site.stop();
      tracker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('Firefox downloads from the native seeder, into memory and into OPFS', { timeout: 240_000 }, async () => {
  const env = await setup();
  try {
    const { file, data } = randomFile(env.dir, 'native.bin', 32 * MiB + 5);
    const s = await runWebswarm(['seed', file, '--tracker', env.tracker.url, '--bind', '127.0.0.1'], {
      ready: (l) => l.startsWith('magnet:'),
    });
    env.children.push(s.child);
    const magnet = s.line.trim();
    const page = await env.firefox();
    for (const storage of ['memory', 'opfs']) {
      const got = await ourDownload(page, magnet, { tracker: env.tracker.url, storage });
      assert.equal(got.length, data.length);
      assert.equal(got.hex, sha256(data), `Firefox got different bytes (${storage})`);
      console.log(`Firefox (${page.version}) <- native, ${storage}: 32 MiB in ${got.seconds.toFixed(2)} s, first piece ${got.firstPiece?.toFixed(0)} ms`);
      await page.evaluate(() => window.client.destroy());
    }
  } finally {
    await env.done();
  }
});

test('Firefox and Chromium exchange files both ways; Chromium to Chromium as the yardstick', { timeout: 240_000 }, async () => {
  const env = await setup();
  try {
    const chrome1 = await env.chromium();
    const chrome2 = await env.chromium();
    const fox = await env.firefox();
    const size = 32 * MiB + 11;
    const fromChrome = await ourSeed(chrome1, size, env.tracker.url);
    const cc = await ourDownload(chrome2, fromChrome.magnet, { tracker: env.tracker.url, storage: 'memory' });
    assert.equal(cc.hex, fromChrome.hex);
    const cf = await ourDownload(fox, fromChrome.magnet, { tracker: env.tracker.url, storage: 'memory' });
    assert.equal(cf.hex, fromChrome.hex, 'Firefox got different bytes from Chromium');
    await fox.evaluate(() => window.client.destroy());
    const fromFox = await ourSeed(fox, size, env.tracker.url);
    await chrome2.evaluate(() => window.client.destroy());
    const fc = await ourDownload(chrome2, fromFox.magnet, { tracker: env.tracker.url, storage: 'memory' });
    assert.equal(fc.hex, fromFox.hex, 'Chromium got different bytes from Firefox');
    const mbs = (r) => size / r.seconds / 1e6;
    console.log(`32 MiB, MB/s: Chromium -> Chromium ${mbs(cc).toFixed(1)}, Chromium -> Firefox ${mbs(cf).toFixed(1)} `
      + `(${(mbs(cf) / mbs(cc)).toFixed(2)}x), Firefox -> Chromium ${mbs(fc).toFixed(1)} (${(mbs(fc) / mbs(cc)).toFixed(2)}x)`);
  } finally {
    await env.done();
  }
});

test('Firefox (our peer) and WebTorrent in Chromium exchange files both ways', { timeout: 240_000 }, async () => {
  const env = await setup();
  try {
    const fox = await env.firefox();
    const theirs = await env.chromium();
    const seeded = await ourSeed(fox, 16 * MiB + 99, env.tracker.url);
    const wt = await theirs.evaluate((magnet) => window.webtorrentDownload(magnet), seeded.magnet);
    assert.equal(wt.hex, seeded.hex, 'WebTorrent got different bytes from Firefox');
    const wtSeed = await theirs.evaluate(async ({ size, announce }) => {
      const data = window.randomBytes(size);
      const hex = await window.sha256hex(data);
      const magnet = await new Promise((resolve) => {
        window.wt.seed(new File([data], 'from-webtorrent.bin'), { announce: [announce] }, (t) => resolve(t.magnetURI));
      });
      return { magnet, hex };
    }, { size: 16 * MiB + 7, announce: env.tracker.url });
    await fox.evaluate(() => window.client.destroy());
    const got = await ourDownload(fox, wtSeed.magnet, { tracker: env.tracker.url, storage: 'memory' });
    assert.equal(got.hex, wtSeed.hex, 'Firefox got different bytes from WebTorrent');
    console.log(`WebTorrent (Chromium) <- Firefox: ${wt.seconds.toFixed(2)} s; Firefox <- WebTorrent: ${got.seconds.toFixed(2)} s (16 MiB each)`);
  } finally {
    await env.done();
  }
});
