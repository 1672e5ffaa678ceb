// Shared pieces of the browser interop tests: our tracker binary, a static
// server for the page and WebTorrent's browser bundle, and headless Chromium.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

export function trackerBinary() {
  if (process.env.WEBSWARM_TRACKER_BIN) return process.env.WEBSWARM_TRACKER_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
  return path.join(target, 'release', 'webswarm-tracker');
}

/** `host:port`, with an IPv6 address in brackets. */
export const hostPort = (host, port) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** The SHA-256 of `buf`, in hex. */
export const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** Starts webswarm-tracker on `host` (port 0 unless given) and resolves with its ws:// URL. */
export function startTracker({ port = 0, args = [], host = '127.0.0.1' } = {}) {
  const child = spawn(trackerBinary(), ['--bind', hostPort(host, port), ...args], {
    env: { ...process.env, RUST_LOG: 'info', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('tracker did not start in 10 s')), 10_000);
    let out = '';
    let started = false;
    const onData = (chunk) => {
      out += chunk;
      const m = !started && out.match(new RegExp(`ws://${hostPort(host, '').replace(/[.[\]]/g, '\\$&')}(\\d+)`));
      if (m) {
        started = true;
        clearTimeout(timer);
        const exited = new Promise((r) => child.once('exit', r));
        resolve({
          url: `ws://${hostPort(host, m[1])}`,
          port: Number(m[1]),
          pid: child.pid,
          /** Everything the tracker printed so far. */
          output: () => out,
          stop: () => child.kill('SIGINT'),
          kill: () => { child.kill('SIGKILL'); return exited; },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`tracker exited with ${code}: ${out}`)));
  });
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>interop</title>
<script type="module">
import WebTorrent from '/webtorrent.min.js';
import * as webswarm from '/webswarm/index.js';
window.WebTorrent = WebTorrent;
window.webswarm = webswarm;
// Helpers the tests call inside the page.
window.sha256hex = async (buf) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', buf)))
  .map((x) => x.toString(16).padStart(2, '0')).join('');
window.randomBytes = (size) => {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  return data;
};
// WebTorrent downloads a magnet; resolves with the first file's hash and timings.
window.webtorrentDownload = (magnet) => {
  const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
  window.wt = client;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    client.on('error', (e) => reject(String(e)));
    client.add(magnet, (t) => {
      t.on('done', async () => {
        const hex = await window.sha256hex(await (await t.files[0].blob()).arrayBuffer());
        resolve({ hex, length: t.length, seconds: (performance.now() - started) / 1000 });
      });
    });
  });
};
await webswarm.init();
window.ready = true;
</script>`;

/** The built browser package (`cargo xtask build-web`). */
export function webDist() {
  return process.env.WEBSWARM_WEB_DIST || path.join(root, 'web', 'dist');
}

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.ts': 'text/plain' };

/**
 * Serves on 127.0.0.1: the test page at `/`, WebTorrent's browser bundle,
 * our package under `/webswarm/`, and `extra` paths (name -> Buffer or file path).
 */
export function startStatic({ extra = {}, onRequest = () => {}, host = '127.0.0.1', rate } = {}) {
  const uplink = rate ? new Uplink(rate) : null;
  const bundle = fs.readFileSync(path.join(here, '../node_modules/webtorrent/dist/webtorrent.min.js'));
  const dist = path.resolve(webDist());
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    onRequest(url.pathname, req.headers);
    if (url.pathname === '/webtorrent.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(bundle);
    } else if (url.pathname.startsWith('/webswarm/')) {
      const file = path.join(dist, path.normalize(url.pathname.slice('/webswarm/'.length)));
      if (!file.startsWith(dist) || !fs.existsSync(file)) {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
      fs.createReadStream(file).pipe(res);
    } else if (extra[url.pathname] !== undefined) {
      const entry = extra[url.pathname];
      const type = TYPES[path.extname(url.pathname)] || 'application/octet-stream';
      sendBytes(req, res, Buffer.isBuffer(entry) ? entry : fs.readFileSync(entry), type, uplink);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(PAGE);
    }
  });
  return new Promise((resolve) => {
    server.listen(0, host, () => {
      resolve({
        url: `http://${hostPort(host, server.address().port)}/`,
        port: server.address().port,
        /** Bytes of `extra` files sent (all of them when there is no uplink cap). */
        sent: () => (uplink ? uplink.sent : null),
        stop: () => { uplink?.stop(); server.close(); },
      });
    });
  });
}

