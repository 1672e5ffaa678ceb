// Issue 16's benchmark: webswarm on the classic TCP wire against a classic
// client, side by side in one run (all on loopback, TCP only):
//   libtorrent -> libtorrent (the reference),
//   libtorrent -> `webswarm get`,
//   `webswarm seed` -> libtorrent.
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
import { webswarmBinary, randomFile, startTracker } from '../interop/harness.mjs';

const MIB = Number(process.argv[2] || 256);
const RUNS = Number(process.argv[3] || 3);
const SIZE = MIB * 1024 * 1024;
const GIB = SIZE / 2 ** 30;
const PY = '/usr/bin/python3';
const say = (m) => process.env.BENCH_DEBUG && console.error(m);
const PEER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'libtorrent_peer.py');

const pidCpu = (pid) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

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
randomFile(src, 'big.bin', SIZE);
// Our tracker's HTTP side (opentracker is whitelist-only as Debian builds it).
const tracker = await startTracker();
const torrent = path.join(dir, 'big.torrent');
execFileSync(webswarmBinary(), ['create', path.join(src, 'big.bin'), '-t',
  `http://127.0.0.1:${tracker.port}/announce`, '-o', torrent], { stdio: 'ignore' });

const rows = { ref: [], get: [], seed: [] };
const same = (f) => execFileSync('cmp', [path.join(src, 'big.bin'), f]);

async function libtorrentSeeder() {
  const port = await freePort();
  const child = await start(PY, [PEER, 'seed', torrent, src, String(port)], /ready/);
  child.port = port;
  return child;
}

async function libtorrentGet(seeder, port) {
  const dest = fs.mkdtempSync(path.join(dir, 'lt-'));
  const before = pidCpu(seeder.pid);
  const r = JSON.parse((await run(PY, [PEER, 'get', torrent, dest, String(port)])).trim().split('\n').pop());
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

for (let i = 0; i < RUNS; i++) {
  say(`run ${i}`);
  // A fresh seeder per row: libtorrent serves the second download from its cache.
  let seeder = await libtorrentSeeder();
  say("seeder up");
  rows.ref.push(await libtorrentGet(seeder, seeder.port));
  say("reference done");
  seeder.kill();
  seeder = await libtorrentSeeder();
  say("seeder up");
  rows.get.push(await webswarmGet(seeder));
  say("webswarm get done");
  seeder.kill();
  const port = await freePort();
  seeder = await start(webswarmBinary(), ['seed', torrent, '--dir', src, '--listen-port', String(port)], /magnet:/);
  rows.seed.push(await libtorrentGet(seeder, port));
  seeder.kill();
}
await tracker.kill();
fs.rmSync(dir, { recursive: true });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mbps = (r) => SIZE / r.secs / 1e6;
const line = (name, rs) => {
  const m = median(rs.map(mbps));
  console.log(`${name.padEnd(34)} ${rs.map((r) => mbps(r).toFixed(1)).join(' / ').padEnd(22)} MB/s  median ${m.toFixed(1)}`
    + `  downloader ${(median(rs.map((r) => r.cpu)) / GIB).toFixed(2)} s/GiB`
    + `  seeder ${(median(rs.map((r) => r.seedCpu)) / GIB).toFixed(2)} s/GiB`
    + `  first piece ${median(rs.map((r) => r.first ?? NaN)).toFixed(2)} s`);
  return m;
};
console.log(`bench-hybrid: ${MIB} MiB over TCP on loopback, ${RUNS} runs (load ${os.loadavg()[0].toFixed(2)})`);
const ref = line('libtorrent -> libtorrent (reference)', rows.ref);
const get = line('libtorrent -> webswarm get', rows.get);
const seed = line('webswarm seed -> libtorrent', rows.seed);
console.log(`ratios to the reference: webswarm downloading ${(get / ref).toFixed(2)}x, webswarm seeding ${(seed / ref).toFixed(2)}x`);
