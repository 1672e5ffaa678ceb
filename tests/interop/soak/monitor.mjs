// What the soak watches in the long-lived processes (tracker, seeder): resident
// memory, open file descriptors and threads from /proc, plus what each says
// of itself (the tracker's /stats.json, the seeder's --status-every lines).
import fs from 'node:fs';
import http from 'node:http';

/** RSS in KiB, open fds and threads of `pid`; null once it has exited. */
export function procSample(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
    return {
      rssKiB: field('VmRSS'),
      threads: field('Threads'),
      fds: fs.readdirSync(`/proc/${pid}/fd`).length,
    };
  } catch {
    return null;
  }
}

/** GETs a JSON document from 127.0.0.1 (the tracker's /stats.json). */
export function getJson(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        try { resolve(JSON.parse(body)); } catch (e) { reject(e); }
      });
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error(`${url}: no answer in 5 s`)));
  });
}

/** Median of `xs` (numbers); NaN when empty. */
export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * The RSS curve of one process over the run: the first sample, `warm` (the
 * median over the quarter after the warm-up), `end` (the median over the
 * last tenth) and the peak. "Flat after warm-up" is end within ±10 % of warm.
 */
export function rssCurve(samples, warmupMs, runMs) {
  const rss = (s) => s.rssKiB;
  const warm = samples.filter((s) => s.t >= warmupMs && s.t < warmupMs + runMs / 4).map(rss);
  const endFrom = runMs - Math.max(runMs / 10, 6_000);
  const end = samples.filter((s) => s.t >= endFrom && s.t <= runMs).map(rss);
  return {
    startKiB: samples[0]?.rssKiB,
    warmKiB: median(warm),
    endKiB: median(end),
    peakKiB: Math.max(...samples.map(rss)),
  };
}
