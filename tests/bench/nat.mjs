// Issue 20's measurement: time from `add` to the first verified piece, and
// MB/s (10^6 bytes/s, add to done), for one browser downloading from another
// through each kind of network a visitor sits behind -- ours, WebTorrent and
// a raw RTCDataChannel (no BitTorrent: the ceiling; MB/s from the answer to
// the last byte, first = first message) in the same topology, one after the
// other, medians over the runs:
//   loopback   both browsers in this namespace, host candidates only
//   direct     two hosts with public addresses (netns.mjs), no NAT
//   cone NAT   two homes behind port-restricted cone NATs, STUN only
//   TURN       two homes behind symmetric NATs, STUN + TURN (coturn)
//   relay-only two homes behind cone NATs, relay candidates only
// and Firefox <-> Chromium against Chromium <-> Chromium on loopback (ours and raw).
// Downloads go to memory. Run in a private namespace (`cargo xtask bench-nat`):
//   node bench/nat.mjs [MiB, default 32] [runs, default 3]
import os from 'node:os';
import { startTracker, startStatic, browser, openPage } from '../interop/harness.mjs';
import { firefox } from '../interop/firefox.mjs';
import { Topology, PUBLIC, assertPrivateNet } from '../interop/netns.mjs';
import { startTurn } from '../interop/turn.mjs';
import {
  ourLeech, ourSeedFile, webtorrentLeech, webtorrentSeedFile, randomFileIn, rawTransfer,
} from './leech.mjs';

const MIB = Number(process.argv[2] || 32);
const RUNS = Number(process.argv[3] || 3);
const SIZE = MIB * 1024 * 1024;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One download of a fresh random file from `seed` to `leech`, by `who` (ours, WebTorrent or a raw channel). */
async function once(who, seed, leech, { tracker, iceServers, relayOnly }) {
  if (who === 'raw') {
    const r = await rawTransfer(seed, leech, { size: SIZE, iceServers, relayOnly });
    return { mbps: SIZE / r.seconds / 1e6, first: r.first };
  }
  await randomFileIn(seed, SIZE);
  let r;
  if (who === 'ours') {
    const magnet = await seed.evaluate(ourSeedFile, { tracker, iceServers, relayOnly });
    r = await leech.evaluate(ourLeech, { source: magnet, tracker, storage: 'memory', iceServers, relayOnly });
  } else {
    const magnet = await seed.evaluate(webtorrentSeedFile, { announce: tracker, iceServers, relayOnly });
    r = await leech.evaluate(webtorrentLeech, { magnet, storage: 'memory', iceServers, relayOnly });
  }
  await seed.evaluate(() => window.seeder.destroy());
  if (r.length !== SIZE) throw new Error(`${who}: downloaded ${r.length} bytes of ${SIZE}`);
  return { mbps: SIZE / r.seconds / 1e6, first: r.first };
}

