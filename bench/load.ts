// Load benchmark for isolation (issue 17): does query load delay the sharding core? The real proxy
// (dist/src/server/cli.js) runs a shard section over a synthetic exporter and a query section over
// two real Prometheus servers holding backfilled data (the "dashboard" set split by the shard key);
// N clients send range queries back to back for D seconds while a probe asks /-/healthy and
// /metrics/shard/K every 100 ms. Reported: query latency p50/p99, probe latency p50/p99, failed
// upstream scrapes (promfront_source_scrape_failures_total), peak RSS (VmHWM) of the proxy; then
// the same query load against one Prometheus holding all the data (its /-/healthy and peak RSS).
//
// The exporter and the probe run in a worker thread of this process, so the load generator's own
// work (200 answers to read) cannot delay a scrape or a probe and be blamed on the proxy.
//
//   npm run bench:load [-- --clients=200 --seconds=30 --series=20000 --partial-workers=N --thread-nice=N]
import { execFileSync } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { findPrometheus, type PrometheusProcess } from '../dev/prometheus-process.js';
import { startSyntheticExporter } from '../dev/synthetic.js';
import { buildBlocks, DASHBOARD } from './query-data.js';
import { percentile } from './query-measure.js';
import { addr, memoryStatus, prometheusFromBlocks, startProxyProcess } from './query-procs.js';

// Dashboard-panel sized: one job's series (a tenth of the data) over the hour at a 60 s step.
const QUERIES = [
  'sum by (code) (rate(http_requests_total{job="job-1"}[5m]))',
  'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="job-2"}[5m])))',
  'topk(5, rate(http_requests_total{job="job-3"}[5m]))',
  'avg(avg_over_time(memory_free_bytes{job="job-4"}[10m]))',
  'count by (code) (http_requests_total{job="job-5"})',
  'sum(rate(http_request_duration_seconds_sum{job="job-6"}[5m])) / sum(rate(http_request_duration_seconds_count{job="job-6"}[5m]))',
];

interface ProbeJob {
  /** Base URL of the server to probe. */
  base: string;
  /** Paths asked in turn, one every intervalMs. */
  paths: string[];
  intervalMs: number;
}

interface ProbeResult {
  /** path -> latencies in ms (a failed or non-200 answer counts as its time and in `failed`). */
  latencies: Record<string, number[]>;
  failed: Record<string, number>;
}

// ------------------------------------------------------------------------------------------------
// Worker thread: the synthetic exporter and the probe.

if (!isMainThread) {
  const port = parentPort!;
  const { series } = workerData as { series: number };
  const exporter = await startSyntheticExporter({ series, stepMs: 5000 });
  let probe: { stop: () => Promise<ProbeResult> } | undefined;
  port.postMessage({ exporterUrl: exporter.url });
  port.on('message', (msg: { start?: ProbeJob; stop?: true; close?: true }) => {
    if (msg.start) probe = runProbe(msg.start);
    if (msg.stop) void probe!.stop().then((r) => port.postMessage({ result: r }));
    if (msg.close) void exporter.close().then(() => process.exit(0));
  });
}

