// Emulated networks for the browser tests, all inside the private network
// namespace the tests run in (cargo xtask test starts them under
// `unshare --net`): nothing here touches the machine's own network.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Throws unless this process has a network namespace of its own. */
export function assertPrivateNet() {
  let mine;
  let init;
  try {
    mine = fs.readlinkSync('/proc/self/ns/net');
    init = fs.readlinkSync('/proc/1/ns/net');
  } catch {
    return; // pid 1's namespace is not readable: we are not in the init namespace's pid space
  }
  if (mine === init) {
    throw new Error('network tests change interfaces and routes: run them in a private namespace '
      + "(unshare --net sh -c 'ip link set lo up && exec node --test ...'), as cargo xtask test does");
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
