// Headless Firefox ESR (Debian's) driven over W3C WebDriver through
// geckodriver (from the cargo registry), with the small part of
// playwright's page API the tests use: `goto`, `evaluate`, `waitForFunction`.
// Playwright itself drives only its own patched Firefox builds.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { ensureUplink } from './netns.mjs';

// Firefox gathers ICE candidates on a private namespace's interface only
// with these (../shared/docs/test-networks.md).
const PREFS = {
  'media.peerconnection.ice.default_address_only': false,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.peerconnection.ice.loopback': true,
  'media.navigator.permission.disabled': true,
  // Nothing leaves the namespace anyway; these keep start-up quiet and quick.
  'app.update.enabled': false,
  'browser.shell.checkDefaultBrowser': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
  'network.captive-portal-service.enabled': false,
};

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function until(what, ok, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await ok()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A fresh headless Firefox (one geckodriver, one session, one page). */
export async function firefox() {
  ensureUplink();
  const port = await freePort();
  const driver = spawn(process.env.GECKODRIVER || 'geckodriver', ['--port', String(port), '--host', '127.0.0.1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  driver.stderr.on('data', (c) => { log = (log + c).slice(-4000); });
  const base = `http://127.0.0.1:${port}`;
  await until('geckodriver listening', () => fetch(`${base}/status`).then(() => true, () => false));
  const call = async (method, p, body) => {
    const r = await fetch(base + p, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const j = await r.json();
    if (j.value && j.value.error) throw new Error(`WebDriver ${j.value.error}: ${j.value.message}\n${log}`);
    return j.value;
  };
  const session = await call('POST', '/session', {
    capabilities: {
      alwaysMatch: {
        browserName: 'firefox',
        'moz:firefoxOptions': { binary: process.env.FIREFOX || '/usr/bin/firefox-esr', args: ['-headless'], prefs: PREFS },
        timeouts: { script: 600_000, pageLoad: 60_000 },
      },
    },
  });
  const s = `/session/${session.sessionId}`;
  const page = {
    browserName: 'firefox',
    version: session.capabilities.browserVersion,
    async goto(url) { await call('POST', `${s}/url`, { url }); },
    async reload() { await call('POST', `${s}/refresh`, {}); },
    /** Runs `fn(arg)` in the page and returns its (JSON) result, as playwright's evaluate does. */
    async evaluate(fn, arg) {
      const script = `const done = arguments[arguments.length - 1];
        Promise.resolve().then(() => (${fn.toString()})(arguments[0]))
          .then((v) => done({ ok: v === undefined ? null : v }), (e) => done({ err: String((e && e.stack) || e) }));`;
      const r = await call('POST', `${s}/execute/async`, { script, args: [arg === undefined ? null : arg] });
      if (r.err !== undefined) throw new Error(`in Firefox: ${r.err}`);
      return r.ok;
    },
    async waitForFunction(fn, arg, { timeout = 30_000 } = {}) {
      await until('page condition', () => page.evaluate(fn, arg), timeout);
    },
    on() {},
  };
  let opened = false;
  return {
    async newPage() {
      if (opened) throw new Error('one page per Firefox here: start another firefox()');
      opened = true;
      return page;
    },
    async close() {
      await call('DELETE', s).catch(() => {});
      driver.kill('SIGTERM');
    },
  };
}
