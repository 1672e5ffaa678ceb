// Where the time goes through TURN (issue 20): a raw RTCDataChannel between
// two Chromiums behind symmetric NATs with STUN + TURN, as bench/nat.mjs's
// TURN row, printing per transfer the candidate pair each side selected,
// coturn's CPU seconds, and the UDP receive-buffer drops in the "internet"
// namespace (where coturn runs).
//   node bench/turn-probe.mjs [MiB, default 16] [runs, default 2]
// Run in a private namespace, as bench/nat.mjs.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import { startStatic, browser, openPage, pidCpu } from '../interop/harness.mjs';
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
  return pair && `${show(candidates[pair.localCandidateId])} -> ${show(candidates[pair.remoteCandidateId])}`;
}

assertPrivateNet();
const topo = new Topology();
const turn = await startTurn(PUBLIC);
const site = await startStatic({ host: PUBLIC });
const coturn = execSync('pgrep -n turnserver').toString().trim();
const secureOrigin = site.url.replace(/\/$/, '');
const homes = [topo.homeHost('sa', 'symmetric'), topo.homeHost('sb', 'symmetric')];
const browsers = [];
try {
  for (const h of homes) browsers.push(await browser({ netns: h.ns, secureOrigin }));
  const [a, b] = [await openPage(browsers[0], site.url), await openPage(browsers[1], site.url)];
  const iceServers = [...turn.stun, ...turn.turn];
  for (let i = 0; i < RUNS; i++) {
    const [cpu0, udp0] = [pidCpu(coturn), udpCounters()];
    const offer = await a.evaluate(rawOffer, { iceServers });
    const answer = await b.evaluate(rawAnswer, { offer, size: SIZE, iceServers });
    await a.evaluate(rawSend, { answer, size: SIZE });
    const r = await b.evaluate(() => window.rawGot);
    const udp = udpCounters();
    console.log(`${(SIZE / r.seconds / 1e6).toFixed(1)} MB/s in ${r.seconds.toFixed(2)} s; `
      + `coturn ${(pidCpu(coturn) - cpu0).toFixed(2)} CPU s; `
      + `UDP drops ${udp.drops - udp0.drops} of ${udp.datagrams - udp0.datagrams} datagrams; `
      + `sender ${await a.evaluate(selectedPair)}; receiver ${await b.evaluate(selectedPair)}`);
    await a.evaluate(rawClose);
    await b.evaluate(rawClose);
  }
} finally {
  for (const x of browsers) await x.close();
  turn.stop();
  site.stop();
  topo.destroy();
}
