// Emulated networks for the browser tests, all inside the private network
// namespace the tests run in (cargo xtask test starts them under
// `unshare --net`): nothing here touches the machine's own network.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * Throws unless this process has a network namespace of its own: one that
 * `unshare --net` made holds loopback alone, plus the interfaces these
 * tests add (all named `ws...`). Any other interface (eth0, ...) is a real
 * host's network, whose routes a topology would replace. (Comparing with
 * pid 1's namespace is not enough: in a sandbox /proc/1 may be unreadable.)
 */
export function assertPrivateNet() {
  const foreign = ip('-o', 'link', 'show').split('\n').filter(Boolean)
    .map((l) => l.split(':')[1].trim().split('@')[0])
    .filter((name) => name !== 'lo' && !name.startsWith('ws'));
  if (foreign.length) {
    throw new Error(`network tests change interfaces and routes, and this namespace has ${foreign.join(', ')}: `
      + "run them in a private one (unshare --net sh -c 'ip link set lo up && exec node --test ...'), as cargo xtask test does");
  }
}

function ip(...args) {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

/**
 * Gives this namespace an interface with an address and a default route
 * (a veth pair, both ends here), once: headless Firefox gathers no ICE
 * candidate on loopback alone. Chromium then gathers one more host
 * candidate, on an address of this same namespace.
 */
export function ensureUplink() {
  if (ip('-o', 'link', 'show').includes('wsup0')) return;
  assertPrivateNet();
  ip('link', 'add', 'wsup0', 'type', 'veth', 'peer', 'name', 'wsup1');
  ip('addr', 'add', '10.77.0.1/24', 'dev', 'wsup0');
  ip('addr', 'add', '10.77.0.2/24', 'dev', 'wsup1');
  ip('link', 'set', 'wsup0', 'up');
  ip('link', 'set', 'wsup1', 'up');
  if (!ip('route', 'show', 'default').trim()) ip('route', 'add', 'default', 'via', '10.77.0.2', 'dev', 'wsup0');
}

function inNs(ns, ...args) {
  return execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });
}

/** The address every host of a [`Topology`] reaches the test's own services on. */
export const PUBLIC = '10.200.0.1';

/** The same, over IPv6 (test-only ULA addresses). */
export const PUBLIC6 = 'fd00:c8::1';

let topologies = 0;
let links = 0;

/**
 * Hosts in network namespaces of their own around this one, which plays the
 * public internet: it holds the tracker, the page server and the STUN/TURN
 * server at `PUBLIC`, and routes between the hosts' links. A home host sits
 * behind a NAT router namespace: `cone` is nftables masquerade (Linux keeps
 * the source port, and conntrack lets in only replies from where the host
 * sent: a port-restricted cone), `symmetric` masquerade with `fully-random`
 * ports (a new port for each destination).
 */
export class Topology {
  constructor() {
    assertPrivateNet();
    // Names and subnets are never reused within a process: the kernel
    // removes a deleted namespace's veths some time after `ip netns del`.
    this.tag = `ws${process.pid % 100000}${String.fromCharCode(97 + (topologies++ % 26))}`;
    this.spaces = [];
    // On loopback (the kernel here has no dummy interfaces): still local
    // here, and routed to from every host.
    if (!ip('-o', 'addr', 'show').includes(PUBLIC)) ip('addr', 'add', `${PUBLIC}/32`, 'dev', 'lo');
    if (!ip('-o', 'addr', 'show').includes(PUBLIC6)) ip('-6', 'addr', 'add', `${PUBLIC6}/128`, 'dev', 'lo', 'nodad');
    fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    fs.writeFileSync('/proc/sys/net/ipv6/conf/all/forwarding', '1');
    // The rest of the internet: a namespace that swallows what is sent to
    // it. Without a default route here, a packet coturn relays towards a
    // private address a peer advertised (192.168.x) fails at once with
    // ENETUNREACH, and coturn closes that whole allocation -- a failure no
    // real TURN server with a default route sees.
    const sink = this.uplink(this.space('internet'), { v6: true });
    ip('route', 'replace', 'default', 'via', sink.addr);
    ip('-6', 'route', 'replace', 'default', 'via', sink.addr6);
  }

  space(name) {
    const ns = `${this.tag}-${name}`;
    ip('netns', 'add', ns);
    this.spaces.push(ns);
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    return ns;
  }