function runProbe(job: ProbeJob): { stop: () => Promise<ProbeResult> } {
  const result: ProbeResult = { latencies: {}, failed: {} };
  for (const p of job.paths) {
    result.latencies[p] = [];
    result.failed[p] = 0;
  }
  let i = 0;
  let running = true;
  const inflight = new Set<Promise<void>>();
  const one = async (p: string): Promise<void> => {
    const t = performance.now();
    try {
      const res = await request(`${job.base}${p}`, { headers: { 'accept-encoding': 'gzip' }, headersTimeout: 60_000, bodyTimeout: 60_000 });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) result.failed[p]++;
    } catch {
      result.failed[p]++;
    }
    result.latencies[p].push(performance.now() - t);
  };
  // A fixed schedule, not back to back: a stalled server shows up as long latencies of the probes
  // already sent, not as fewer probes.
  const timer = setInterval(() => {
    const p = job.paths[i++ % job.paths.length];
    const pr = one(p).finally(() => inflight.delete(pr));
    inflight.add(pr);
  }, job.intervalMs);
  return {
    stop: async () => {
      if (running) clearInterval(timer);
      running = false;
      await Promise.all(inflight);
      return result;
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Main thread: data, processes, load.

async function main(): Promise<void> {
  const args = new Map(
    process.argv.slice(2).map((a) => {
      const [k, v] = a.replace(/^--/, '').split('=');
      return [k, v ?? 'true'] as const;
    }),
  );
  const KNOWN = ['clients', 'seconds', 'series', 'shards', 'partial-workers', 'thread-nice'];
  for (const k of args.keys()) {
    if (!KNOWN.includes(k)) {
      console.error(`unknown flag --${k}; known: ${KNOWN.map((x) => `--${x}`).join(' ')}`);
      process.exit(2);
    }
  }
  const CLIENTS = Number(args.get('clients') ?? 200);
  const SECONDS = Number(args.get('seconds') ?? 30);
  const SERIES = Number(args.get('series') ?? 20_000);
  const SHARDS = Number(args.get('shards') ?? 4);

  const work = fs.mkdtempSync(path.join(tmpdir(), 'promfront-bench-load-'));
  const cleanup: (() => Promise<unknown>)[] = [];
  process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model;
  const promVersion = execFileSync(findPrometheus(), ['--version'], { encoding: 'utf8' }).split('\n')[0];
  console.log(`# machine: ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM; node ${process.version}; ${promVersion}`);
  console.log(`# load: ${CLIENTS} clients sending range queries back to back for ${SECONDS} s (still running then: cancelled); probes every 100 ms`);

  const data = await buildBlocks(DASHBOARD, path.join(work, DASHBOARD.name), 2);
  console.log(`# data: "${DASHBOARD.name}", ${data.all.series} series, ${data.all.samples} samples, split over 2 Prometheus servers`);

  const helper = new Worker(fileURLToPath(import.meta.url), { workerData: { series: SERIES } });
  const exporterUrl = await new Promise<string>((resolve) => helper.once('message', (m: { exporterUrl: string }) => resolve(m.exporterUrl)));
  const probe = async (job: ProbeJob, during: () => Promise<void>): Promise<ProbeResult> => {
    helper.postMessage({ start: job });
    await during();
    helper.postMessage({ stop: true });
    return new Promise((resolve) => helper.once('message', (m: { result: ProbeResult }) => resolve(m.result)));
  };

  const procs: PrometheusProcess[] = [];
  try {
    for (const b of data.shards) procs.push(await prometheusFromBlocks(b.dir));
    // `--partial-workers=N`: the query layer's partial-aggregation pool (default: one per core).
    const workers = args.get('partial-workers');
    // `--thread-nice=N`: query.thread_nice (default 5), the query thread's and the pool's nice value.
    const nice = args.get('thread-nice');
    const extra = [
      ...(workers === undefined ? [] : [`  partial_workers: ${workers}`]),
      ...(nice === undefined ? [] : [`  thread_nice: ${nice}`]),
      'shard:',
      `  num_shards: ${SHARDS}`,
      '  scrape_interval: 5s',
      '  scrape_timeout: 4s',
      '  sources:',
      `    - url: ${exporterUrl}`,
    ].join('\n');
    const proxy = await startProxyProcess({ groups: procs.map((p) => [addr(p)]), remoteRead: false, dir: work, extraYaml: extra });
    cleanup.push(() => proxy.stop());
    // The first cycle, so shard answers are real bodies and not 503.
    const deadline = Date.now() + 60_000;
    while ((await request(`${proxy.url}/-/ready`).then((r) => (r.body.dump(), r.statusCode))) !== 200) {
      if (Date.now() > deadline) throw new Error(`proxy not ready after 60 s:\n${proxy.logs()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const failures = async (): Promise<number> => {
      const text = await (await request(`${proxy.url}/metrics`)).body.text();
      return [...text.matchAll(/^promfront_source_scrape_failures_total\{[^}]*\} (\S+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
    };
    const scrapesBefore = await failures();
    const shardPaths = Array.from({ length: SHARDS }, (_, k) => `/metrics/shard/${k}`);
    const proxyRun = await loadRun(proxy.url, CLIENTS, SECONDS, (during) =>
      probe({ base: proxy.url, paths: ['/-/healthy', ...shardPaths], intervalMs: 100 }, during),
    );
    const scrapeFailures = (await failures()) - scrapesBefore;
    const proxyMem = memoryStatus(proxy.pid);
    await proxy.stop();
    for (const p of procs.splice(0)) await p.stop();

    const one = await prometheusFromBlocks(data.all.dir);
    procs.push(one);
    const promRun = await loadRun(one.url, CLIENTS, SECONDS, (during) => probe({ base: one.url, paths: ['/-/healthy'], intervalMs: 100 }, during));
    const promMem = memoryStatus(one.pid);

    const fmt = (xs: number[]): string => (xs.length === 0 ? '-' : `${percentile(xs, 50).toFixed(1)} / ${percentile(xs, 99).toFixed(1)} ms`);
    const shardLat = shardPaths.flatMap((p) => proxyRun.probe.latencies[p]);
    const shardFailed = shardPaths.reduce((s, p) => s + proxyRun.probe.failed[p], 0);
    console.log(
      `# load average after the run (1, 5, 15 min): ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
    console.log(
      '\n| target | queries answered (errors, cancelled at the end) | query p50 / p99 | /-/healthy p50 / p99 (failed) | /metrics/shard/K p50 / p99 (failed) | failed upstream scrapes | peak RSS |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    console.log(
      `| proxy (2 groups, ${SHARDS} shards) | ${proxyRun.ok} (${proxyRun.errors}, ${proxyRun.cancelled}) | ${fmt(proxyRun.latencies)} | ${fmt(proxyRun.probe.latencies['/-/healthy'])} (${proxyRun.probe.failed['/-/healthy']}) | ${fmt(shardLat)} (${shardFailed}) | ${scrapeFailures} | ${proxyMem.hwmMb.toFixed(0)} MB |`,
    );
    console.log(
      `| one Prometheus | ${promRun.ok} (${promRun.errors}, ${promRun.cancelled}) | ${fmt(promRun.latencies)} | ${fmt(promRun.probe.latencies['/-/healthy'])} (${promRun.probe.failed['/-/healthy']}) | - | - | ${promMem.hwmMb.toFixed(0)} MB |`,
    );
    if (proxyRun.firstError) console.log(`first proxy query error: ${proxyRun.firstError}`);
    if (promRun.firstError) console.log(`first Prometheus query error: ${promRun.firstError}`);
  } finally {
    for (const c of cleanup) await c().catch(() => undefined);
    for (const p of procs) await p.stop().catch(() => undefined);
    helper.postMessage({ close: true });
  }
}

interface LoadResult {
  ok: number;
  errors: number;
  /** Still running at the end of the window: cancelled, not counted in the latencies. */
  cancelled: number;
  firstError?: string;
  latencies: number[];
  probe: ProbeResult;
}

/** `clients` loops of range queries over the data set's hour, for `seconds`, with the probe running. */
async function loadRun(base: string, clients: number, seconds: number, withProbe: (during: () => Promise<void>) => Promise<ProbeResult>): Promise<LoadResult> {
  const r: Omit<LoadResult, 'probe'> = { ok: 0, errors: 0, cancelled: 0, latencies: [] };
  const start = DASHBOARD.startMs / 1000;
  const end = DASHBOARD.endMs / 1000;
  const probeResult = await withProbe(async () => {
    const until = performance.now() + seconds * 1000;
    const stop = new AbortController();
    setMaxListeners(0, stop.signal); // one listener per client, on purpose
    const timer = setTimeout(() => stop.abort(), seconds * 1000);
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let i = c; performance.now() < until; i++) {
          const qs = new URLSearchParams({ query: QUERIES[i % QUERIES.length], start: String(start), end: String(end), step: '60s' });
          const t = performance.now();
          try {
            const res = await request(`${base}/api/v1/query_range?${qs.toString()}`, {
              headersTimeout: 120_000,
              bodyTimeout: 120_000,
              signal: stop.signal,
            });
            const body = await res.body.text();
            if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`);
            r.ok++;
            r.latencies.push(performance.now() - t);
          } catch (err) {
            if (stop.signal.aborted) {
              r.cancelled++;
              continue;
            }
            r.errors++;
            r.firstError ??= (err as Error).message;
          }
        }
      }),
    );
    clearTimeout(timer);
  });
  return { ...r, probe: probeResult };
}

if (isMainThread) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
