// What the native -> browser benchmarks share: a random file of `mib` MiB
// seeded by `webswarm seed` through our tracker, and a static site serving
// the package for the leeching page.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTracker, startStatic, runWebswarm, randomFile } from '../interop/harness.mjs';

/** Resolves once the seeder is up: `{ tracker, site, seeder, magnet, stop() }`. */
export async function nativeSeeder(mib) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webswarm-bench-'));
  const { file } = randomFile(dir, 'bench.bin', mib << 20);
  const tracker = await startTracker();
  const site = await startStatic();
  const seeder = await runWebswarm(['seed', file, '--tracker', tracker.url, '--bind', '127.0.0.1'],
    { ready: (l) => l.startsWith('magnet:'), timeoutMs: 300_000 });
  return {
    tracker,
    site,
    seeder,
    magnet: seeder.line.trim(),
    stop() {
      seeder.child.kill('SIGINT');
      tracker.stop?.();
      site.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