/** `RUNS` downloads each, ours and WebTorrent alternating; medians. */
async function measure(seed, leech, opts, whos = ['ours', 'webtorrent', 'raw']) {
  const got = Object.fromEntries(whos.map((w) => [w, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const who of whos) got[who].push(await once(who, seed, leech, opts));
  }
  return Object.fromEntries(whos.map((w) => [w, {
    mbps: median(got[w].map((x) => x.mbps)),
    first: median(got[w].map((x) => x.first)),
    all: got[w].map((x) => x.mbps.toFixed(1)).join(' '),
  }]));
}

assertPrivateNet();
const load = os.loadavg()[0].toFixed(2);
const topo = new Topology();
const turn = await startTurn(PUBLIC);
const tracker = await startTracker({ host: PUBLIC });
const site = await startStatic({ host: PUBLIC });
const secureOrigin = site.url.replace(/\/$/, '');
const open = [];
async function pageIn(netns) {
  const b = await browser({ netns, secureOrigin });
  open.push(b);
  return openPage(b, site.url);
}
async function pair(hosts) {
  return [await pageIn(hosts?.[0].ns), await pageIn(hosts?.[1].ns)];
}

const rows = {};
try {
  const networks = [
    ['loopback', () => pair(null), { iceServers: [] }],
    ['direct', () => pair([topo.publicHost('pa'), topo.publicHost('pb')]), { iceServers: [] }],
    ['cone NAT', () => pair([topo.homeHost('ca', 'cone'), topo.homeHost('cb', 'cone')]), { iceServers: turn.stun }],
    ['TURN', () => pair([topo.homeHost('sa', 'symmetric'), topo.homeHost('sb', 'symmetric')]),
      { iceServers: [...turn.stun, ...turn.turn] }],
    ['relay-only', () => pair([topo.homeHost('ra', 'cone'), topo.homeHost('rb', 'cone')]),
      { iceServers: turn.turn, relayOnly: true }],
  ];
  for (const [name, make, ice] of networks) {
    const [seed, leech] = await make();
    rows[name] = await measure(seed, leech, { tracker: tracker.url, ...ice });
    console.log(name, JSON.stringify(rows[name]));
    while (open.length) await open.pop().close();
  }
  // Firefox on loopback (with the uplink Firefox needs to gather candidates),
  // from a page on 127.0.0.1: a secure context without Chromium's flag.
  const local = await startStatic();
  open.push({ close: async () => local.stop() });
  const ff = await firefox();
  open.push(ff);
  const fox = await openPage(ff, local.url);
  const chromes = [await browser(), await browser()];
  open.push(...chromes);
  const [chrome, chrome2] = [await openPage(chromes[0], local.url), await openPage(chromes[1], local.url)];
  const opts = { tracker: tracker.url, iceServers: [] };
  rows['Chromium -> Firefox'] = await measure(chrome, fox, opts, ['ours', 'raw']);
  rows['Firefox -> Chromium'] = await measure(fox, chrome, opts, ['ours', 'raw']);
  rows['Chromium -> Chromium'] = await measure(chrome, chrome2, opts, ['ours', 'raw']);
  for (const n of ['Chromium -> Firefox', 'Firefox -> Chromium', 'Chromium -> Chromium']) console.log(n, JSON.stringify(rows[n]));
} finally {
  for (const b of open) await b.close();
  turn.stop();
  site.stop();
  tracker.stop();
  topo.destroy();
}

const f = (x, d = 1) => (x === undefined ? '-' : x.toFixed(d));
console.log(`\n${MIB} MiB, median of ${RUNS} runs each, memory storage; ${os.cpus().length} cores, load average ${load} at start\n`);
console.log('| network | ours MB/s | first piece (s) | vs direct | WebTorrent MB/s | first piece (s) | ours / WebTorrent | raw channel MB/s | raw vs direct | ours / raw | runs (ours) |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
const direct = rows.direct.ours.mbps;
const rawDirect = rows.direct.raw.mbps;
for (const [name, r] of Object.entries(rows)) {
  const [wt, raw] = [r.webtorrent, r.raw];
  const net = !/Firefox|Chromium/.test(name);
  console.log(`| ${name} | ${f(r.ours.mbps)} | ${f(r.ours.first, 2)} | ${net ? `${f(r.ours.mbps / direct, 2)}x` : '-'} `
    + `| ${f(wt?.mbps)} | ${f(wt?.first, 2)} | ${wt ? `${f(r.ours.mbps / wt.mbps, 2)}x` : '-'} `
    + `| ${f(raw?.mbps)} | ${net ? `${f(raw.mbps / rawDirect, 2)}x` : '-'} | ${raw ? `${f(r.ours.mbps / raw.mbps, 2)}x` : '-'} | ${r.ours.all} |`);
}
const cc = rows['Chromium -> Chromium'].ours.mbps;
const check = (what, value, target) => console.log(`${value >= target ? 'meets' : 'MISSES'} ${what}: ${value.toFixed(2)} (target >= ${target})`);
console.log('');
check('cone NAT / direct', rows['cone NAT'].ours.mbps / direct, 0.9);
check('TURN / direct', rows.TURN.ours.mbps / direct, 0.7);
check('Chromium -> Firefox / Chromium -> Chromium', rows['Chromium -> Firefox'].ours.mbps / cc, 0.8);
check('Firefox -> Chromium / Chromium -> Chromium', rows['Firefox -> Chromium'].ours.mbps / cc, 0.8);
