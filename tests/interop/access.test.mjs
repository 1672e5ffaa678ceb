// A tracker that requires signed tokens: the token rides in the tracker URL's
// query string, and our browser peer and native peer both pass it through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startTracker, startStatic, browser, openPage, runWebswarm, ourDownload, randomFile, sha256,
} from './harness.mjs';


/** What a site's backend does (README: "Access control"). */
function token(secret, ihHex, ttlSecs, scope = 'announce') {
  const payload = `${ihHex}.${Math.floor(Date.now() / 1000) + ttlSecs}.${scope}`;
  return `${payload}.${crypto.createHmac('sha256', secret).update(payload).digest('hex')}`;
}

test('tokens in the tracker URL reach the tracker from our browser and native peers', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-access-'));
  const secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, 'site-secret\n');
  const tracker = await startTracker({ args: ['--token-secret-file', secretFile] });
  const site = await startStatic();
  const b = await browser();
  let seed;
  try {
    const { file, data } = randomFile(dir, 'token.bin', 4 * 1024 * 1024);
    // The native seeder's token is for any torrent (it does not know the
    // info-hash before hashing); the page's is for this torrent only.
    const any = `${tracker.url}/announce?token=${token('site-secret', '*', 600)}`;
    seed = await runWebswarm(['seed', file, '--tracker', any, '--bind', '127.0.0.1'], {
      ready: (l) => l.startsWith('magnet:'),
    });
    const magnet = seed.line.trim().replace(/&tr=[^&]*/g, '');
    const ih = magnet.match(/btih:([0-9a-f]{40})/i)[1].toLowerCase();
    const url = `${tracker.url}/announce?token=${token('site-secret', ih, 600)}`;
    const got = await ourDownload(await openPage(b, site.url), magnet, { tracker: url, storage: 'memory' });
    assert.equal(got.hex, sha256(data));
    const metrics = await (await fetch(`http://127.0.0.1:${tracker.port}/metrics`)).text();
    assert.match(metrics, /webswarm_tracker_refusals_total\{kind="token_invalid"\} 0/);
    assert.match(metrics, /webswarm_tracker_refusals_total\{kind="token_missing"\} 0/);
    assert.match(metrics, /webswarm_tracker_offers_relayed_total [1-9]/);
  } finally {
    seed?.child.kill('SIGINT');
    await b.close();
    site.stop();
    tracker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
