// The browser peer's own behaviour in headless Chromium, two clients of one
// page talking through our tracker: input errors, seeding, transfers,
// OPFS resume (with and without the verified-piece record) and removal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTracker, startStatic, browser, openPage } from './harness.mjs';

/** One tracker, one page; `run(page, tracker)` runs the test body. */
async function inPage(run) {
  const tracker = await startTracker();
  const site = await startStatic();
  const b = await browser();
  try {
    const page = await openPage(b, site.url);
    await page.evaluate(() => {
      window.pattern = (len, seed) => {
        let x = (seed * 2654435761) | 1;
        const d = new Uint8Array(len);
        for (let i = 0; i < len; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; d[i] = x & 255; }
        return d;
      };
      window.same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
      window.client = (storage, tracker) => new window.webswarm.Client({ iceServers: [], storage, trackers: [tracker] });
    });
    return await run(page, tracker.url);
  } finally {
    await b.close();
    site.stop();
    tracker.stop();
  }
}

test('bad input is rejected with a clear error', { timeout: 60_000 }, () => inPage(async (page) => {
  const errors = await page.evaluate(async () => {
    const c = new window.webswarm.Client({ iceServers: [], storage: 'memory' });
    const err = async (p) => { try { await p; return 'no error'; } catch (e) { return e.message; } };
    let ctor = 'no error';
    try { new window.webswarm.Client({ maxConnections: 'many' }); } catch (e) { ctor = e.message; }
    return {
      magnet: await err(c.add('magnet:?xt=urn:btih:nothex')),
      torrent: await err(c.add(new TextEncoder().encode('d4:infoi3ee'))),
      number: await err(c.add(42)),
      storage: await err(c.add('magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567', { storage: 'disk' })),
      seed: await err(c.seed('not a file')),
      ctor,
    };
  });
  assert.match(errors.magnet, /invalid magnet link/);
  assert.match(errors.torrent, /invalid torrent file/);
  assert.match(errors.number, /expected a magnet link/);
  assert.match(errors.storage, /option `storage`/);
  assert.match(errors.seed, /seed takes a File/);
  assert.match(errors.ctor, /option `maxConnections`/);
}));

test('seeding makes a torrent whose data reads back', { timeout: 60_000 }, () => inPage(async (page) => {
  const r = await page.evaluate(async () => {
    const c = new window.webswarm.Client({ iceServers: [], storage: 'memory' });
    const data = window.pattern(300_000, 1);
    const t = await c.seed(new File([data], 'data.bin'), { pieceLength: 65536 });
    const piece1 = new Uint8Array(await crypto.subtle.digest('SHA-1', data.subarray(65536, 131072)));
    const file = t.torrentFile;
    let hashInFile = false;
    for (let i = 0; i + 20 <= file.length && !hashInFile; i++) hashInFile = window.same(file.subarray(i, i + 20), piece1);
    const part = new Uint8Array(await new Blob(await t._blobParts(70_000, 200_000)).arrayBuffer());
    const read = await t._readRange(70_000, 200_000);
    let again = 'no error';
    try { await c.seed(new File([data], 'data.bin'), { pieceLength: 65536 }); } catch (e) { again = e.message; }
    // The .torrent, added elsewhere, is the same torrent.
    const other = new window.webswarm.Client({ iceServers: [], storage: 'memory' });
    const t2 = await other.add(file);
    return {
      length: t.length, done: t.done, magnet: t.magnetURI, hash: t.infoHash, hash2: t2.infoHash, hashInFile,
      part: window.same(part, data.subarray(70_000, 200_000)), read: window.same(read, data.subarray(70_000, 200_000)), again,
    };
  });
  assert.equal(r.length, 300_000);
  assert.ok(r.done);
  assert.ok(r.magnet.startsWith('magnet:?xt=urn:btih:' + r.hash), r.magnet);
  assert.equal(r.hash2, r.hash);
  assert.ok(r.hashInFile, 'the second piece hash is in the .torrent');
  assert.ok(r.part && r.read, 'the seeded data reads back');
  assert.match(r.again, /already added/);
}));

