// Three webswarm-tracker nodes linked through a real redis-server, with nginx
// as the WebSocket load balancer in front of them (both from Debian's
// packages, started here): peers on different nodes find each other, relays
// within a node go on while Redis is down and cross nodes again when it is
// back, and a node killed mid-swarm loses nothing but itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import {
  startTracker, startStatic, browser, openPage, runWebswarm, ourDownload, randomFile, sha256,
} from './harness.mjs';

const MiB = 1024 * 1024;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port, what) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); r(true); });
      c.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on ${port}`);
}

async function startRedis(port) {
  port ??= await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitPort(port, 'redis-server');
  const exited = new Promise((r) => child.once('exit', r));
  return {
    url: `redis://127.0.0.1:${port}/`,
    port,
    stop: () => child.kill('SIGKILL'),
    /** Kills this server and starts a fresh one (empty) on the same port. */
    async down() { child.kill('SIGKILL'); await exited; },
  };
}

/** nginx balancing WebSockets over `ports` (round robin; a dead node is skipped). */
async function startNginx(dir, ports) {
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events {}
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  upstream trackers {
${ports.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=10s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://trackers;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_connect_timeout 1s;
      proxy_read_timeout 1h;
    }
  }
}
`);
  const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => { err += c; });
  await waitPort(port, `nginx (${err})`);
  return { url: `ws://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

/** Every node's stats once their connection counts hold still for 300 ms (up to 6 s). */
async function settledStats() {
  let prev = await Promise.all(env.nodes.map(stats));
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await Promise.all(env.nodes.map(stats));
    if (now.every((s, k) => s.connections === prev[k].connections)) return now;
    prev = now;
  }
  return prev;
}

async function stats(node) {
  return (await fetch(`http://127.0.0.1:${node.port}/stats.json`)).json();
}

/** Counts of one torrent as a node sees them (a scrape over a raw WebSocket). */
async function scrape(node, infoHashBinary) {
  const ws = new WebSocket(node.url);
  await new Promise((r, j) => { ws.onopen = r; ws.onerror = j; });
  const reply = new Promise((r) => { ws.onmessage = (e) => r(JSON.parse(e.data.toString())); });
  ws.send(JSON.stringify({ action: 'scrape', info_hash: infoHashBinary }));
  const m = await reply;
  ws.close();
  return m.files[infoHashBinary];
}

const binary = (hex) => String.fromCharCode(...Buffer.from(hex, 'hex'));

