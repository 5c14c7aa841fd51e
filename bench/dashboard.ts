// Dashboard refresh benchmark (issue 16, target 3): a Grafana-like dashboard of 10 range-query
// panels over the last 6 h at a 30 s step, refreshed every 30 s of simulated time, asked of one
// Prometheus 2.42 directly and of the proxy in front of it (results cache on, the default), in
// the same run, refresh by refresh. Every proxy answer is checked against Prometheus's.
//
// The data (bench/query-data.ts SHARDED: ~4M samples, 6 h 10 min at 15 s) is from 2024, so to the
// proxy's clock all of it is old. The proxy's `freshness` is set so that its cacheable limit is
// the simulated "now" minus 10 minutes, as it would be on live data; real time passing during the
// run only moves that limit later than simulated, i.e. the proxy evaluates more than it would live.
//
//   npm run bench:dashboard [-- --refreshes=12 --no-cache]
import fs from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { buildBlocks, SHARDED } from './query-data.js';
import { median, sameAnswer, sameUpToTies, timedRange } from './query-measure.js';
import { addr, prometheusFromBlocks, startProxyProcess } from './query-procs.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'] as const;
  }),
);
const REFRESHES = Number(args.get('refreshes') ?? 12);
const NO_CACHE = args.has('no-cache');

const PANELS = [
  'sum by (job) (rate(x_total[5m]))',
  'sum(rate(x_total[5m]))',
  'topk(5, sum by (instance) (rate(x_total[5m])))',
  'histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))',
  'histogram_quantile(0.5, sum by (le, job) (rate(h_bucket[5m])))',
  'sum by (job) (rate(h_count[5m]))',
  'sum by (job) (rate(h_sum[5m])) / sum by (job) (rate(h_count[5m]))',
  'count by (job) (x_total)',
  'max by (job) (rate(x_total[1m]))',
  'avg(rate(x_total[5m]))',
];
const STEP_MS = 30_000;
const WINDOW_MS = 6 * 3600_000;

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function refresh(base: string, nowMs: number): Promise<{ ms: number; bodies: string[] }> {
  const end = nowMs - (nowMs % STEP_MS);
  const start = end - WINDOW_MS;
  const t = performance.now();
  // Grafana sends a dashboard's panel queries at once.
  const answers = await Promise.all(PANELS.map((q) => timedRange(base, q, start, end, STEP_MS)));
  return { ms: performance.now() - t, bodies: answers.map((a) => a.body) };
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(tmpdir(), 'promfront-bench-dashboard-'));
  process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  const built = await buildBlocks(SHARDED, path.join(work, 'data'));
  console.log(`data: ${built.all.series} series, ${built.all.samples} samples`);
  const prom = await prometheusFromBlocks(built.all.dir);
  const simStart = SHARDED.endMs - 5 * 60_000 - REFRESHES * 30_000;
  const freshnessS = Math.ceil((Date.now() - simStart) / 1000) + 600;
  const proxy = await startProxyProcess({
    groups: [[addr(prom)]],
    remoteRead: false,
    dir: work,
    extraYaml: NO_CACHE ? '  results_cache: {enabled: false}' : `  results_cache: {freshness: ${freshnessS}s}`,
  });
  const rows: { i: number; prom: number; proxy: number; cpu: number }[] = [];
  try {
    // Warm both (page cache, connections) on another window, then the dashboard.
    await refresh(prom.url, simStart - 3600_000);
    await refresh(proxy.url, simStart - 3600_000);
    for (let i = 0; i < REFRESHES; i++) {
      const now = simStart + i * 30_000;
      const p = await refresh(prom.url, now);
      const cpu0 = cpuSeconds(proxy.pid);
      const x = await refresh(proxy.url, now);
      const cpu = cpuSeconds(proxy.pid) - cpu0;
      PANELS.forEach((q, k) => {
        const diff = q.startsWith('topk') ? sameUpToTies(p.bodies[k], x.bodies[k]).diff : sameAnswer(p.bodies[k], x.bodies[k]);
        if (diff) throw new Error(`refresh ${i}, ${q}: ${diff}`);
      });
      rows.push({ i, prom: p.ms, proxy: x.ms, cpu });
      console.log(
        `refresh ${String(i + 1).padStart(2)}: prometheus ${p.ms.toFixed(0).padStart(5)} ms, proxy ${x.ms.toFixed(0).padStart(5)} ms (${(x.ms / p.ms).toFixed(2)}×), proxy CPU ${(cpu * 1000).toFixed(0)} ms`,
      );
    }
  } finally {
    await proxy.stop();
    await prom.stop();
  }
  const later = rows.slice(1);
  const mp = median(later.map((r) => r.prom));
  const mx = median(later.map((r) => r.proxy));
  console.log(
    `\nfirst refresh: prometheus ${rows[0].prom.toFixed(0)} ms, proxy ${rows[0].proxy.toFixed(0)} ms (${(rows[0].proxy / rows[0].prom).toFixed(2)}×)`,
  );
  console.log(
    `refreshes 2..${REFRESHES}, median: prometheus ${mp.toFixed(0)} ms, proxy ${mx.toFixed(0)} ms (${(mx / mp).toFixed(2)}×), proxy CPU ${(median(later.map((r) => r.cpu)) * 1000).toFixed(0)} ms per refresh`,
  );
  console.log('all answers equal to Prometheus’s (within the PromQL test tolerance; topk up to ties)');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
