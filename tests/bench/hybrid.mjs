// Issue 16's benchmark: webswarm on the classic wires against a classic
// client, side by side in one run (all on loopback), over TCP, then over uTP
// (libtorrent set to that one wire):
//   libtorrent -> libtorrent (the reference),
//   libtorrent -> `webswarm get`,
//   `webswarm seed` -> libtorrent,
// and over TCP:
//   libtorrent -> `webswarm get --seed` (a bridge started with the page, so
//   the data is not on it yet) -> our browser peer in headless Chromium,
//   against `webswarm seed` -> the same browser peer directly.
// Prints MB/s (10^6 bytes), CPU seconds per GiB of the downloader and of the
// seeder, the first piece, and ratios to the reference. Run it in a
// loopback-only namespace (cargo xtask bench-hybrid does):
//   unshare --net sh -c 'ip link set lo up && exec "$@"' sh node bench/hybrid.mjs [MiB] [runs]
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  webswarmBinary, randomFile, startTracker, startStatic, browser, browserCpu, openPage, pageDownloadAll, sha256, pidCpu,
} from '../interop/harness.mjs';

const MIB = Number(process.argv[2] || 256);
const RUNS = Number(process.argv[3] || 3);
// `classic`: the TCP and uTP rows only, no browser; `browser`: the bridge and
// direct rows only.
const CLASSIC_ONLY = process.argv[4] === 'classic';
const BROWSER_ONLY = process.argv[4] === 'browser';
const SIZE = MIB * 1024 * 1024;
const GIB = SIZE / 2 ** 30;
const PY = '/usr/bin/python3';
const say = (m) => process.env.BENCH_DEBUG && console.error(m);
const PEER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'libtorrent_peer.py');

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

/** Starts a long-running process; resolves once a line of its output matches. */
function start(cmd, args, ready) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const look = (d) => {
      out += d;
      if (ready.test(out)) resolve(child);
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', (c) => reject(new Error(`${cmd} exited (${c}): ${out}`)));
  });
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (c) => (c === 0 ? resolve(out) : reject(new Error(`${cmd} failed (${c}): ${out}`))));
    const timer = setTimeout(() => { say(`${cmd} still running: ${out.slice(-500)}`); }, 20_000);
    child.on('exit', () => clearTimeout(timer));
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-hybrid-'));
const src = path.join(dir, 'src');
fs.mkdirSync(src);
const want = sha256(randomFile(src, 'big.bin', SIZE).data);
// Our tracker's HTTP side (opentracker is whitelist-only as Debian builds it).
const tracker = await startTracker();
const torrent = path.join(dir, 'big.torrent');
const created = execFileSync(webswarmBinary(), ['create', path.join(src, 'big.bin'), '-t',
  `http://127.0.0.1:${tracker.port}/announce`, '-o', torrent]).toString();

const WIRES = ['tcp', 'utp'];
const rows = { bridge: [], direct: [] };
for (const w of WIRES) Object.assign(rows, { [`ref-${w}`]: [], [`get-${w}`]: [], [`seed-${w}`]: [] });
const same = (f) => execFileSync('cmp', [path.join(src, 'big.bin'), f]);

async function libtorrentSeeder(wire = 'tcp') {
  const port = await freePort();
  const child = await start(PY, [PEER, 'seed', wire, torrent, src, String(port)], /ready/);
  child.port = port;
  return child;
}

async function libtorrentGet(seeder, port, wire) {
  const dest = fs.mkdtempSync(path.join(dir, 'lt-'));
  const before = pidCpu(seeder.pid);
  const r = JSON.parse((await run(PY, [PEER, 'get', wire, torrent, dest, String(port)])).trim().split('\n').pop());
  same(path.join(dest, 'big.bin'));
  fs.rmSync(dest, { recursive: true });
  return { secs: r.secs, first: r.first, cpu: r.cpu, seedCpu: pidCpu(seeder.pid) - before };
}

async function webswarmGet(seeder) {
  const dest = fs.mkdtempSync(path.join(dir, 'ws-'));
  const before = pidCpu(seeder.pid);
  const out = await run(webswarmBinary(), ['get', torrent, '-o', dest, '--listen-port', String(await freePort())]);
  const m = out.match(/in ([\d.]+) s, [\d.]+ MB\/s, first piece after ([\d.]+) s.*cpu ([\d.]+) s/);
  same(path.join(dest, 'big.bin'));
  fs.rmSync(dest, { recursive: true });
  return { secs: Number(m[1]), first: Number(m[2]), cpu: Number(m[3]), seedCpu: pidCpu(seeder.pid) - before };
}

const site = await startStatic();
const b = await browser({ tag: 'bench-hybrid' });
// The browser's magnet names the WebSocket side of the same tracker.
const magnet = `magnet:?xt=urn:btih:${created.match(/btih:([0-9a-fA-F]{40})/)[1]}&tr=${encodeURIComponent(tracker.url)}`;