/** In the page: a memory seeder of `len` bytes and a leecher with `storage`, through the tracker. */
const TRANSFER = async ({ storage, len, tracker, seed }) => {
  const data = window.pattern(len, seed);
  const seeder = window.client('memory', tracker);
  const s = await seeder.seed(new File([data], 'data.bin'), { pieceLength: 65536 });
  const leecher = window.client(storage, tracker);
  const l = await leecher.add(s.torrentFile);
  window.keep = { seeder, s, leecher, l, data };
  return { hash: l.infoHash };
};

test('two clients of one page transfer over WebRTC', { timeout: 120_000 }, () => inPage(async (page, tracker) => {
  await page.evaluate(TRANSFER, { storage: 'memory', len: 3 << 20, tracker, seed: 7 });
  const r = await page.evaluate(async () => {
    const { s, l, data } = window.keep;
    await l.whenDone();
    const got = new Uint8Array(await l.files[0].arrayBuffer());
    return { same: window.same(got, data), uploaded: s.uploaded, len: data.length };
  });
  assert.ok(r.same, 'the leecher got different bytes');
  assert.ok(r.uploaded >= r.len, `the seeder uploaded ${r.uploaded} bytes`);
}));

test('an OPFS download resumes after its client is gone, with and without the record', { timeout: 120_000 }, () => inPage(async (page, tracker) => {
  await page.evaluate(TRANSFER, { storage: 'opfs', len: 2 << 20, tracker, seed: 8 });
  const r = await page.evaluate(async () => {
    const { seeder, leecher, l, data } = window.keep;
    await l.whenDone();
    const magnet = 'magnet:?xt=urn:btih:' + l.infoHash;
    leecher.destroy();
    seeder.destroy();
    // Let the last record write land.
    await new Promise((r) => setTimeout(r, 300));
    // A new client (as after a reload) finds every piece verified on disk.
    const again = async () => {
      const t = await new window.webswarm.Client({ iceServers: [], storage: 'opfs' }).add(magnet);
      await t.ready();
      return { t, done: t.done, same: window.same(await t._readRange(0, data.length), data), downloaded: t.downloaded };
    };
    const first = await again();
    first.t._c.destroy();
    await new Promise((r) => setTimeout(r, 300));
    // Losing the record (a reload during its write): the piece files are found and checked.
    const root = await navigator.storage.getDirectory();
    const dir = await (await root.getDirectoryHandle('webswarm')).getDirectoryHandle(l.infoHash);
    await dir.removeEntry('have');
    const second = await again();
    await second.t.destroy({ removeStorage: true });
    return { first: { done: first.done, same: first.same, downloaded: first.downloaded }, second: { done: second.done, same: second.same } };
  });
  assert.deepEqual(r.first, { done: true, same: true, downloaded: 0 }, 'resumed complete, nothing fetched again');
  assert.deepEqual(r.second, { done: true, same: true }, 'recovered every piece file without the record');
}));

// Two pages of one site (here two clients of one page) add the same torrent
// into OPFS: the first holds its file; the second reads the pieces the first
// stored, keeps its own in memory, says so, and both end with the right bytes.
test('a second client of a torrent held in OPFS reads what is stored and keeps the rest in memory', { timeout: 120_000 }, () => inPage(async (page, tracker) => {
  await page.evaluate(TRANSFER, { storage: 'opfs', len: 4 << 20, tracker, seed: 12 });
  const r = await page.evaluate(async (tracker) => {
    const { s, l, data } = window.keep;
    while (l.progress < 0.5) await new Promise((r) => setTimeout(r, 20));
    const second = window.client('opfs', tracker);
    const t = await second.add(s.torrentFile);
    const warnings = [];
    t.on('warning', (w) => warnings.push(w));
    await t.ready();
    const atStart = t.progress;
    await t.whenDone();
    await l.whenDone();
    const same = window.same(new Uint8Array(await t.files[0].arrayBuffer()), data)
      && window.same(new Uint8Array(await l.files[0].arrayBuffer()), data);
    second.destroy();
    await l.destroy({ removeStorage: true });
    return { warnings, atStart, same };
  }, tracker);
  assert.match(r.warnings.join('\n'), /another page of this site is writing this torrent into OPFS/);
  assert.ok(r.atStart > 0.4, `the second client found ${r.atStart} of the torrent stored`);
  assert.ok(r.same, 'different bytes');
}));

