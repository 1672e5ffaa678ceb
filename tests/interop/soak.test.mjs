// Soak with churn: one tracker, one native seeder (two torrents, upload
// capped so leechers trade with each other), and a population of native
// `webswarm get` processes and browser pages that join, download, and leave,
// seed for a while, or get killed at random, lifetime after lifetime.
// Checked: every finished download is byte-exact; no lifetime stalls; the
// tracker's and seeder's RSS is flat after the warm-up (end within 10 % of
// warm); once the population is gone their file descriptors and the seeder's
// tasks are back to where they started; no panic in any log.
//
// CI runs 2 minutes; `cargo xtask soak 30` runs the long one
// (WEBSWARM_SOAK_MINUTES, _NATIVE, _PAGES, _SEED, _REPORT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { startTracker, startStatic, browser, webswarmBinary } from './harness.mjs';
import { procSample, getJson, rssCurve } from './soak/monitor.mjs';
import { nativeLifetime, browserLifetime, rngFrom, sleep } from './soak/population.mjs';

const env = process.env;
const MINUTES = Number(env.WEBSWARM_SOAK_MINUTES || 2);
const RUN_MS = MINUTES * 60_000;
const LONG = MINUTES >= 10;
const NATIVE_SLOTS = Number(env.WEBSWARM_SOAK_NATIVE || (LONG ? 6 : 3));
const PAGE_SLOTS = Number(env.WEBSWARM_SOAK_PAGES || (LONG ? 2 : 1));
const SEED = Number(env.WEBSWARM_SOAK_SEED || Date.now() % 1e9);
const WARMUP_MS = Math.max(30_000, RUN_MS / 4);
const MiB = 1024 * 1024;

/** `webswarm seed` on `files`; resolves once it printed a magnet for each. */
function startSeeder(files, tracker) {
  const child = spawn(webswarmBinary(), [
    'seed', ...files, '--tracker', tracker, '--bind', '127.0.0.1',
    '--max-upload-rate', '2M', '--status-every', '2',
  ], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const seeder = { child, pid: child.pid, stderr: '', status: null, magnets: [] };
  child.stderr.on('data', (c) => { seeder.stderr += c; });
  const lines = readline.createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`seeder exited with ${code}: ${seeder.stderr}`)));
    lines.on('line', (line) => {
      if (line.startsWith('magnet:')) {
        seeder.magnets.push(line.trim());
        if (seeder.magnets.length === files.length) resolve(seeder);
      } else if (line.startsWith('{')) {
        seeder.status = JSON.parse(line);
      }
    });
  });
}

function makeTorrentFiles(dir) {
  return [['soak-a.bin', 8 * MiB], ['soak-b.bin', 3 * MiB]].map(([name, size]) => {
    const file = path.join(dir, name);
    const data = crypto.randomBytes(size);
    fs.writeFileSync(file, data);
    return { name, file, sha256: crypto.createHash('sha256').update(data).digest('hex') };
  });
}

