// SigV4 benchmark (issue 15): what signing costs and what a proxy without `sigv4:` pays for it.
//
//   1. Query latency: the query bench's dashboard data set (10,000 series, 1 h at 15 s) in one
//      Prometheus 2.42, behind two proxies that differ only in `http_client.sigv4` (static keys;
//      Prometheus ignores the Authorization header). The same range queries alternate between the
//      two; medians are compared (target: signed / unsigned ≤ 1.05).
//   2. Start-up: time from spawn to /-/healthy and VmRSS once healthy, for a proxy without a sigv4
//      block and one with (the AWS libraries load on the first signed request, so its RSS after one
//      query is shown too). With --baseline-cli=PATH the same is measured for another build's
//      dist/src/server/cli.js (e.g. the commit before SigV4) without sigv4.
//   3. Signing alone, in process: a JSON-API GET and a 64 KiB remote-read body, per request.
//
//   npm run build:tools && node dist-tools/bench/sigv4.js [--runs=15] [--starts=7] [--baseline-cli=PATH] [--only=latency,startup,sign] [--queries=2,4]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { answers200, freePort, terminate, waitFor, type PrometheusProcess } from '../dev/prometheus-process.js';
import { buildBlocks, DASHBOARD } from './query-data.js';
import { median, percentile, timedRange } from './query-measure.js';
import { addr, memoryStatus, prometheusFromBlocks } from './query-procs.js';
import { lazySigner } from '../src/client/sigv4.js';
import { sigv4Schema } from '../src/config/schema.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'] as const;
  }),
);
const RUNS = Number(args.get('runs') ?? 15);
const STARTS = Number(args.get('starts') ?? 7);
const BASELINE = args.get('baseline-cli');
// --queries=2,4 picks queries by index (0-based), e.g. the light ones for many runs on a busy machine.
const PICK = args.get('queries')?.split(',').map(Number);
const ONLY = new Set((args.get('only') ?? 'latency,startup,sign').split(','));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(REPO, 'dist', 'src', 'server', 'cli.js');
const work = fs.mkdtempSync(path.join(tmpdir(), 'promfront-bench-sigv4-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

const QUERIES = [
  'sum by (job) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
  'memory_free_bytes{job="job-3"}',
  'count by (code) (http_requests_total)',
  'http_requests_total{job=~"job-[0-4]", code=~"5.."}',
];
const SIGV4 = `      http_client:
        sigv4: {region: eu-west-1, access_key: AKIDBENCH, secret_key: bench-secret}
`;

interface Proc {
  url: string;
  pid: number;
  startMs: number;
  stop(): Promise<void>;
}

async function startProxy(cli: string, target: string, sigv4: boolean): Promise<Proc> {
  const port = await freePort();
  const config = path.join(work, `proxy-${port}.yaml`);
  fs.writeFileSync(
    config,
    `listen: 127.0.0.1:${port}\nlog_level: warn\nquery:\n  semantics: prometheus-2\n  server_groups:\n    - name: g\n      static_configs: [{targets: ['${target}']}]\n      remote_read: false\n${sigv4 ? SIGV4 : ''}`,
  );
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, `--config=${config}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(() => answers200(`${url}/-/healthy`), 30_000, 'proxy /-/healthy', 5);
  return { url, pid: child.pid!, startMs: performance.now() - t0, stop: () => terminate(child, 5000) };
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

async function latency(prom: PrometheusProcess): Promise<void> {
  const plain = await startProxy(CLI, addr(prom), false);
  const signed = await startProxy(CLI, addr(prom), true);
  try {
    const start = DASHBOARD.startMs + 5 * 60_000;
    const end = DASHBOARD.endMs;
    const step = 15_000;
    console.log(`\n## Query latency, signed vs unsigned (${RUNS} runs per query and proxy, alternating, after one warm-up)\n`);
    console.log('| query | unsigned, median (p90) | signed, median (p90) | signed / unsigned |');
    console.log('| --- | --- | --- | --- |');
    const ratios: number[] = [];
    for (const q of PICK === undefined ? QUERIES : PICK.map((i) => QUERIES[i])) {
      const a = await timedRange(plain.url, q, start, end, step);
      const b = await timedRange(signed.url, q, start, end, step);
      if (a.body !== b.body) throw new Error(`answers differ for ${q}`);
      const times: [number[], number[]] = [[], []];
      for (let r = 0; r < RUNS; r++) {
        const order = r % 2 === 0 ? [0, 1] : [1, 0];
        for (const i of order) times[i].push((await timedRange(i === 0 ? plain.url : signed.url, q, start, end, step)).ms);
      }
      const ratio = median(times[1]) / median(times[0]);
      ratios.push(ratio);
      console.log(
        `| \`${q}\` | ${fmt(median(times[0]))} ms (${fmt(percentile(times[0], 90))}) | ${fmt(median(times[1]))} ms (${fmt(percentile(times[1], 90))}) | ${ratio.toFixed(3)} |`,
      );
    }
    console.log(
      `\nsigned / unsigned over the ${ratios.length} queries: median ${median(ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)} (target ≤ 1.05)`,
    );
  } finally {
    await plain.stop();
    await signed.stop();
  }
}

async function startup(prom: PrometheusProcess): Promise<void> {
  const kinds: { name: string; cli: string; sigv4: boolean }[] = [
    { name: 'this build, no sigv4', cli: CLI, sigv4: false },
    { name: 'this build, with sigv4', cli: CLI, sigv4: true },
  ];
  if (BASELINE !== undefined) kinds.unshift({ name: `baseline (${BASELINE}), no sigv4`, cli: BASELINE, sigv4: false });
  console.log(`\n## Start-up (${STARTS} starts each, interleaved): spawn to /-/healthy, VmRSS when healthy, VmRSS after one query\n`);
  const res = kinds.map(() => ({ ms: [] as number[], rss: [] as number[], rssAfter: [] as number[] }));
  for (let s = 0; s < STARTS; s++) {
    for (const [i, k] of kinds.entries()) {
      const p = await startProxy(k.cli, addr(prom), k.sigv4);
      res[i].ms.push(p.startMs);
      res[i].rss.push(memoryStatus(p.pid).rssMb);
      await timedRange(p.url, 'count(memory_free_bytes)', DASHBOARD.endMs - 60_000, DASHBOARD.endMs, 15_000);
      res[i].rssAfter.push(memoryStatus(p.pid).rssMb);
      await p.stop();
    }
  }
  console.log('| proxy | start to healthy, median (min–max) | RSS when healthy, median | RSS after one query, median |');
  console.log('| --- | --- | --- | --- |');
  for (const [i, k] of kinds.entries()) {
    const r = res[i];
    console.log(
      `| ${k.name} | ${fmt(median(r.ms))} ms (${fmt(Math.min(...r.ms))}–${fmt(Math.max(...r.ms))}) | ${median(r.rss).toFixed(1)} MB | ${median(r.rssAfter).toFixed(1)} MB |`,
    );
  }
}

async function signing(): Promise<void> {
  const signer = lazySigner(sigv4Schema.parse({ region: 'eu-west-1', access_key: 'AKIDBENCH', secret_key: 'bench-secret' }));
  const get = {
    method: 'GET',
    host: '127.0.0.1:9090',
    protocol: 'http:' as const,
    path: '/workspaces/ws-1/api/v1/query?query=%7B__name__%3D%22up%22%7D%5B300000ms%5D&time=1700000000.001',
    headers: { accept: 'application/json' },
  };
  const read = {
    ...get,
    method: 'POST',
    path: '/workspaces/ws-1/api/v1/read',
    headers: { 'content-type': 'application/x-protobuf' },
    body: new Uint8Array(64 * 1024),
  };
  console.log('\n## Signing alone, in process (after 500 warm-up signatures)\n');
  console.log('| request | per signature, median of 5 batches of 2,000 |');
  console.log('| --- | --- |');
  for (const [name, req] of [
    ['JSON-API GET', get],
    ['remote read, 64 KiB body', read],
  ] as const) {
    for (let i = 0; i < 500; i++) await signer.sign(req);
    const per: number[] = [];
    for (let b = 0; b < 5; b++) {
      const t = performance.now();
      for (let i = 0; i < 2000; i++) await signer.sign(req);
      per.push((performance.now() - t) / 2000);
    }
    console.log(`| ${name} | ${(median(per) * 1000).toFixed(0)} µs |`);
  }
}

console.log(`# node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg()[0].toFixed(2)}`);
if (ONLY.has('sign')) await signing();
if (ONLY.has('latency') || ONLY.has('startup')) {
  const data = await buildBlocks(DASHBOARD, path.join(work, 'blocks'));
  const prom = await prometheusFromBlocks(data.all.dir);
  try {
    if (ONLY.has('latency')) await latency(prom);
    if (ONLY.has('startup')) await startup(prom);
  } finally {
    await prom.stop();
  }
}
console.log(`# load average after: ${loadavg()[0].toFixed(2)}`);