// OPFS is written by a worker made from a blob: URL; a page whose CSP
// forbids that (here: no Worker at all) still downloads, into memory.
test('without a worker for OPFS the download goes on in memory, with a warning', { timeout: 120_000 }, () => inPage(async (page, tracker) => {
  const r = await page.evaluate(async (tracker) => {
    window.Worker = undefined;
    const data = window.pattern(1 << 20, 13);
    const s = await window.client('memory', tracker).seed(new File([data], 'data.bin'), { pieceLength: 65536 });
    const t = await window.client('opfs', tracker).add(s.torrentFile);
    const warnings = [];
    t.on('warning', (w) => warnings.push(w));
    await t.whenDone();
    return { warnings, same: window.same(new Uint8Array(await t.files[0].arrayBuffer()), data) };
  }, tracker);
  assert.match(r.warnings.join('\n'), /cannot write into OPFS .*keeps the pieces in memory/);
  assert.ok(r.same, 'different bytes');
}));

test('removing storage mid-download deletes everything', { timeout: 120_000 }, () => inPage(async (page, tracker) => {
  await page.evaluate(TRANSFER, { storage: 'opfs', len: 8 << 20, tracker, seed: 9 });
  const r = await page.evaluate(async () => {
    const { l } = window.keep;
    while (l.progress <= 0.2) await new Promise((r) => setTimeout(r, 20));
    const hash = l.infoHash;
    // Piece and bitfield writes are in flight: removal must wait for them.
    await l.destroy({ removeStorage: true });
    const t = await new window.webswarm.Client({ iceServers: [], storage: 'opfs' }).add('magnet:?xt=urn:btih:' + hash);
    return { length: t.length };
  });
  assert.equal(r.length, null, 'nothing of the torrent is left in OPFS');
}));

// Chromium's offering side drops data that reaches it before it has taken
// our DCEP ACK (its channel is not open yet): a handshake was lost in 1 of 40
// first connections. So the answering side holds what it sends until the
// offerer's first message. Two clients' RTC layers are driven directly (their
// modules ignore the unknown handle); what reaches each side is recorded.
test('the answering side sends nothing until the offerer has spoken', { timeout: 60_000 }, () => inPage(async (page) => {
  const r = await page.evaluate(async () => {
    const mk = () => new window.webswarm.Client({ iceServers: [], storage: 'memory' });
    const [a, b] = [mk(), mk()];
    await a.ready();
    await b.ready();
    const seen = new Map([[a, { data: '' }], [b, { data: '' }]]);
    for (const c of [a, b]) {
      const call = c._call.bind(c);
      c._call = (name, args, input) => {
        const s = seen.get(c);
        if (name === 'rtc_data') s.data += new TextDecoder().decode(input);
        if (name === 'offer_made' || name === 'answer_made') s.sdp = input;
        return call(name, args, input);
      };
    }
    const until = async (f) => { for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 10)); return f(); };
    const h = 1000;
    await a._offer(h);
    b._answer(h, seen.get(a).sdp);
    await until(() => seen.get(b).sdp);
    a._accept(h, seen.get(b).sdp);
    const open = () => a._rtc.get(h)?.open && b._rtc.get(h)?.open;
    if (!await until(open)) return { error: 'the channel did not open' };
    const say = (c, text) => { c._send(h, new TextEncoder().encode(text)); c._flush(); };
    say(b, 'answerer first');
    await new Promise((r) => setTimeout(r, 300));
    const beforeOffererSpoke = seen.get(a).data;
    say(a, 'hello');
    await until(() => seen.get(a).data && seen.get(b).data);
    return { beforeOffererSpoke, atOfferer: seen.get(a).data, atAnswerer: seen.get(b).data };
  });
  assert.deepEqual(r, { beforeOffererSpoke: '', atOfferer: 'answerer first', atAnswerer: 'hello' });
}));

