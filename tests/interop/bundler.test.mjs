// The npm package works in a bundler: Vite builds a page that imports
// `webswarm-web` by name (no Node polyfills configured), and two clients of
// that page exchange a file over WebRTC through our tracker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { startTracker, startStaticDir, browser, openPage } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

test('a Vite-bundled page transfers a file with webswarm-web', { timeout: 180_000 }, async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-vite-'));
  await build({
    root: path.join(here, '../bundler'),
    logLevel: 'warn',
    build: { outDir: out, emptyOutDir: true },
  });
  const assets = fs.readdirSync(path.join(out, 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `Vite did not emit the wasm: ${assets}`);
  const js = assets.filter((f) => f.endsWith('.js')).map((f) => fs.readFileSync(path.join(out, 'assets', f), 'utf8')).join('');
  assert.ok(!/from ?["']node:/.test(js), 'the bundle imports a Node module');
  const tracker = await startTracker();
  const site = await startStaticDir(out);
  const b = await browser();
  try {
    const page = await openPage(b, site.url);
    const same = await page.evaluate(({ tracker }) => window.run(tracker, 3 * 1024 * 1024 + 5), { tracker: tracker.url });
    assert.equal(same, true, 'the bundled page got different bytes');
  } finally {
    await b.close();
    site.stop();
    tracker.stop();
    fs.rmSync(out, { recursive: true, force: true });
  }
});
