// Debian's coturn as the tests' STUN and TURN server.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';

export const TURN_USER = 'webswarm';
export const TURN_PASSWORD = 'test-only';

function freeUdpPort(host) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.on('error', reject);
    s.bind(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts turnserver on `host` (relay ports from `host` too) with long-term
 * credentials TURN_USER / TURN_PASSWORD, or, given `secret`, coturn's REST
 * scheme (`use-auth-secret`: credentials minted from the secret). `env`
 * adds to turnserver's environment (bench/turn-probe.mjs preloads a shim).
 * Resolves with the ICE server entries for STUN only and for TURN, and `stop()`.
 */
export async function startTurn(host, { secret, env } = {}) {
  const port = await freeUdpPort(host);
  const child = spawn('turnserver', [
    ...(process.env.TURN_VERBOSE ? ['-V'] : []), '-n', '--no-cli', '--no-tls', '--no-dtls', '--log-file=stdout', '--simple-log',
    `--listening-ip=${host}`, `--relay-ip=${host}`, `--listening-port=${port}`,
    '--min-port=40000', '--max-port=40999', '--realm=webswarm.test', '--fingerprint',
    ...(secret ? ['--use-auth-secret', `--static-auth-secret=${secret}`] : ['--lt-cred-mech', `--user=${TURN_USER}:${TURN_PASSWORD}`]),
    // The peers' relayed addresses are on this same private network.
    `--allowed-peer-ip=${host}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  // Killed with this process, however it ends: else it outlives a crashed
  // test, holding a namespace nobody uses.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  let log = '';
  const onData = (c) => { log = (log + c).slice(-(process.env.TURN_VERBOSE ? 5_000_000 : 20_000)); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const deadline = Date.now() + 10_000;
  while (!/listener opened on|Total General servers/.test(log)) {
    if (child.exitCode !== null) throw new Error(`turnserver exited: ${log}`);
    if (Date.now() > deadline) throw new Error(`turnserver did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    stun: [{ urls: `stun:${host}:${port}` }],
    turn: [{ urls: `turn:${host}:${port}?transport=udp`, username: TURN_USER, credential: TURN_PASSWORD }],
    log: () => log,
    stop: () => { process.off('exit', reap); child.kill('SIGTERM'); },
  };
}
