// The soak's peers, one lifetime at a time: a native `webswarm get` or a
// browser page joins, downloads, and then leaves, seeds for a while, or is
// killed (SIGKILL, or the page closed) at a random moment. Each lifetime
// reports what happened; a finished download is checked byte for byte.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { webswarmBinary } from '../harness.mjs';

/** No lifetime's download may take longer than this: past it, it stalled. */
export const STALL_MS = 120_000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A small seeded PRNG (mulberry32), so a run can be repeated. */
export function rngFrom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha256File = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Resolves with what `promise` gives, or `onTimeout` after `ms`. */
function within(promise, ms, onTimeout) {
  let timer;
  return Promise.race([promise, new Promise((r) => { timer = setTimeout(() => r(onTimeout), ms); })])
    .finally(() => clearTimeout(timer));
}

/**
 * One `webswarm get` of `torrent` into `dir` (which may hold an earlier,
 * killed lifetime's partial download). `fate`: 'leave' (exit when done),
 * 'seed' (`--seed`, stopped with SIGINT after `stayMs`), or 'kill'
 * (SIGKILL after `killMs` unless it finished first).
 */
export async function nativeLifetime({ torrent, dir, fate, stayMs, killMs }) {
  const started = Date.now();
  const args = ['get', torrent.magnet, '-o', dir, '--bind', '127.0.0.1'];
  if (fate === 'seed') args.push('--seed');
  const child = spawn(webswarmBinary(), args, {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let downloaded;
  const done = new Promise((r) => { downloaded = r; });
  child.stderr.on('data', (c) => {
    stderr += c;
    if (stderr.includes('\ndownloaded ') || stderr.startsWith('downloaded ')) downloaded();
  });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const result = { kind: 'native', fate, torrent: torrent.name, resumed: fs.existsSync(path.join(dir, torrent.name)) };
  const finish = (extra) => ({ ...result, ...extra, seconds: (Date.now() - started) / 1000, stderr });

  if (fate === 'kill') {
    const ended = await within(exited, killMs, null);
    if (ended === null) {
      child.kill('SIGKILL');
      await exited;
      return finish({ killed: true });
    }
    return checkNative(finish({ exit: ended }), dir, torrent);
  }
  const first = await within(Promise.race([done, exited]), STALL_MS, 'stalled');
  if (first === 'stalled') {
    child.kill('SIGKILL');
    await exited;
    return finish({ failure: `stalled: not done after ${STALL_MS / 1000} s` });
  }
  if (fate === 'seed' && first === undefined) {
    await within(exited, stayMs, null);
    child.kill('SIGINT');
  }
  const ended = await within(exited, 30_000, null);
  if (ended === null) {
    child.kill('SIGKILL');
    await exited;
    return finish({ failure: 'did not exit within 30 s of SIGINT' });
  }
  return checkNative(finish({ exit: ended }), dir, torrent);
}

function checkNative(r, dir, torrent) {
  if (r.exit.code !== 0) return { ...r, failure: `exited with ${r.exit.code ?? r.exit.signal}` };
  const file = path.join(dir, torrent.name);
  if (!fs.existsSync(file)) return { ...r, failure: `finished but ${file} is missing` };
  if (sha256File(file) !== torrent.sha256) return { ...r, failure: `${file} differs from the source` };
  return { ...r, completed: true };
}

/**
 * One page of browser `b` downloading `torrent` with our peer (memory
 * storage). `fate`: 'leave' (the client destroyed when done), 'seed'
 * (the page stays `stayMs` after finishing), or 'kill' (the page closed
 * after `killMs`, finished or not).
 */
export async function browserLifetime({ b, siteUrl, tracker, torrent, fate, stayMs, killMs }) {
  const started = Date.now();
  const result = { kind: 'browser', fate, torrent: torrent.name };
  const finish = (extra) => ({ ...result, ...extra, seconds: (Date.now() - started) / 1000, stderr: '' });
  const page = await b.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(siteUrl);
    await page.waitForFunction(() => window.ready === true, null, { timeout: 10_000 });
    await page.evaluate(({ magnet, tracker }) => {
      const client = new window.webswarm.Client({ iceServers: [], trackers: [tracker], storage: 'memory' });
      window.client = client;
      window.outcome = null;
      (async () => {
        const t = await client.add(magnet);
        await t.whenDone();
        const hex = await window.sha256hex(await (await t.files[0].blob()).arrayBuffer());
        window.outcome = { hex };
      })().catch((e) => { window.outcome = { error: String(e) }; });
    }, { magnet: torrent.magnet, tracker });
    const wait = (ms) => page.waitForFunction(() => window.outcome !== null, null, { timeout: ms })
      .then(() => page.evaluate(() => window.outcome), () => null);
    if (fate === 'kill') {
      const outcome = await wait(killMs);
      if (outcome === null) return finish({ killed: true });
      return checkBrowser(finish({}), outcome, torrent, errors);
    }
    const outcome = await wait(STALL_MS);
    if (outcome === null) return finish({ failure: `stalled: not done after ${STALL_MS / 1000} s` });
    if (fate === 'seed') await sleep(stayMs);
    else await page.evaluate(() => window.client.destroy());
    return checkBrowser(finish({}), outcome, torrent, errors);
  } finally {
    await page.close().catch(() => {});
  }
}

function checkBrowser(r, outcome, torrent, errors) {
  if (errors.length) return { ...r, failure: `page errors: ${errors.join('; ').slice(0, 500)}` };
  if (outcome.error) return { ...r, failure: `download failed: ${outcome.error}` };
  if (outcome.hex !== torrent.sha256) return { ...r, failure: 'the page\'s file differs from the source' };
  return { ...r, completed: true };
}