/**
 * A capped uplink shared by every response through it (a site's origin):
 * every 10 ms, `rate / 100` bytes go out in turn over the responses waiting.
 */
class Uplink {
  constructor(rate) {
    this.rate = rate;
    this.sent = 0;
    this.waiting = [];
    this.timer = setInterval(() => this.tick(), 10);
  }

  send(res, bytes) {
    this.waiting.push({ res, bytes, at: 0 });
  }

  tick() {
    let budget = this.rate / 100;
    while (budget >= 1 && this.waiting.length > 0) {
      const share = Math.max(1, Math.floor(budget / this.waiting.length));
      for (const w of [...this.waiting]) {
        const n = Math.min(share, w.bytes.length - w.at);
        w.res.write(w.bytes.subarray(w.at, w.at + n));
        w.at += n;
        this.sent += n;
        budget -= n;
        if (w.at === w.bytes.length) {
          w.res.end();
          this.waiting.splice(this.waiting.indexOf(w), 1);
        }
      }
    }
  }

  stop() {
    clearInterval(this.timer);
  }
}

/** Answers with `body`, honouring a single `Range: bytes=a-b` (webseeds need it). */
function sendBytes(req, res, body, type = 'application/octet-stream', uplink = null) {
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
  if (!m) {
    res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'accept-ranges': 'bytes' });
    res.end(body);
    return;
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? body.length - 1 : Math.min(Number(m[2]), body.length - 1);
  if (start > end) {
    res.writeHead(416, { 'content-range': `bytes */${body.length}` });
    res.end();
    return;
  }
  res.writeHead(206, {
    'content-type': 'application/octet-stream',
    'content-length': end - start + 1,
    'content-range': `bytes ${start}-${end}/${body.length}`,
  });
  if (uplink) {
    // A request the page gave up on stops taking the origin's upload.
    res.on('close', () => {
      const i = uplink.waiting.findIndex((w) => w.res === res);
      if (i >= 0) uplink.waiting.splice(i, 1);
    });
    uplink.send(res, body.subarray(start, end + 1));
  } else {
    res.end(body.subarray(start, end + 1));
  }
}

