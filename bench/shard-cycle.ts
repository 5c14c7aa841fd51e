// Sharding benchmark: one full cycle (fetch, parse, shard, build both formats, gzip) over a Ceph-like
// exposition of 60k / 600k / 1.2M series served by a separate local process, then serving one shard
// with wrk. Each size runs in its own process so peak RSS is that size's alone.
//
//   npm run bench:shard                    # all sizes
//   npm run bench:shard -- --series=600000 # one size
//   npm run bench:shard -- --series=600000 --matrix --rounds=3
//
// --matrix measures what the per-source identity labels (shard.source_identity) and the duplicate
// check cost: the cycle with each on and off (identity on/off x check on/off, upstream identity
// encoding, no serving), the four variants interleaved round by round so that a busy machine
// weighs on all of them alike; each line gives the load average when it ran. In one child,
// --identity=false turns source_identity off and --dup=off replaces the duplicate check by one
// that finds nothing.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/load.js';
import { createApp } from '../src/server/app.js';
import { initHash } from '../src/shard/hash.js';
import { ShardService } from '../src/shard/shard-service.js';
import { SourceIngest } from '../src/shard/ingest.js';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { startPrometheus } from '../dev/prometheus-process.js';
import { startSyntheticExporter } from '../dev/synthetic.js';

const self = fileURLToPath(import.meta.url);
const args: Record<string, string> = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'];
  }),
);

async function exporterMain(series: number): Promise<void> {
  const exp = await startSyntheticExporter({ series, stepMs: 3_600_000 });
  // Warm the cache so the first measured fetch does not include generation.
  await fetch(exp.url, { headers: { accept: 'application/openmetrics-text;version=1.0.0', 'accept-encoding': 'identity' } }).then((r) => r.arrayBuffer());
  await fetch(exp.url, { headers: { accept: 'application/openmetrics-text;version=1.0.0', 'accept-encoding': 'gzip' } }).then((r) => r.arrayBuffer());
  process.stdout.write(`${exp.url}\n`);
}