  /**
   * A veth from this namespace to `ns`, with IPv4 and/or IPv6 addresses and
   * `ns`'s default routes through it; returns `ns`'s end.
   */
  uplink(ns, { v4 = true, v6 = false } = {}) {
    const n = ++links;
    if (n > 254) throw new Error('too many links for one test process');
    const [here, there] = [`${this.tag}u${n}`, `${this.tag}d${n}`];
    ip('link', 'add', here, 'type', 'veth', 'peer', 'name', there, 'netns', ns);
    ip('link', 'set', here, 'up');
    inNs(ns, 'ip', 'link', 'set', there, 'up');
    const end = { dev: there, n };
    if (v4) {
      ip('addr', 'add', `10.201.${n}.1/24`, 'dev', here);
      inNs(ns, 'ip', 'addr', 'add', `10.201.${n}.2/24`, 'dev', there);
      inNs(ns, 'ip', 'route', 'add', 'default', 'via', `10.201.${n}.1`);
      end.addr = `10.201.${n}.2`;
    }
    if (v6) {
      // nodad: the address works at once, not after duplicate detection.
      ip('-6', 'addr', 'add', `fd00:c9:${n}::1/64`, 'dev', here, 'nodad');
      inNs(ns, 'ip', '-6', 'addr', 'add', `fd00:c9:${n}::2/64`, 'dev', there, 'nodad');
      inNs(ns, 'ip', '-6', 'route', 'add', 'default', 'via', `fd00:c9:${n}::1`);
      end.addr6 = `fd00:c9:${n}::2`;
    }
    return end;
  }

  /** A host with a public address of its own: IPv4 (default), IPv6, or both. */
  publicHost(name, { v4 = true, v6 = false } = {}) {
    const ns = this.space(name);
    const up = this.uplink(ns, { v4, v6 });
    return { ns, addr: up.addr, addr6: up.addr6 };
  }

  /** A host on a private network behind a NAT router of the given kind. */
  homeHost(name, nat = 'cone') {
    const router = this.space(`${name}-nat`);
    const wan = this.uplink(router);
    const host = this.space(name);
    const n = wan.n;
    const [lan, inside] = [`lan${n}`, `eth${n}`];
    inNs(router, 'ip', 'link', 'add', lan, 'type', 'veth', 'peer', 'name', inside, 'netns', host);
    inNs(router, 'ip', 'addr', 'add', `192.168.${n}.1/24`, 'dev', lan);
    inNs(router, 'ip', 'link', 'set', lan, 'up');
    inNs(host, 'ip', 'addr', 'add', `192.168.${n}.2/24`, 'dev', inside);
    inNs(host, 'ip', 'link', 'set', inside, 'up');
    inNs(host, 'ip', 'route', 'add', 'default', 'via', `192.168.${n}.1`);
    inNs(router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    const masq = nat === 'symmetric' ? 'masquerade fully-random' : 'masquerade';
    // Unsolicited packets from outside are dropped, as home routers do.
    // Without that, a peer's first connectivity check (arriving before ours
    // went out) leaves a conntrack entry for the router itself on the port
    // our own mapping would have used, and masquerade then picks another.
    inNs(router, 'nft', `add table ip nat
      add chain ip nat post { type nat hook postrouting priority 100 ; }
      add rule ip nat post oifname "${wan.dev}" ${masq}
      add table ip filter
      add chain ip filter input { type filter hook input priority 0 ; }
      add rule ip filter input iifname "${wan.dev}" ct state new drop
      add chain ip filter forward { type filter hook forward priority 0 ; }
      add rule ip filter forward iifname "${wan.dev}" ct state new drop`);
    return { ns: host, addr: `192.168.${n}.2`, publicAddr: wan.addr, router };
  }

  /** The argv that runs `argv` inside host `ns`. */
  static wrap(ns, argv) {
    return ['ip', 'netns', 'exec', ns, ...argv];
  }

  destroy() {
    for (const ns of this.spaces.reverse()) {
      try { ip('netns', 'del', ns); } catch { /* already gone */ }
    }
    this.spaces = [];
  }
}

/**
 * Makes a lossy path: drops `percent` % of the UDP datagrams (WebRTC's) that
 * host `ns` sends and receives, at random (nftables `numgen random`), or of
 * this namespace's own when `ns` is null (it must be a private one; there a
 * datagram to loopback crosses the output hook only: one chance). Returns a
 * function that reads how many were dropped so far.
 */
export function dropUdp(ns, percent) {
  if (!ns) assertPrivateNet();
  const nft = (...a) => execFileSync(ns ? 'ip' : 'nft', ns ? ['netns', 'exec', ns, 'nft', ...a] : a, { encoding: 'utf8' });
  const per10k = Math.round(percent * 100);
  const hooks = ns ? ['output', 'input'] : ['output'];
  nft(['add table inet webswarm_loss',
    ...hooks.flatMap((h) => [`add chain inet webswarm_loss ${h} { type filter hook ${h} priority 0 ; }`,
      `add rule inet webswarm_loss ${h} meta l4proto udp numgen random mod 10000 < ${per10k} counter drop`])].join('\n'));
  return () => [...nft('list', 'table', 'inet', 'webswarm_loss').matchAll(/packets (\d+)/g)]
    .reduce((sum, m) => sum + Number(m[1]), 0);
}