/** Serves the files of `dir` on 127.0.0.1 (for a bundler's output). */
export function startStaticDir(where) {
  const dir = path.resolve(where);
  const server = http.createServer((req, res) => {
    const rel = path.normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^\/+/, '');
    let file = path.join(dir, rel || 'index.html');
    if (!file.startsWith(dir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      file = path.join(dir, 'index.html');
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}/`, stop: () => server.close() });
    });
  });
}

/**
 * A fresh headless Chromium that can make WebRTC connections over loopback.
 * `netns`: runs in that network namespace (see netns.mjs); `secureOrigin`:
 * an http:// origin the page may treat as secure (OPFS, crypto.subtle), for
 * pages served on an address other than loopback. `profile`: a profile on
 * disk instead of an incognito context (returns an object with `newPage()`,
 * `close()` and `kill()`): `true` for a new one removed at `close()`, or the
 * directory of one to keep (a browser started again on it finds its OPFS).
 */
export async function browser({ tag, netns, secureOrigin, profile } = {}) {
  // A profile's browser is killed by finding its processes.
  if (profile && !tag) tag = `webswarm-b-${crypto.randomBytes(4).toString('hex')}`;
  let executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (netns) {
    const wrapper = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-ns-')), 'chromium');
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${netns} ${executablePath} "$@"\n`, { mode: 0o755 });
    executablePath = wrapper;
  }
  const options = {
    executablePath,
    headless: true,
    args: [
      ...(secureOrigin ? [`--unsafely-treat-insecure-origin-as-secure=${secureOrigin}`] : []),
      '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // Without these, Chromium in a loopback-only namespace gathers no ICE
      // candidates. A host of its own (netns) has an interface: there its
      // loopback candidates would only be checks that fail.
      '--use-fake-ui-for-media-stream', ...(netns ? [] : ['--allow-loopback-in-peer-connection']),
      // Lets a benchmark find this browser's processes (see browserCpu).
      ...(tag ? [`--class=${tag}`] : []),
    ],
  };
  if (!profile) return chromium.launch(options);
  // A profile on disk, as a visitor's browser has: `newPage()` of a plain
  // launch opens an incognito context, whose OPFS lives in the browser
  // process's memory and whose file writes all go through it.
  const kept = typeof profile === 'string';
  const dir = kept ? profile : fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-profile-'));
  const ctx = await chromium.launchPersistentContext(dir, options);
  return {
    newPage: () => ctx.newPage(),
    newContext: () => { throw new Error('a browser with a profile has one context'); },
    close: async () => { await ctx.close(); if (!kept) fs.rmSync(dir, { recursive: true, force: true }); },
    /** SIGKILL to every process of this browser, as a crash would end them; resolves to how many. */
    kill: async () => {
      const pids = browserTree(tag).map(([pid]) => pid);
      for (const pid of pids) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
      }
      await ctx.close().catch(() => {});
      return pids.length;
    },
  };
}

export async function openPage(b, url) {
  const page = await b.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  page.on('console', (m) => { if (m.type() === 'error') console.error('console:', m.text().slice(0, 500)); });
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 10_000 });
  return page;
}

/** Runs `webswarm demo` on a free port; resolves with its URL and info. */
export async function startDemo(args = []) {
  const demo = await runWebswarm(['demo', ...args, '--port', '0', '--web-dir', webDist()], {
    ready: (l) => l.startsWith('webswarm demo: open'),
  });
  const url = demo.line.match(/http:\/\/\S+\//)[0];
  const info = await (await fetch(url + 'demo.json')).json();
  // Waits for the exit (10 s at most): the demo writes into the seeded
  // file's directory as it shuts down, which races the test's cleanup.
  const stop = () => new Promise((resolve) => {
    if (demo.child.exitCode !== null || demo.child.signalCode !== null) return resolve();
    const timer = setTimeout(() => { demo.child.kill('SIGKILL'); resolve(); }, 10_000);
    demo.child.once('exit', () => { clearTimeout(timer); resolve(); });
    demo.child.kill('SIGINT');
  });
  return { url, info, stop, pid: demo.child.pid };
}

export function webswarmBinary() {
  if (process.env.WEBSWARM_BIN) return process.env.WEBSWARM_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
  return path.join(target, 'release', 'webswarm');
}

/**
 * Runs the `webswarm` CLI. Resolves `{ child, line }` once a stdout line
 * satisfies `ready` (or a stderr line `readyErr`), else `{ child, stdout }`
 * at a clean exit.
 */
export function runWebswarm(args, { ready, readyErr, timeoutMs = 60_000, netns } = {}) {
  const argv = netns ? ['ip', 'netns', 'exec', netns, webswarmBinary(), ...args] : [webswarmBinary(), ...args];
  const child = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let resolved = null;
  child.stderr.on('data', (c) => {
    err += c;
    const line = readyErr && err.split('\n').find((l) => readyErr(l));
    if (line && resolved) resolved({ child, line, stderr: () => err });
  });
  // A child that ignores the tests' SIGINT would keep this process (and CI)
  // waiting on its pipes for ever: it gets SIGKILL after 15 s, said loudly.
  const kill = child.kill.bind(child);
  child.kill = (sig = 'SIGTERM') => {
    if (sig !== 'SIGKILL') {
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) {
          console.error(`webswarm ${args[0]} ignored ${sig} for 15 s; sending SIGKILL`);
          kill('SIGKILL');
        }
      }, 15_000).unref();
    }
    return kill(sig);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`webswarm ${args.join(' ')} timed out; stderr: ${err}`));
    }, timeoutMs);
    resolved = (r) => { clearTimeout(timer); resolve(r); };
    child.stdout.on('data', (c) => {
      out += c;
      if (ready) {
        const line = out.split('\n').find((l) => ready(l));
        if (line) { clearTimeout(timer); resolve({ child, line, stderr: () => err }); }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (ready || readyErr) reject(new Error(`webswarm exited with ${code}: ${err}`));
      else if (code === 0) resolve({ child, stdout: out, stderr: () => err });
      else reject(new Error(`webswarm ${args.join(' ')} exited with ${code}: ${err}`));
    });
  });
}

