// IPv6: a browser whose host has only an IPv6 address, dual-stack browsers
// and native peers, and an IPv4-only browser, all in one swarm of one tracker
// bound to [::] (which takes IPv4 too). Hosts are network namespaces with
// public addresses of their own (netns.mjs); no NAT. A peer can only reach
// another over an address family both have, so each download below says
// which family carried it. Every transfer is checked by SHA-256.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startTracker, startStatic, browser, openPage, runWebswarm, ourDownload, ourSeed, randomFile, sha256,
} from './harness.mjs';
import { Topology, PUBLIC, PUBLIC6 } from './netns.mjs';

const MiB = 1024 * 1024;

/**
 * Keeps, in the page, the address family of the pair ICE selected on each
 * connection once it connects (two seeds close their connection when done).
 */
function recordFamilies(page) {
  return page.evaluate(() => {
    const Pc = window.RTCPeerConnection;
    window.families = new Set();
    window.RTCPeerConnection = class extends Pc {
      constructor(...a) {
        super(...a);
        this.addEventListener('connectionstatechange', async () => {
          if (this.connectionState !== 'connected') return;
          const s = await this.getStats();
          s.forEach((r) => {
            if (r.type !== 'transport' || !r.selectedCandidatePairId) return;
            const remote = s.get(s.get(r.selectedCandidatePairId).remoteCandidateId);
            window.families.add(remote.address?.includes(':') ? 'IPv6' : 'IPv4');
          });
        });
      }
    };
  });
}

const families = (page) => page.evaluate(() => [...window.families]);

test('an IPv6-only browser, dual-stack browsers and native peers, and an IPv4-only browser share one swarm', { timeout: 240_000 }, async () => {
  const topo = new Topology();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-ipv6-'));
  const tracker = await startTracker({ host: '::' });
  const site = await startStatic({ host: '::' });
  const browsers = [];
  const children = [];
  const url = {
    tracker4: `ws://${PUBLIC}:${tracker.port}`,
    tracker6: `ws://[${PUBLIC6}]:${tracker.port}`,
    page4: `http://${PUBLIC}:${site.port}`,
    page6: `http://[${PUBLIC6}]:${site.port}`,
  };
  const pageOn = async (h, origin) => {
    const b = await browser({ netns: h.ns, secureOrigin: origin });
    browsers.push(b);
    const p = await openPage(b, `${origin}/`);
    await recordFamilies(p);
    return p;
  };
  try {
    const six = topo.publicHost('six', { v4: false, v6: true });
    const dual = topo.publicHost('dual', { v4: true, v6: true });
    const four = topo.publicHost('four');
    const seeder = topo.publicHost('seeder', { v4: true, v6: true });
    const leecher = topo.publicHost('leecher', { v4: false, v6: true });

    // A dual-stack native seeder, announcing over IPv6.
    const { file, data } = randomFile(dir, 'dual.bin', 8 * MiB + 3);
    const s = await runWebswarm(['seed', file, '--tracker', url.tracker6],
      { ready: (l) => l.startsWith('magnet:'), netns: seeder.ns });
    children.push(s.child);
    const magnet = s.line.trim();

    // The IPv6-only browser can only use the seeder's IPv6 candidate.
    const p6 = await pageOn(six, url.page6);
    const got6 = await ourDownload(p6, magnet, { tracker: url.tracker6, storage: 'memory' });
    assert.equal(got6.hex, sha256(data), 'different bytes native -> IPv6-only browser');
    assert.deepEqual(await families(p6), ['IPv6']);

    // The IPv4-only browser, in the same swarm through the tracker's IPv4 address.
    const p4 = await pageOn(four, url.page4);
    const got4 = await ourDownload(p4, magnet, { tracker: url.tracker4, storage: 'memory' });
    assert.equal(got4.hex, sha256(data), 'different bytes native -> IPv4-only browser');
    assert.deepEqual(await families(p4), ['IPv4']);

    // The IPv6-only browser seeds; a dual-stack browser (announcing over
    // IPv4) and a native peer on another IPv6-only host fetch it.
    const mine = await ourSeed(p6, 4 * MiB + 1, url.tracker6);
    const pd = await pageOn(dual, url.page4);
    const gotDual = await ourDownload(pd, mine.magnet, { tracker: url.tracker4, storage: 'memory' });
    assert.equal(gotDual.hex, mine.hex, 'different bytes IPv6-only browser -> dual-stack browser');
    assert.deepEqual(await families(pd), ['IPv6']);
    const out = path.join(dir, 'got');
    await runWebswarm(['get', mine.magnet, '-o', out], { netns: leecher.ns, timeoutMs: 90_000 });
    assert.equal(sha256(fs.readFileSync(path.join(out, 'from-webswarm.bin'))), mine.hex,
      'different bytes IPv6-only browser -> IPv6-only native peer');

    console.log(`IPv6: native (dual-stack) -> IPv6-only browser 8 MiB in ${got6.seconds.toFixed(2)} s, `
      + `-> IPv4-only browser ${got4.seconds.toFixed(2)} s; IPv6-only browser -> dual-stack browser 4 MiB `
      + `${gotDual.seconds.toFixed(2)} s, -> IPv6-only native peer (done)`);
  } finally {
    for (const c of children) c.kill('SIGINT');
    for (const b of browsers) await b.close();
    site.stop();
    tracker.stop();
    topo.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
