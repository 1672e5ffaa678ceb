// Bundled by Vite in the tests: imports the package by name, as an app would.
import { Client } from 'webswarm-web';

window.run = async (tracker, size) => {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  const seeder = new Client({ iceServers: [], trackers: [tracker], storage: 'memory' });
  const seeded = await seeder.seed(new File([data], 'vite.bin'));
  const leecher = new Client({ iceServers: [], trackers: [tracker], storage: 'memory' });
  const t = await leecher.add(seeded.magnetURI);
  await t.whenDone();
  const got = new Uint8Array(await t.files[0].arrayBuffer());
  const same = got.length === data.length && got.every((b, i) => b === data[i]);
  seeder.destroy();
  leecher.destroy();
  return same;
};
window.ready = true;