/**
 * A `/proc/.../stat` file (a process's, or a thread's under `task/`): its
 * command name, parent pid, and CPU seconds (user + system) used so far.
 * Throws if the process has ended.
 */
export function procStat(file) {
  const stat = fs.readFileSync(file, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    ppid: Number(f[1]),
    cpu: (Number(f[11]) + Number(f[12])) / 100,
  };
}

/** The whole machine's CPU seconds so far (`/proc/stat`: every core, kernel included): busy, and in all. */
export function machineCpu() {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fs.readFileSync('/proc/stat', 'utf8')
    .split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / 100, all: (busy + idle + iowait) / 100 };
}

/** CPU seconds (user + system) one process has used so far. */
export function pidCpu(pid) {
  return procStat(`/proc/${pid}/stat`).cpu;
}

/**
 * CPU seconds used so far by the Chromium launched with `browser({ tag })`:
 * its main process and every descendant (renderers, GPU, network, utility).
 */
export function browserCpu(tag) {
  return Object.values(browserCpuByProcess(tag)).reduce((a, b) => a + b, 0);
}

/**
 * The same, by kind of process: `browser`, `renderer`, `gpu-process`,
 * `utility:network` (the network service, which carries WebRTC's UDP for
 * the renderers), `utility`, `zygote`.
 */
export function browserCpuByProcess(tag) {
  const out = {};
  for (const [, { cpu, cmd }] of browserTree(tag)) {
    const kind = browserKind(cmd);
    out[kind] = (out[kind] || 0) + cpu;
  }
  return out;
}

/**
 * The same by thread: `kind/thread name` as the kernel has it (15
 * characters; a process's main thread carries the executable's name, so
 * the page's main thread is `renderer/chromium`; `renderer/WebRTC_W_and_N`,
 * `utility:network/Chrome_ChildIOT`), threads of one name summed, a thread
 * that ended meanwhile not counted. The CDP profiler times the page's main
 * thread in wall time, preemption included; this counts CPU where each
 * thread spent it.
 */
export function browserCpuByThread(tag) {
  const out = {};
  for (const [pid, { cmd }] of browserTree(tag)) {
    const kind = browserKind(cmd);
    let tids = [];
    try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tids) {
      try {
        const { name, cpu } = procStat(`/proc/${pid}/task/${tid}/stat`);
        const key = `${kind}/${name.replace(/[0-9]+$/, '')}`;
        out[key] = (out[key] || 0) + cpu;
      } catch { /* the thread ended */ }
    }
  }
  return out;
}

/** CPU seconds a `browserCpuByThread` (or `ByProcess`) snapshot `after` adds to `before`, largest first. */
export function cpuDelta(before, after, min = 0.01) {
  return Object.fromEntries(Object.keys(after).map((k) => [k, +(after[k] - (before[k] || 0)).toFixed(2)])
    .filter(([, v]) => v >= min).sort((a, b) => b[1] - a[1]));
}

function browserKind(cmd) {
  return (cmd.match(/--type=([a-z-]+)/) || [, 'browser'])[1] + (cmd.includes('NetworkService') ? ':network' : '');
}