// wrk runs as a separate process (asynchronously: the server under test is in this process).
async function wrk(url: string, gzip: boolean): Promise<{ rps: number; transfer: string }> {
  const headers = ['-H', 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5'];
  if (gzip) headers.push('-H', 'Accept-Encoding: gzip');
  const { stdout: out } = await promisify(execFile)('wrk', ['-t1', '-c4', '-d5s', '--timeout', '10s', ...headers, url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const transfer = /Transfer\/sec:\s+(\S+)/.exec(out)?.[1] ?? '?';
  return { rps, transfer };
}

async function childMain(series: number, encoding: 'identity' | 'gzip'): Promise<void> {
  const exporter = spawn(process.execPath, [self, '--exporter', `--series=${series}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => exporter.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const identity = args.identity !== 'false';
  const dup = args.dup !== 'off';
  if (!dup) (SourceIngest.prototype as unknown as { isDuplicate: () => boolean }).isDuplicate = () => false;
  const config = parseConfigText(`
shard:
  num_shards: 4
  scrape_interval: 1h
  source_identity: ${identity}
  sources:
    - url: ${url}
      headers: {Accept-Encoding: ${encoding}}
`);
  const svc = new ShardService(config.shard!, pino({ level: 'warn' }));
  await initHash();
  await svc.runCycle(); // warm-up: JIT, connection pool
  const runs: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < 5; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await svc.runCycle();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    runs.push({ wall, cpu: (c.user + c.system) / 1000 });
  }
  const src = svc.sources[0];
  if (!src.up) throw new Error(`source failed: ${src.lastError}`);
  runs.sort((a, b) => a.wall - b.wall);
  const med = runs[2];
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const cpuSorted = runs.map((r) => r.cpu).sort((a, b) => a - b);
  if (args.serve === 'false') {
    process.stdout.write(
      `${JSON.stringify({
        series: src.series,
        identity,
        dup_check: dup,
        upstream_mb: +(src.bodyBytes / 1e6).toFixed(1),
        cycle_wall_ms_median: Math.round(med.wall),
        cycle_wall_ms_min: Math.round(runs[0].wall),
        cycle_cpu_ms_median: Math.round(cpuSorted[2]),
        cycle_cpu_ms_min: Math.round(cpuSorted[0]),
        peak_rss_mb: Math.round(peakRss / 1e6),
        rss_over_body: +(peakRss / src.bodyBytes).toFixed(2),
        load_average: loadavg().map((l) => +l.toFixed(1)),
      })}\n`,
    );
    exporter.kill();
    await svc.stop();
    return;
  }

  const app = createApp({ shard: svc, startedAt: Date.now() });
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  const shardUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics/shard/0`;
  const plain = await wrk(shardUrl, false);
  const gz = await wrk(shardUrl, true);
  const s0 = svc.current!.shards[0];
  const result = {
    series: src.series,
    upstream_mb: +(src.bodyBytes / 1e6).toFixed(1),
    upstream_encoding: encoding,
    cycle_wall_ms_median: Math.round(med.wall),
    cycle_wall_ms_min: Math.round(runs[0].wall),
    cycle_cpu_ms_median: Math.round(med.cpu),
    peak_rss_mb: Math.round(peakRss / 1e6),
    rss_over_body: +(peakRss / src.bodyBytes).toFixed(2),
    shard0_mb: +(s0.omBytes / 1e6).toFixed(1),
    shard0_gzip_mb: +(s0.omGzip.length / 1e6).toFixed(2),
    rps_identity: Math.round(plain.rps),
    transfer_identity: plain.transfer,
    rps_gzip: Math.round(gz.rps),
    transfer_gzip: gz.transfer,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  server.close();
  exporter.kill();
  await svc.stop();
}

/**
 * The peer: Prometheus 2.42 scraping the same upstream directly (fetch, parse and append to its
 * head block), from its own scrape_duration_seconds, and its peak RSS.
 */
async function peerMain(series: number): Promise<void> {
  const exporter = spawn(process.execPath, [self, '--exporter', `--series=${series}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => exporter.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const target = new URL(url).host;
  const prom = await startPrometheus({
    configYaml: `global: {scrape_interval: 20s, scrape_timeout: 19s}\nscrape_configs:\n  - job_name: upstream\n    static_configs: [{targets: ['${target}']}]\n`,
  });
  const durations: number[] = [];
  const deadline = Date.now() + 150_000;
  let last = 0;
  while (durations.length < 4 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2000));
    const r = (await prom.query('scrape_duration_seconds')) as { value: [number, string] }[];
    const up = (await prom.query('up')) as { value: [number, string] }[];
    if (r.length > 0 && up[0]?.value[1] === '1' && r[0].value[0] !== last) {
      // The first scrape also creates every series in the head block; later ones only append.
      const samples = (await prom.query('scrape_duration_seconds[5m]')) as { values: [number, string][] }[];
      durations.length = 0;
      for (const [, v] of samples[0]?.values ?? []) durations.push(Number(v) * 1000);
      last = r[0].value[0];
    }
  }
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${prom.pid}/status`, 'utf8'))?.[1]) * 1024;
  const later = durations.slice(1).sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({
      peer: 'prometheus 2.42 scraping the upstream directly',
      series,
      first_scrape_ms: Math.round(durations[0] ?? NaN),
      scrape_ms_median_after_first: Math.round(later[Math.floor(later.length / 2)] ?? NaN),
      peak_rss_mb: Math.round(hwm / 1e6),
    })}\n`,
  );
  await prom.stop();
  exporter.kill();
}

async function driver(): Promise<void> {
  const sizes = args.series ? [Number(args.series)] : [60_000, 600_000, 1_200_000];
  console.log(`# node ${process.version}, ${cpus().length} x ${cpus()[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB`);
  const run = (flags: string[]) => {
    const out = execFileSync(process.execPath, [self, ...flags], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    console.log(out.trim().split('\n').pop());
  };
  if (args.matrix !== undefined) {
    const series = Number(args.series ?? 600_000);
    for (let round = 0; round < Number(args.rounds ?? 3); round++) {
      for (const flags of [
        ['--identity=true', '--dup=on'],
        ['--identity=false', '--dup=on'],
        ['--identity=true', '--dup=off'],
        ['--identity=false', '--dup=off'],
      ]) {
        run(['--child', `--series=${series}`, '--encoding=identity', '--serve=false', ...flags]);
      }
    }
    return;
  }
  for (const encoding of ['identity', 'gzip'] as const) {
    for (const series of sizes) run(['--child', `--series=${series}`, `--encoding=${encoding}`]);
  }
  if (args.peer !== 'false') for (const series of sizes) run(['--peer', `--series=${series}`]);
}

if (args.exporter !== undefined) await exporterMain(Number(args.series));
else if (args.peer === 'true') await peerMain(Number(args.series));
else if (args.child !== undefined) await childMain(Number(args.series), (args.encoding as 'identity' | 'gzip') ?? 'identity');
else await driver();
