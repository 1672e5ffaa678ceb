// Where the time goes through TURN (issue 20): a raw RTCDataChannel between
// two Chromiums on public hosts (direct) and behind symmetric NATs with
// STUN + TURN, as bench/nat.mjs's direct and TURN rows, printing per transfer
// the candidate pair each side selected, the CPU it took (both browsers,
// coturn, and the whole machine from /proc/stat, kernel forwarding included)
// and the UDP receive-buffer drops in the "internet" namespace (where coturn
// runs). Were the machine busy for the whole transfer in both rows, the
// TURN/direct ratio would be the ratio of CPU spent per byte; here it is not
// (docs/benchmarks.md, stop 38).
//   [PROBE_THREADS=1] node bench/turn-probe.mjs [MiB, default 16] [runs, default 2]
// PROBE_THREADS=1 also prints the five busiest threads of the machine per transfer;
// PROBE_COTURN_SOCKBUF=BYTES runs coturn with its socket buffers raised to
// BYTES (bench/sockbuf-shim.c, built with cc and preloaded into turnserver);
// PROBE_PARALLEL=N runs N connections at once (N pages in each browser), the
// MB/s being all of them together: whether a limit is per connection.
// Run in a private namespace, as bench/nat.mjs.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStatic, browser, browserCpu, openPage, pidCpu, procStat, machineCpu } from '../interop/harness.mjs';
import { Topology, PUBLIC, assertPrivateNet } from '../interop/netns.mjs';
import { startTurn } from '../interop/turn.mjs';
import { rawOffer, rawAnswer, rawSend, rawClose } from './leech.mjs';

const SIZE = Number(process.argv[2] || 16) * 1024 * 1024;
const RUNS = Number(process.argv[3] || 2);

function udpCounters() {
  const [keys, values] = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n')
    .filter((l) => l.startsWith('Udp:')).map((l) => l.split(' '));
  const get = (k) => Number(values[keys.indexOf(k)]);
  return { drops: get('RcvbufErrors'), datagrams: get('InDatagrams') };
}

/** CPU seconds per thread of every process: `pid/tid` -> { name, cpu }. */
function threadCpu() {
  const out = new Map();
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let tids = [];
    try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tids) {
      try {
        // Keyed without the name: a kernel worker's name changes with its work.
        const { name, cpu } = procStat(`/proc/${pid}/task/${tid}/stat`);
        out.set(`${pid}/${tid}`, { name, cpu });
      } catch { /* the thread ended */ }
    }
  }
  return out;
}

/** The busiest threads between two `threadCpu()` readings, as shares of `wall` seconds. */
function busiest(before, after, wall, n = 5) {
  return [...after].map(([k, v]) => [`${k} ${v.name}`, v.cpu - (before.get(k)?.cpu || 0)])
    .sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([k, v]) => `${k} ${Math.round((100 * v) / wall)}%`).join(', ');
}

/** In a page: the selected pair as "type address:port -> type address:port". */
async function selectedPair() {
  const stats = await window.raw.pc.getStats();
  let id;
  const candidates = {};
  stats.forEach((r) => {
    if (r.type === 'transport') id = r.selectedCandidatePairId;
    if (r.type.endsWith('candidate')) candidates[r.id] = r;
  });
  const pair = stats.get(id);
  const show = (c) => `${c.candidateType} ${c.address}:${c.port}`;
  const rtt = pair?.currentRoundTripTime === undefined ? '' : ` (ICE RTT ${(pair.currentRoundTripTime * 1000).toFixed(1)} ms)`;
  return pair && `${show(candidates[pair.localCandidateId])} -> ${show(candidates[pair.remoteCandidateId])}${rtt}`;
}

/** turnserver's environment for a raised socket-buffer floor, or none. */
function sockbufShim(bytes) {
  if (!bytes) return {};
  const out = path.join(os.tmpdir(), `webswarm-sockbuf-shim-${process.pid}.so`);
  execSync(`cc -shared -fPIC -O2 -o ${out} ${new URL('sockbuf-shim.c', import.meta.url).pathname} -ldl`);
  process.once('exit', () => fs.rmSync(out, { force: true }));
  return { LD_PRELOAD: out, SOCKBUF_MIN: String(bytes) };
}