/** The processes of the browser launched with `--class=tag`: pid -> { cpu, cmd }. */
function browserTree(tag) {
  const procs = new Map();
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const { ppid, cpu } = procStat(`/proc/${pid}/stat`);
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      procs.set(Number(pid), { ppid, cpu, cmd });
    } catch { /* the process ended */ }
  }
  const roots = [...procs].filter(([, p]) => p.cmd.includes(`--class=${tag}\0`) && !procs.get(p.ppid)?.cmd.includes(`--class=${tag}\0`));
  const inTree = new Set(roots.map(([pid]) => pid));
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, p] of procs) {
      if (!inTree.has(pid) && inTree.has(p.ppid)) { inTree.add(pid); grew = true; }
    }
  }
  return [...inTree].map((pid) => [pid, procs.get(pid)]);
}

/** Runs in the page: downloads `source` with our peer and hashes the file. */
export async function ourDownload(page, source, { tracker, storage = 'opfs', reloadAt, iceServers = [], relayOnly = false, turnCredentials, sample = false } = {}) {
  return page.evaluate(async ({ source, tracker, storage, iceServers, relayOnly, turnCredentials, sample }) => {
    const client = new window.webswarm.Client({ iceServers, relayOnly, turnCredentials, trackers: [tracker], storage });
    window.client = client;
    const started = performance.now();
    const t = await client.add(source);
    window.torrent = t;
    // With `sample`: [ms since add, bytes downloaded] every 100 ms (see longestGap).
    const samples = [];
    const timer = sample && setInterval(() => samples.push([performance.now() - started, t.downloaded]), 100);
    await t.ready();
    await t.whenDone();
    clearInterval(timer);
    const seconds = (performance.now() - started) / 1000;
    const hex = await window.sha256hex(await (await t.files[0].blob()).arrayBuffer());
    return { hex, length: t.length, seconds, firstPiece: t.timeToFirstPiece, downloaded: t.downloaded, banned: t.banned, samples };
  }, { source, tracker, storage, reloadAt, iceServers, relayOnly, turnCredentials, sample });
}

/** The longest time (ms) between two samples `[ms, bytes]` that brought new bytes. */
export function longestGap(samples) {
  let gap = 0;
  let since = null;
  let last = 0;
  for (const [at, bytes] of samples) {
    if (bytes > last) { if (since !== null) gap = Math.max(gap, at - since); since = at; last = bytes; }
  }
  return gap;
}

/**
 * Runs in `page`: downloads `magnet` into memory with our peer (`who` =
 * 'webswarm') or WebTorrent; every file's SHA-256 (sorted), the seconds from
 * `add` to done and, for our peer, to the first verified piece.
 */
export function pageDownloadAll(page, magnet, tracker, who) {
  return page.evaluate(async ({ magnet, tracker, who }) => {
    const started = performance.now();
    const hashes = async (files) => {
      const out = [];
      for (const f of files) out.push(await window.sha256hex(await (await f.blob()).arrayBuffer()));
      return out.sort();
    };
    if (who === 'webswarm') {
      const client = new window.webswarm.Client({ iceServers: [], trackers: [tracker], storage: 'memory' });
      const t = await client.add(magnet);
      await t.ready();
      await t.whenDone();
      const seconds = (performance.now() - started) / 1000;
      const firstPiece = t.timeToFirstPiece / 1000;
      const length = t.length;
      const out = { hashes: await hashes(t.files), seconds, firstPiece, length };
      client.destroy?.();
      return out;
    }
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
    return new Promise((resolve, reject) => {
      client.on('error', (e) => reject(String(e)));
      client.add(magnet, (t) => t.on('done', async () => {
        const seconds = (performance.now() - started) / 1000;
        resolve({ hashes: await hashes(t.files), seconds, length: t.length });
      }));
    });
  }, { magnet, tracker, who });
}