let env;

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-cluster-'));
  const redis = await startRedis();
  const args = ['--redis-url', redis.url];
  const nodes = [];
  for (let i = 0; i < 3; i++) nodes.push(await startTracker({ args }));
  // Every node sees the other two before the tests start.
  for (const n of nodes) {
    for (let i = 0; ; i++) {
      const s = await stats(n);
      if (s.cluster?.nodes === 3) break;
      if (i > 100) throw new Error(`node ${n.url} sees ${JSON.stringify(s.cluster)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const lb = await startNginx(dir, nodes.map((n) => n.port));
  const site = await startStatic();
  env = { dir, redis, nodes, lb, site, browsers: [], children: [] };
});

after(async () => {
  for (const c of env.children) c.kill('SIGINT');
  for (const b of env.browsers) await b.close();
  env.site.stop();
  env.lb.stop();
  for (const n of env.nodes) n.stop();
  env.redis.stop();
  fs.rmSync(env.dir, { recursive: true, force: true });
});

async function page() {
  const b = await browser();
  env.browsers.push(b);
  return openPage(b, env.site.url);
}

test('WebTorrent pages connected to two different nodes transfer a file', { timeout: 120_000 }, async () => {
  const [a, b] = env.nodes;
  const seeder = await page();
  const leecher = await page();
  const seeded = await seeder.evaluate(async ({ announce }) => {
    const data = window.randomBytes(4 * 1024 * 1024);
    const client = new window.WebTorrent({ tracker: { rtcConfig: { iceServers: [] } } });
    window.wt = client;
    const magnet = await new Promise((resolve, reject) => {
      client.on('error', (e) => reject(String(e)));
      client.seed(new File([data], 'cross.bin'), { announce: [announce] }, (t) => resolve(t.magnetURI));
    });
    return { magnet, hex: await window.sha256hex(data) };
  }, { announce: a.url });
  // The leecher knows only node B.
  const magnet = seeded.magnet.replace(/&tr=[^&]*/g, '') + `&tr=${encodeURIComponent(b.url)}`;
  const got = await leecher.evaluate((m) => window.webtorrentDownload(m), magnet);
  assert.equal(got.hex, seeded.hex);
  // B relayed the leecher's offers to A's seeder; A relayed the answer back.
  const [sa, sb] = [await stats(a), await stats(b)];
  assert.ok(sb.offers_relayed >= 1 && sa.answers_relayed >= 1, JSON.stringify([sa, sb]));
  console.log(`WebTorrent across nodes: 4 MiB in ${got.seconds.toFixed(2)} s`);
});

test('our native seeder on one node, our browser peer on another', { timeout: 120_000 }, async () => {
  const [a, , c] = env.nodes;
  const { file, data } = randomFile(env.dir, 'native.bin', 16 * MiB);
  const s = await runWebswarm(['seed', file, '--tracker', a.url, '--bind', '127.0.0.1'], {
    ready: (l) => l.startsWith('magnet:'),
  });
  env.children.push(s.child);
  const magnet = s.line.trim().replace(/&tr=[^&]*/g, '');
  const got = await ourDownload(await page(), magnet, { tracker: c.url, storage: 'memory' });
  assert.equal(got.hex, sha256(data));
  s.child.kill('SIGINT');
  console.log(`native (node A) -> browser (node C): 16 MiB in ${got.seconds.toFixed(2)} s`);
});

test('redis-server stopped mid-run: relays within a node go on; back, cross-node relays resume within 10 s', { timeout: 180_000 }, async () => {
  const [a, b] = env.nodes;
  await env.redis.down();
  const stopped = Date.now();
  for (;;) {
    const h = await (await fetch(`http://127.0.0.1:${b.port}/health`)).text();
    if (h.includes('Redis unreachable')) break;
    assert.ok(Date.now() - stopped < 10_000, `node B never noticed: ${h}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Without Redis: a seeder and a page on the same node still meet.
  const local = randomFile(env.dir, 'local.bin', 8 * MiB);
  const s1 = await runWebswarm(['seed', local.file, '--tracker', a.url, '--bind', '127.0.0.1'], {
    ready: (l) => l.startsWith('magnet:'),
  });
  env.children.push(s1.child);
  const localMagnet = s1.line.trim().replace(/&tr=[^&]*/g, '');
  const got1 = await ourDownload(await page(), localMagnet, { tracker: a.url, storage: 'memory' });
  assert.equal(got1.hex, sha256(local.data));
  s1.child.kill('SIGINT');
  // A seeder on node A, still without Redis: node B cannot know it.
  const cross = randomFile(env.dir, 'cross.bin', 8 * MiB);
  const s2 = await runWebswarm(['seed', cross.file, '--tracker', a.url, '--bind', '127.0.0.1'], {
    ready: (l) => l.startsWith('magnet:'),
  });
  env.children.push(s2.child);
  const magnet = s2.line.trim().replace(/&tr=[^&]*/g, '');
  const ih = binary(magnet.match(/btih:([0-9a-f]{40})/i)[1].toLowerCase());
  const seen = await scrape(b, ih);
  assert.ok(!seen || seen.complete === 0, `node B sees ${JSON.stringify(seen)} without Redis`);
  // Redis is back (empty): the nodes hello, republish, and B relays to A.
  env.redis = await startRedis(env.redis.port);
  const back = Date.now();
  for (;;) {
    const f = await scrape(b, ih);
    if (f && f.complete === 1) break;
    assert.ok(Date.now() - back < 10_000, `10 s after Redis returned node B sees ${JSON.stringify(f)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const viewBack = Date.now() - back;
  const got2 = await ourDownload(await page(), magnet, { tracker: b.url, storage: 'memory' });
  assert.equal(got2.hex, sha256(cross.data));
  const relayed = Date.now() - back;
  s2.child.kill('SIGINT');
  assert.ok(relayed < 10_000, `the cross-node transfer ended ${relayed} ms after Redis returned`);
  console.log(`without Redis: 8 MiB within node A in ${got1.seconds.toFixed(2)} s; Redis back: node B saw A's seeder after ${viewBack} ms, a page on B had 8 MiB from it ${relayed} ms after Redis returned`);
});

test('a node killed mid-swarm: its clients come back through nginx, its dead peers leave within 10 s', { timeout: 180_000 }, async () => {
  const { file, data } = randomFile(env.dir, 'lb.bin', 8 * MiB);
  // Counted once the previous test's clients have finished closing: a
  // connection closing on the node the seeder lands on would hide its +1.
  const before = await settledStats();
  const s = await runWebswarm(['seed', file, '--tracker', env.lb.url, '--bind', '127.0.0.1'], {
    ready: (l) => l.startsWith('magnet:'),
  });
  env.children.push(s.child);
  const magnet = s.line.trim().replace(/&tr=[^&]*/g, '');
  const ihHex = magnet.match(/btih:([0-9a-f]{40})/i)[1].toLowerCase();
  // The node the seeder landed on: the one with one more connection.
  let victim;
  for (let i = 0; i < 50 && !victim; i++) {
    const now = await Promise.all(env.nodes.map(stats));
    victim = env.nodes.find((n, k) => now[k].connections > before[k].connections);
    if (!victim) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(victim, 'the seeder is connected to a node');
  const survivors = env.nodes.filter((n) => n !== victim);
  // A peer that only the victim knows, and that will never come back.
  const ghost = new WebSocket(victim.url);
  await new Promise((r) => { ghost.onopen = r; });
  ghost.send(JSON.stringify({
    action: 'announce', info_hash: binary(ihHex), peer_id: binary('ab'.repeat(20)),
    numwant: 0, uploaded: 0, downloaded: 0, left: 1, event: 'started', offers: [],
  }));
  const ih = binary(ihHex);
  for (let i = 0; ; i++) {
    const f = await scrape(survivors[0], ih);
    if (f && f.complete === 1 && f.incomplete === 1) break;
    assert.ok(i < 100, `survivor never saw seeder and ghost: ${JSON.stringify(f)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await victim.kill();
  const killed = Date.now();
  // Within 10 s every survivor has forgotten the ghost and sees the seeder,
  // which came back through nginx to a surviving node.
  for (const n of survivors) {
    for (;;) {
      const f = await scrape(n, ih);
      if (f && f.complete === 1 && f.incomplete === 0) break;
      assert.ok(Date.now() - killed < 10_000, `after 10 s ${n.url} still sees ${JSON.stringify(f)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  console.log(`the killed node's peers left the survivors' view, and the seeder was back, ${Date.now() - killed} ms after SIGKILL`);
  const got = await ourDownload(await page(), magnet, { tracker: env.lb.url, storage: 'memory' });
  assert.equal(got.hex, sha256(data));
  s.child.kill('SIGINT');
});