/**
 * Our browser peer gets the torrent while the process `serve()` starts
 * serves it: seconds, first piece, CPU of the browser and of that process.
 */
async function toBrowser(serve) {
  const page = await openPage(b, site.url);
  const cpu0 = browserCpu('bench-hybrid');
  const { pid, stop } = await serve();
  const r = await pageDownloadAll(page, magnet, tracker.url, 'webswarm');
  if (r.hashes[0] !== want) throw new Error('the browser got different bytes');
  const cpu = browserCpu('bench-hybrid') - cpu0;
  const seedCpu = pidCpu(pid);
  await stop();
  await page.close();
  return { secs: r.seconds, first: r.firstPiece, cpu, seedCpu };
}

const exited = (child) => new Promise((r) => { child.once('exit', r); child.kill('SIGINT'); });

async function bridgeToBrowser() {
  const seeder = await libtorrentSeeder();
  const dest = fs.mkdtempSync(path.join(dir, 'bridge-'));
  return toBrowser(async () => {
    const bridge = spawn(webswarmBinary(), ['get', torrent, '--seed', '--tracker', tracker.url, '--bind', '127.0.0.1',
      '--listen-port', String(await freePort()), '-o', dest], { stdio: 'ignore' });
    const stop = async () => {
      await exited(bridge);
      seeder.kill();
      fs.rmSync(dest, { recursive: true });
    };
    return { pid: bridge.pid, stop };
  });
}

async function directToBrowser() {
  return toBrowser(async () => {
    const seeder = await start(webswarmBinary(), ['seed', torrent, '--dir', src, '--tracker', tracker.url, '--bind', '127.0.0.1',
      '--no-tcp'], /magnet:/);
    return { pid: seeder.pid, stop: () => exited(seeder) };
  });
}

/** The three classic rows of one run over `wire`. */
async function classicRows(wire) {
  // A fresh seeder per row: libtorrent serves the second download from its cache.
  let seeder = await libtorrentSeeder(wire);
  rows[`ref-${wire}`].push(await libtorrentGet(seeder, seeder.port, wire));
  seeder.kill();
  seeder = await libtorrentSeeder(wire);
  rows[`get-${wire}`].push(await webswarmGet(seeder));
  seeder.kill();
  const port = await freePort();
  seeder = await start(webswarmBinary(), ['seed', torrent, '--dir', src, '--listen-port', String(port)], /magnet:/);
  rows[`seed-${wire}`].push(await libtorrentGet(seeder, port, wire));
  seeder.kill();
  say(`${wire} rows done`);
}

for (let i = 0; i < RUNS; i++) {
  say(`run ${i}`);
  if (!BROWSER_ONLY) for (const w of WIRES) await classicRows(w);
  if (CLASSIC_ONLY) continue;
  rows.bridge.push(await bridgeToBrowser());
  say('bridge -> browser done');
  rows.direct.push(await directToBrowser());
  say('direct -> browser done');
}
await b.close();
site.stop();
await tracker.kill();
fs.rmSync(dir, { recursive: true });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mbps = (r) => SIZE / r.secs / 1e6;
const line = (name, rs) => {
  const m = median(rs.map(mbps));
  console.log(`${name.padEnd(40)} ${rs.map((r) => mbps(r).toFixed(1)).join(' / ').padEnd(22)} MB/s  median ${m.toFixed(1)}`
    + `  downloader ${(median(rs.map((r) => r.cpu)) / GIB).toFixed(2)} s/GiB`
    + `  seeder ${(median(rs.map((r) => r.seedCpu)) / GIB).toFixed(2)} s/GiB`
    + `  first piece ${median(rs.map((r) => r.first ?? NaN)).toFixed(2)} s`);
  return m;
};
console.log(`bench-hybrid: ${MIB} MiB on loopback, ${RUNS} runs (load ${os.loadavg()[0].toFixed(2)})`);
const ratios = [];
for (const w of BROWSER_ONLY ? [] : WIRES) {
  const ref = line(`libtorrent -> libtorrent ${w} (reference)`, rows[`ref-${w}`]);
  const get = line(`libtorrent -> webswarm get ${w}`, rows[`get-${w}`]);
  const seed = line(`webswarm seed -> libtorrent ${w}`, rows[`seed-${w}`]);
  ratios.push(`${w}: downloading ${(get / ref).toFixed(2)}x, seeding ${(seed / ref).toFixed(2)}x`);
}
if (!CLASSIC_ONLY) {
  const bridge = line('libtorrent -> bridge -> browser', rows.bridge);
  const direct = line('webswarm seed -> browser (direct)', rows.direct);
  ratios.push(`bridge -> browser ${(bridge / direct).toFixed(2)}x direct`);
}
console.log(`ratios to the reference: ${ratios.join('; ')}`);