/** Runs in the page: seeds random bytes with our peer; returns magnet and hash. */
export async function ourSeed(page, size, tracker, { iceServers = [], relayOnly = false, turnCredentials } = {}) {
  return page.evaluate(async ({ size, tracker, iceServers, relayOnly, turnCredentials }) => {
    const data = window.randomBytes(size);
    const hex = await window.sha256hex(data);
    const client = new window.webswarm.Client({ iceServers, relayOnly, turnCredentials, trackers: [tracker], storage: 'memory' });
    window.client = client;
    const t = await client.seed(new File([data], 'from-webswarm.bin'));
    window.torrent = t;
    return { magnet: t.magnetURI, hex };
  }, { size, tracker, iceServers, relayOnly, turnCredentials });
}

/** Runs in a page: the real WebTorrent client seeds random bytes; returns magnet and hash. */
export async function webtorrentSeed(page, size, announce) {
  return page.evaluate(async ({ size, announce }) => {
    const data = window.randomBytes(size);
    const hex = await window.sha256hex(data);
    const magnet = await new Promise((resolve) => {
      window.wt.seed(new File([data], 'from-webtorrent.bin'), { announce: [announce] }, (t) => resolve(t.magnetURI));
    });
    return { magnet, hex };
  }, { size, announce });
}

export function randomFile(dir, name, size) {
  const file = path.join(dir, name);
  const data = crypto.randomBytes(size);
  fs.writeFileSync(file, data);
  return { file, data };
}

/**
 * In `page` (Chromium or Firefox): downloads `magnet` into OPFS, reloads the
 * page at 30 %, adds it again and lets it finish. Checks the bytes against
 * `expectHex`, that every piece verified before the reload is found after it,
 * and that verified pieces are not fetched again (at most the missing part
 * plus pieces in flight at the reload). Returns the percentages.
 */
export async function reloadAndResume(page, magnet, tracker, expectHex) {
  await page.evaluate(async ({ magnet, tracker }) => {
    const client = new window.webswarm.Client({ iceServers: [], trackers: [tracker], storage: 'opfs' });
    window.torrent = await client.add(magnet);
  }, { magnet, tracker });
  await page.waitForFunction(() => window.torrent.progress >= 0.3, null, { timeout: 60_000, polling: 20 });
  const before = await page.evaluate(() => window.torrent.progress);
  assert.ok(before < 1, 'the download finished before the reload; nothing to resume');
  await page.reload();
  await page.waitForFunction(() => window.ready === true, null, { timeout: 10_000 });
  const resumed = await page.evaluate(async ({ magnet, tracker }) => {
    const client = new window.webswarm.Client({ iceServers: [], trackers: [tracker], storage: 'opfs' });
    const t = await client.add(magnet);
    await t.ready();
    const atStart = t.progress;
    await t.whenDone();
    const hex = await window.sha256hex(await (await t.files[0].blob()).arrayBuffer());
    return { atStart, hex, downloaded: t.downloaded, length: t.length, pieceLength: t.pieceLength };
  }, { magnet, tracker });
  assert.equal(resumed.hex, expectHex, 'resumed download has different bytes');
  // Unrecorded pieces are re-hashed; 1 % slack for rounding.
  assert.ok(resumed.atStart >= before - 0.01, `${before} verified before the reload, ${resumed.atStart} found after it`);
  const missing = (1 - resumed.atStart) * resumed.length;
  assert.ok(resumed.downloaded <= missing + 16 * resumed.pieceLength,
    `fetched ${resumed.downloaded} bytes, but only ${missing} were missing`);
  return { before, atStart: resumed.atStart, downloaded: resumed.downloaded, missing };
}

/** In a `webswarm demo` page: seeks the sample video 1.5 s before its end and plays it to the end. */
export function seekToEnd(page) {
  return page.evaluate(async () => {
    const v = window.demo.video;
    const progress = window.demo.torrent.progress;
    const target = v.duration - 1.5;
    v.currentTime = target;
    await new Promise((resolve) => v.addEventListener('seeked', resolve, { once: true }));
    await v.play();
    await new Promise((resolve) => v.addEventListener('ended', resolve, { once: true }));
    return { progress, target, ended: v.ended, duration: v.duration };
  });
}