// The origin's storage quota runs out mid-download (Chromium's quota is
// lowered through the DevTools protocol): the torrent stops with an error
// that names the quota, nothing crashes, and once there is room again a new
// client finds every piece verified before the failure and finishes. Pieces
// go into one file at their offsets, so the first piece past the quota fails
// it: often after a few pieces, sometimes the first.
test('OPFS quota exceeded: a clear error, and nothing verified is lost', { timeout: 120_000 }, () => inPage(async (page, tracker) => {
  const cdp = await page.context().newCDPSession(page);
  const origin = new URL(page.url()).origin;
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 7 << 20 });
  await page.evaluate(TRANSFER, { storage: 'opfs', len: 8 << 20, tracker, seed: 10 });
  const failed = await page.evaluate(async () => {
    const { l } = window.keep;
    const error = await new Promise((resolve) => { l.on('error', resolve); l.on('done', () => resolve(null)); });
    const at = l.progress;
    // The page lives on, and the torrent stops: checks already in flight
    // may still land (their writes fit), then nothing more.
    await new Promise((r) => setTimeout(r, 1000));
    const later = l.progress;
    await new Promise((r) => setTimeout(r, 1000));
    return { error, at, later, latest: l.progress };
  });
  console.log(`quota: error "${failed.error}" at ${(failed.at * 100).toFixed(1)} %`);
  assert.ok(failed.error, 'the download finished inside a 7 MiB quota');
  assert.match(failed.error, /quota/i);
  assert.ok(failed.at >= 0 && failed.at < 1, `progress at the error: ${failed.at}`);
  assert.equal(failed.latest, failed.later, 'the torrent went on after its storage failed');
  await cdp.send('Storage.overrideQuotaForOrigin', { origin });
  const again = await page.evaluate(async (tracker) => {
    const { leecher, l, data } = window.keep;
    leecher.destroy();
    const t = await window.client('opfs', tracker).add('magnet:?xt=urn:btih:' + l.infoHash);
    await t.ready();
    const atStart = t.progress;
    await t.whenDone();
    const same = window.same(new Uint8Array(await t.files[0].arrayBuffer()), data);
    await t.destroy({ removeStorage: true });
    return { atStart, same };
  }, tracker);
  console.log(`quota: ${(again.atStart * 100).toFixed(0)} % found again with room`);
  assert.ok(again.atStart >= failed.later, `${failed.later} verified before the error, ${again.atStart} found after`);
  assert.ok(again.same, 'the resumed download has different bytes');
}));

// A verified piece's bytes vanish from OPFS (the data file cut short: a
// truncated file, or storage the browser lost): asked for it, the peer says
// so, stops offering it and fetches it again, instead of refusing it for ever.
test('a piece gone from OPFS is reported and fetched again', { timeout: 120_000 }, () => inPage(async (page, tracker) => {
  await page.evaluate(TRANSFER, { storage: 'opfs', len: 2 << 20, tracker, seed: 11 });
  const r = await page.evaluate(async (tracker) => {
    const { seeder, s, l, data } = window.keep;
    await l.whenDone();
    const warnings = [];
    l.on('warning', (w) => warnings.push(w));
    // The store's worker lets go of the file (and opens it again when next asked).
    await l._store.close();
    l._store.done = false;
    const root = await navigator.storage.getDirectory();
    const dir = await (await root.getDirectoryHandle('webswarm')).getDirectoryHandle(l.infoHash);
    const w = await (await dir.getFileHandle('data')).createWritable({ keepExistingData: true });
    await w.truncate(31 * 65536);
    await w.close();
    // The OPFS leecher is now the only source: a new peer asks it for everything.
    seeder.destroy();
    const other = await window.client('memory', tracker).add(s.torrentFile);
    while (!warnings.length) await new Promise((r) => setTimeout(r, 20));
    const missing = !l.done;
    // A seeder comes back: piece 31 is fetched again, and both finish.
    window.client('memory', tracker).seed(new File([data], 'data.bin'), { pieceLength: 65536 });
    // `done` fires again: a repaired torrent is complete anew.
    await l.whenDone();
    await other.whenDone();
    const same = window.same(new Uint8Array(await l.files[0].arrayBuffer()), data)
      && window.same(new Uint8Array(await other.files[0].arrayBuffer()), data);
    await l.destroy({ removeStorage: true });
    return { warnings, missing, same };
  }, tracker);
  assert.match(r.warnings[0], /piece 31 is no longer in storage/);
  assert.ok(r.missing, 'the piece was still counted as verified');
  assert.ok(r.same, 'different bytes after the repair');
}));
