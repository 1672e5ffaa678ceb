// Two real WebTorrent clients, each in its own headless Chromium, find each
// other through webswarm-tracker and transfer a file; the content is compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTracker, startStatic, browser, openPage } from './harness.mjs';

const SIZE = 4 * 1024 * 1024;

test('WebTorrent browser clients transfer a file through webswarm-tracker', { timeout: 120_000 }, async () => {
  const tracker = await startTracker();
  const site = await startStatic();
  const [b1, b2] = [await browser(), await browser()];
  try {
    const seederPage = await openPage(b1, site.url);
    const leecherPage = await openPage(b2, site.url);
    const seeded = await seederPage.evaluate(async ({ size, announce }) => {
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
      const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', data)));
      const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
      window.client = client;
      const magnet = await new Promise((resolve, reject) => {
        client.on('error', reject);
        client.seed(new File([data], 'payload.bin'), { announce: [announce] }, (t) => resolve(t.magnetURI));
      });
      return { magnet, digest };
    }, { size: SIZE, announce: tracker.url });

    const got = await leecherPage.evaluate(async ({ magnet, announce }) => {
      const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
      const started = performance.now();
      return new Promise((resolve, reject) => {
        client.on('error', reject);
        client.add(magnet, { announce: [announce] }, (t) => {
          t.on('done', async () => {
            const blob = await t.files[0].blob();
            const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())));
            resolve({ digest, length: t.length, seconds: (performance.now() - started) / 1000, peers: t.numPeers });
          });
        });
      });
    }, { magnet: seeded.magnet, announce: tracker.url });

    assert.equal(got.length, SIZE);
    assert.deepEqual(got.digest, seeded.digest, 'downloaded bytes differ from the seeded ones');
    console.log(`transferred ${SIZE / 1048576} MiB in ${got.seconds.toFixed(2)} s through ${tracker.url}`);

    const stats = await (await fetch(`http://127.0.0.1:${tracker.port}/stats.json`)).json();
    assert.ok(stats.offers_relayed >= 1 && stats.answers_relayed >= 1, JSON.stringify(stats));
    assert.equal(stats.answers_refused, 0, JSON.stringify(stats));
  } finally {
    await b1.close();
    await b2.close();
    site.stop();
    tracker.stop();
  }
});
