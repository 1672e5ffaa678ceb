// Issue 6 end to end: `webswarm demo` (tracker + native seeder + page), the
// <webswarm-download> widget, streaming into <video> through the service
// worker, webseeds alone and bad, webswarm.fetch, and WebTorrent in the swarm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStatic, browser, openPage, runWebswarm, startDemo, seekToEnd, sha256 } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = process.env.WEBSWARM_ARTIFACTS || path.resolve(here, '../artifacts');

function tempFile(size, name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-demo-'));
  const file = path.join(dir, name);
  const data = crypto.randomBytes(size);
  fs.writeFileSync(file, data);
  return { dir, file, data };
}

async function newPage(b, url) {
  const page = await b.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('console', (m) => { if (m.type() === 'error') console.error('console:', m.text().slice(0, 300)); });
  await page.goto(url);
  return page;
}

test('the widget downloads from the native seeder to 100 % and shows the real progress', { timeout: 120_000 }, async () => {
  const { dir, file, data } = tempFile(24 * 1024 * 1024 + 777, 'dataset.bin');
  const demo = await startDemo([file]);
  const b = await browser();
  try {
    // webseed=0: the bytes can only come over WebRTC from the native seeder.
    const page = await newPage(b, demo.url + '?webseed=0');
    await page.waitForFunction(() => window.demo?.widget?.torrent, null, { timeout: 20_000 });
    // While it downloads, what the widget shows never runs ahead of the torrent.
    const samples = [];
    for (let i = 0; i < 200; i++) {
      const s = await page.evaluate(() => {
        const w = window.demo.widget;
        const bar = w.shadowRoot.querySelector('[role=progressbar]');
        return { shown: Number(bar.getAttribute('aria-valuenow')), real: w.torrent.progress * 100, state: w.state };
      });
      samples.push(s);
      if (s.state === 'done') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.waitForFunction(() => window.demo.widget.state === 'done', null, { timeout: 60_000 });
    for (const s of samples) assert.ok(s.shown <= s.real + 1e-9, `widget showed ${s.shown} % with ${s.real} % verified`);
    assert.ok(samples.some((s) => s.state === 'downloading' && s.shown > 0 && s.shown < 100), 'progress was shown while downloading');
    const end = await page.evaluate(async () => {
      const w = window.demo.widget;
      const root = w.shadowRoot;
      const buf = await w.file.arrayBuffer();
      const hex = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', buf)))
        .map((x) => x.toString(16).padStart(2, '0')).join('');
      return {
        hex,
        shown: root.querySelector('[role=progressbar]').getAttribute('aria-valuenow'),
        state: root.querySelector('.state').textContent,
        save: root.querySelector('.save').disabled,
        label: root.querySelector('.save').getAttribute('aria-label'),
        peers: w.torrent.numPeers,
      };
    });
    assert.equal(end.hex, sha256(data), 'the widget saved different bytes');
    // The demo's widget shows where the bytes came from: here, all from the
    // native seeder, in the legend and in every column of the piece map.
    const len = data.length;
    await page.waitForFunction((len) => window.demo.widget.shadowRoot
      .querySelector('[data-source=native]')?.dataset.bytes === String(len), len, { timeout: 5_000 });
    const shown = await page.evaluate(() => {
      const root = window.demo.widget.shadowRoot;
      const c = root.querySelector('canvas.map');
      const px = c.getContext('2d').getImageData(0, 0, c.width, 1).data;
      const colors = new Set();
      for (let i = 0; i < px.length; i += 4) colors.add(`${px[i]},${px[i + 1]},${px[i + 2]}`);
      return {
        legend: Object.fromEntries([...root.querySelectorAll('[data-source]')]
          .map((e) => [e.dataset.source, Number(e.dataset.bytes)])),
        api: window.demo.widget.torrent.sources,
        colors: [...colors],
        width: c.width,
      };
    });
    assert.deepEqual(shown.legend, { peers: 0, native: len, webseed: 0, stored: 0 });
    assert.deepEqual(shown.api, { peers: 0, native: len, webseed: 0, stored: 0 });
    assert.ok(shown.width > 100, `piece map ${shown.width} px wide`);
    assert.deepEqual(shown.colors, ['124,58,237'], 'every column of the piece map in the native seeders\' colour');
    assert.equal(end.shown, '100');
    assert.equal(end.state, 'Done');
    assert.equal(end.save, false, 'Save is enabled when done');
    assert.equal(end.label, 'Save dataset.bin');
    // The save button is reachable from the keyboard.
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => window.demo.widget.shadowRoot.activeElement?.className);
    assert.equal(focused, 'save');
    fs.mkdirSync(artifacts, { recursive: true });
    const shot = path.join(artifacts, 'widget-done.png');
    await (await page.$('webswarm-download')).screenshot({ path: shot });
    await page.emulateMedia({ colorScheme: 'dark' });
    await (await page.$('webswarm-download')).screenshot({ path: path.join(artifacts, 'widget-done-dark.png') });
    console.log(`widget: 24 MiB over WebRTC; screenshot ${shot}`);
  } finally {
    await b.close();
    await demo.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the sample video plays before the download completes, and a seek to the end plays', { timeout: 120_000 }, async () => {
  // 200 kB/s from the only seeder: the 1.9 MB sample takes about 10 s.
  const demo = await startDemo(['--max-upload-rate', '200k']);
  const b = await browser();
  try {
    assert.equal(demo.info.video, true);
    const page = await newPage(b, demo.url + '?webseed=0&storage=memory');
    await page.waitForFunction(() => window.demo?.timings?.playing !== undefined, null, { timeout: 30_000 });
    const t = await page.evaluate(() => ({ ...window.demo.timings, now: window.demo.torrent.progress }));
    console.log(`video: playing ${t.playing.toFixed(0)} ms after the page asked, first frame ${t.firstFrame?.toFixed(0)} ms, at ${(t.progressAtPlaying * 100).toFixed(1)} % downloaded`);
    assert.ok(t.progressAtPlaying < 0.5, `playing only at ${t.progressAtPlaying}`);
    // Seek near the end: the deadline picker fetches those pieces next.
    const seek = await seekToEnd(page);
    assert.ok(seek.progress < 1, 'the seek came before the download finished');
    assert.ok(seek.ended, 'played to the end after the seek');
    console.log(`seek to ${seek.target.toFixed(1)} s of ${seek.duration.toFixed(1)} s at ${(seek.progress * 100).toFixed(1)} % downloaded: played to the end`);
  } finally {
    await b.close();
    await demo.stop();
  }
});

test('a stream whose torrent is destroyed mid-stream fails instead of hanging', { timeout: 60_000 }, async () => {
  // 1 kB/s from the only seeder after its 64 KiB burst: at most the first few pieces come in this
  // test's time. Destroyed with none, the stream fails at once; with some, the player plays them,
  // its request breaks off, and its retry must get an answer it does not retry (it stalled before).
  const demo = await startDemo(['--max-upload-rate', '1k']);
  const b = await browser();
  try {
    const page = await newPage(b, demo.url + '?webseed=0&storage=memory');
    await page.waitForFunction(() => window.demo?.torrent && window.demo.video?.src, null, { timeout: 30_000 });
    const r = await page.evaluate(async () => {
      const { video, torrent } = window.demo;
      const failed = new Promise((resolve) => video.addEventListener('error', () => resolve(video.error?.code)));
      const [progress, state] = [torrent.progress, video.readyState];
      await torrent.destroy();
      const code = await Promise.race([failed, new Promise((r) => setTimeout(() => r('hung'), 10_000))]);
      return { code, progress, state };
    });
    assert.ok(r.progress < 0.5, `${(r.progress * 100).toFixed(1)} % came before the destroy: the test proves nothing`);
    assert.notEqual(r.code, 'hung', `the video still waits 10 s after its torrent was destroyed at ${(r.progress * 100).toFixed(1)} % (readyState ${r.state})`);
    console.log(`destroyed at ${(r.progress * 100).toFixed(1)} % (video readyState ${r.state}): the video failed with MediaError code ${r.code}`);
  } finally {
    await b.close();
    await demo.stop();
  }
});

test('webswarm.fetch gets a torrent from its webseed alone; a webseed with wrong bytes is dropped', { timeout: 120_000 }, async () => {
  const { dir, file, data } = tempFile(5 * 1024 * 1024 + 99, 'model.glb');
  const bad = Buffer.from(data);
  for (let i = 0; i < bad.length; i += 4096) bad[i] ^= 0xff;
  let badRequests = 0;
  const site = await startStatic({
    extra: { '/good/model.glb': file, '/bad/model.glb': bad },
    onRequest: (p) => { if (p.startsWith('/bad/')) badRequests++; },
  });
  const b = await browser();
  try {
    const make = async (base, out) => {
      await runWebswarm(['create', file, '--webseed', base + 'model.glb', '-o', out]);
      return fs.readFileSync(out);
    };
    const good = await make(site.url + 'good/', path.join(dir, 'good.torrent'));
    const badT = await make(site.url + 'bad/', path.join(dir, 'bad.torrent'));
    const page = await openPage(b, site.url);
    const got = await page.evaluate(async (bytes) => {
      const client = new window.webswarm.Client({ storage: 'memory', trackers: [] });
      const started = performance.now();
      const res = await window.webswarm.fetch(new Uint8Array(bytes), { client, path: 'model.glb' });
      const buf = await res.arrayBuffer();
      const t = client.torrents[0];
      return {
        hex: await window.sha256hex(buf),
        type: res.headers.get('content-type'),
        peers: t.numPeers,
        seconds: (performance.now() - started) / 1000,
      };
    }, [...good]);
    assert.equal(got.hex, sha256(data), 'webswarm.fetch returned different bytes');
    assert.equal(got.type, 'model/gltf-binary');
    assert.equal(got.peers, 0, 'no peers: everything came from the webseed');
    console.log(`webseed alone: 5 MiB in ${got.seconds.toFixed(2)} s`);
    const warned = await page.evaluate(async (bytes) => {
      const client = new window.webswarm.Client({ storage: 'memory', trackers: [] });
      const t = await client.add(new Uint8Array(bytes));
      const msg = await new Promise((resolve) => t.addEventListener('warning', (e) => {
        if (/stopped using webseed/.test(e.detail)) resolve(e.detail);
      }));
      await new Promise((r) => setTimeout(r, 1000));
      return { msg, progress: t.progress };
    }, [...badT]);
    assert.match(warned.msg, /failed verification/);
    assert.equal(warned.progress, 0, 'nothing from the bad webseed was kept');
    const after = badRequests;
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(badRequests, after, 'no more requests after the webseed was dropped');
    console.log(`bad webseed: dropped after ${after} requests: ${warned.msg}`);
  } finally {
    await b.close();
    site.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the real WebTorrent client joins the demo swarm beside the widget', { timeout: 120_000 }, async () => {
  const { dir, file, data } = tempFile(8 * 1024 * 1024 + 5, 'shared.bin');
  const demo = await startDemo([file]);
  const site = await startStatic();
  const b = await browser();
  try {
    const ours = await newPage(b, demo.url + '?webseed=0&storage=memory');
    const wt = await openPage(b, site.url);
    const magnet = demo.info.magnet.replace(/&ws=[^&]*/g, '');
    const got = await wt.evaluate((m) => window.webtorrentDownload(m), magnet);
    assert.equal(got.hex, sha256(data), 'WebTorrent got different bytes');
    await ours.waitForFunction(() => window.demo?.widget?.state === 'done', null, { timeout: 60_000 });
    console.log(`WebTorrent in the demo swarm: 8 MiB in ${got.seconds.toFixed(2)} s`);
  } finally {
    await b.close();
    site.stop();
    await demo.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