assertPrivateNet();
const topo = new Topology();
const turn = await startTurn(PUBLIC, { env: sockbufShim(process.env.PROBE_COTURN_SOCKBUF) });
const site = await startStatic({ host: PUBLIC });
const coturn = execSync('pgrep -n turnserver').toString().trim();
const secureOrigin = site.url.replace(/\/$/, '');
const rows = [
  ['direct', [topo.publicHost('pa'), topo.publicHost('pb')], []],
  ['TURN', [topo.homeHost('sa', 'symmetric'), topo.homeHost('sb', 'symmetric')], [...turn.stun, ...turn.turn]],
];
const browsers = [];
const PARALLEL = Number(process.env.PROBE_PARALLEL || 1);
const perMib = (x) => (x / ((PARALLEL * SIZE) / 1048576)).toFixed(3);
try {
  for (const [name, hosts, iceServers] of rows) {
    const tags = [`${name}-a`.toLowerCase(), `${name}-b`.toLowerCase()];
    const pages = [];
    for (const [i, h] of hosts.entries()) {
      const b = await browser({ netns: h.ns, secureOrigin, tag: tags[i] });
      browsers.push(b);
      pages.push([]);
      for (let k = 0; k < PARALLEL; k++) pages[i].push(await openPage(b, site.url));
    }
    const pairs = pages[0].map((a, k) => [a, pages[1][k]]);
    const [a, b] = pairs[0];
    for (let i = 0; i < RUNS; i++) {
      const cpu = () => [pidCpu(coturn), browserCpu(tags[0]), browserCpu(tags[1]), machineCpu().busy];
      const threads0 = process.env.PROBE_THREADS ? threadCpu() : null;
      const [cpu0, udp0, t0] = [cpu(), udpCounters(), performance.now()];
      const got = await Promise.all(pairs.map(async ([from, to]) => {
        const offer = await from.evaluate(rawOffer, { iceServers });
        const answer = await to.evaluate(rawAnswer, { offer, size: SIZE, iceServers });
        await from.evaluate(rawSend, { answer, size: SIZE });
        return to.evaluate(() => window.rawGot);
      }));
      // Together: every byte over the time the slowest took.
      const r = { seconds: Math.max(...got.map((x) => x.seconds)) };
      const [udp, used, wall] = [udpCounters(), cpu().map((x, k) => x - cpu0[k]), (performance.now() - t0) / 1000];
      const [turnCpu, senderCpu, receiverCpu, all] = used;
      // The CPU window (wall) spans signalling too; the transfer's own seconds are r.seconds.
      console.log(`${name}${PARALLEL > 1 ? ` x${PARALLEL}` : ''}: ${((PARALLEL * SIZE) / r.seconds / 1e6).toFixed(1)} MB/s in ${r.seconds.toFixed(2)} s; `
        + `CPU s per MiB: sender ${perMib(senderCpu)}, receiver ${perMib(receiverCpu)}, coturn ${perMib(turnCpu)}, `
        + `machine ${perMib(all)} (rest ${perMib(all - senderCpu - receiverCpu - turnCpu)}); `
        + `machine busy ${(all / wall).toFixed(2)} of ${os.cpus().length} cores over ${wall.toFixed(2)} s; `
        + `UDP drops ${udp.drops - udp0.drops} of ${udp.datagrams - udp0.datagrams} datagrams; `
        + `sender ${await a.evaluate(selectedPair)}; receiver ${await b.evaluate(selectedPair)}`);
      if (threads0) console.log(`  busiest threads: ${busiest(threads0, threadCpu(), wall)}`);
      for (const [from, to] of pairs) {
        await from.evaluate(rawClose);
        await to.evaluate(rawClose);
      }
    }
    while (browsers.length) await browsers.pop().close();
  }
} finally {
  for (const x of browsers) await x.close();
  turn.stop();
  site.stop();
  topo.destroy();
}