test(`soak: ${MINUTES} min of churn against one tracker and one seeder`, { timeout: RUN_MS + 600_000 }, async () => {
  const rng = rngFrom(SEED);
  const pick = (xs) => xs[Math.floor(rng() * xs.length)];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-soak-'));
  const torrents = makeTorrentFiles(dir);
  const tracker = await startTracker();
  const stats = `http://127.0.0.1:${tracker.port}/stats.json`;
  const seeder = await startSeeder(torrents.map((t) => t.file), tracker.url);
  torrents.forEach((t, i) => { t.magnet = seeder.magnets[i]; });
  const site = await startStatic();
  const b = await browser();
  await sleep(3_000);
  const baseline = {
    tracker: procSample(tracker.pid),
    seeder: procSample(seeder.pid),
    seederTasks: seeder.status?.tasks,
    seederRtcTasks: seeder.status?.rtc_tasks,
  };

  const t0 = Date.now();
  const samples = [];
  const sampler = setInterval(async () => {
    const s = { t: Date.now() - t0, tracker: procSample(tracker.pid), seeder: procSample(seeder.pid), tasks: seeder.status?.tasks, rtcTasks: seeder.status?.rtc_tasks, peers: seeder.status?.peers };
    s.connections = (await getJson(stats).catch(() => null))?.connections;
    samples.push(s);
  }, 2_000);

  const lifetimes = [];
  const resumable = torrents.map(() => []);
  let dirs = 0;
  const deadline = t0 + RUN_MS;
  const fate = () => { const r = rng(); return r < 0.4 ? 'leave' : r < 0.65 ? 'seed' : 'kill'; };
  const nativeSlot = async () => {
    while (Date.now() < deadline) {
      const i = Math.floor(rng() * torrents.length);
      const into = resumable[i].length && rng() < 0.6 ? resumable[i].shift() : path.join(dir, `dl-${dirs++}`);
      const r = await nativeLifetime({ torrent: torrents[i], dir: into, fate: fate(), stayMs: 2_000 + rng() * 15_000, killMs: 200 + rng() * 6_000 });
      lifetimes.push(r);
      if (r.killed) resumable[i].push(into);
      else fs.rmSync(into, { recursive: true, force: true });
      await sleep(rng() * 2_000);
    }
  };
  const pageSlot = async () => {
    while (Date.now() < deadline) {
      lifetimes.push(await browserLifetime({ b, siteUrl: site.url, tracker: tracker.url, torrent: pick(torrents), fate: fate(), stayMs: 2_000 + rng() * 10_000, killMs: 300 + rng() * 5_000 }));
      await sleep(rng() * 2_000);
    }
  };
  await Promise.all([
    ...Array.from({ length: NATIVE_SLOTS }, nativeSlot),
    ...Array.from({ length: PAGE_SLOTS }, pageSlot),
  ]);
  const runMs = Date.now() - t0;
  await b.close();

  // Quiet: the population is gone; wait for the tracker and seeder to notice.
  const quietBy = Date.now() + 90_000;
  let quiet;
  while (Date.now() < quietBy) {
    const st = await getJson(stats).catch(() => null);
    if (st?.connections === 1 && seeder.status?.peers === 0) { quiet = st; break; }
    await sleep(1_000);
  }
  await sleep(2_500);
  clearInterval(sampler);
  const after = { tracker: procSample(tracker.pid), seeder: procSample(seeder.pid), seederTasks: seeder.status?.tasks, seederRtcTasks: seeder.status?.rtc_tasks };

  const curve = (who) => rssCurve(samples.map((s) => ({ t: s.t, rssKiB: s[who]?.rssKiB })).filter((s) => s.rssKiB), WARMUP_MS, runMs);
  const count = (f) => lifetimes.filter(f).length;
  const report = {
    minutes: MINUTES, seed: SEED, nativeSlots: NATIVE_SLOTS, pageSlots: PAGE_SLOTS,
    lifetimes: lifetimes.length,
    native: count((l) => l.kind === 'native'), browser: count((l) => l.kind === 'browser'),
    completed: count((l) => l.completed), killed: count((l) => l.killed),
    resumedNative: count((l) => l.resumed), resumedAndCompleted: count((l) => l.resumed && l.completed),
    failures: lifetimes.filter((l) => l.failure).map((l) => `${l.kind} ${l.fate} ${l.torrent}: ${l.failure}`),
    rss: { tracker: curve('tracker'), seeder: curve('seeder') },
    baseline, after, quiet: quiet ?? null,
    curve: samples.filter((_, i) => i % 15 === 0).map((s) => ({ t: Math.round(s.t / 1000), trackerKiB: s.tracker?.rssKiB, seederKiB: s.seeder?.rssKiB, peers: s.peers, tasks: s.tasks, rtcTasks: s.rtcTasks, connections: s.connections })),
  };
  if (env.WEBSWARM_SOAK_REPORT) fs.writeFileSync(env.WEBSWARM_SOAK_REPORT, JSON.stringify(report, null, 2));
  console.log(JSON.stringify({ ...report, curve: undefined }, null, 1));

  const panics = [tracker.output(), seeder.stderr, ...lifetimes.map((l) => l.stderr)].filter((s) => s.includes('panicked'));
  const seederExited = new Promise((r) => seeder.child.once('exit', r));
  seeder.child.kill('SIGINT');
  await seederExited;
  tracker.stop();
  site.stop();
  fs.rmSync(dir, { recursive: true, force: true });

  assert.deepEqual(report.failures, []);
  assert.equal(panics.length, 0, `panics:\n${panics.join('\n---\n').slice(0, 3000)}`);
  assert.ok(count((l) => l.kind === 'native' && l.completed) > 0, 'no native download finished');
  assert.ok(count((l) => l.kind === 'browser' && l.completed) > 0, 'no page download finished');
  assert.ok(quiet, `tracker or seeder never saw the population leave: connections ${samples.at(-1)?.connections}, seeder peers ${seeder.status?.peers}`);
  for (const who of ['tracker', 'seeder']) {
    const c = report.rss[who];
    assert.ok(c.endKiB <= c.warmKiB * 1.1, `${who} RSS grew after warm-up: ${c.warmKiB} -> ${c.endKiB} KiB`);
    assert.ok(after[who].fds <= baseline[who].fds + 2, `${who} fds: ${baseline[who].fds} at start, ${after[who].fds} once the population left`);
  }
  assert.ok(after.seederTasks <= baseline.seederTasks + 2, `seeder tasks: ${baseline.seederTasks} at start, ${after.seederTasks} once the population left`);
});
