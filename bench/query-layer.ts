// Query layer benchmark: the real proxy process (dist/src/server/cli.js, what ./proxy runs) side by
// side with Prometheus 2.42 answering the same range queries over HTTP on loopback, on data
// generated deterministically and backfilled with promtool. Three scenarios, each selectable:
//
//   --one-group  a dashboard-sized data set (10,000 series, 1 h at 15 s) in one Prometheus; the
//                proxy with that Prometheus as its single server group vs Prometheus directly,
//                plus an in-process breakdown of the proxy's time (fetch vs evaluation).
//   --sharded    ~4M samples (6 h 10 min at 15 s) in one Prometheus vs split over 4 Prometheus
//                servers by the sharding core's shard key, behind the proxy as 4 server groups
//                (counter family x, so its series are x_total; classic histogram h).
//   --memory     peak RSS (VmHWM) of the proxy for a range query returning 10,000 series × 720 points.
//   --partials   the --sharded data and queries through proxies with query.partial_workers 0 (off),
//                1 and 2 (or --workers=a,b,...; partial_pushdown off, results cache off), and one
//                with the partials pushed to the shards (partial_pushdown, no workers), side by
//                side with the one Prometheus: wall time and the process CPU time per query
//                (docs/parallel.md).
//
// With none of them, the first three run. Other flags: --runs=N (timed runs per query and target,
// default 10), --breakdown-runs=N (default 3), --profile (CPU profile of the proxy in --sharded even
// when sharding is faster), --remote-read (sets `remote_read: true` on every server group),
// --pushdown (sets `pushdown: true` on every server group),
// --wait-idle (before each scenario's timings, wait up to 15 min for a 1-minute load average < 1.5).
// --memory only: --results-cache=on|off|both (default on, the default config), --compare=CLI
// (another build's dist/src/server/cli.js measured the same way, an A/B), --memory-rounds=N (each
// variant N times in fresh processes, variants alternating; default 1).
//
//   npm run bench:query [-- --sharded --runs=5]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { findPrometheus, type PrometheusProcess } from '../dev/prometheus-process.js';
import { profileIn, summarizeProfile } from './cpu-profile.js';
import { buildBlocks, DASHBOARD, DASHBOARD_QUERIES, SHARDED, type BuiltData } from './query-data.js';
import { breakdown, median, percentile, sameAnswer, sameUpToTies, shapeOf, timedRange, type Breakdown, fmtMs, fmtX } from './query-measure.js';
import { addr, memoryStatus, prometheusFromBlocks, proxyConfig, startProxyProcess, type ProxyProcess } from './query-procs.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'] as const;
  }),
);
const KNOWN = [
  'one-group',
  'sharded',
  'memory',
  'partials',
  'workers',
  'runs',
  'breakdown-runs',
  'profile',
  'remote-read',
  'pushdown',
  'wait-idle',
  'compare',
  'results-cache',
  'memory-rounds',
];
for (const k of args.keys()) {
  if (!KNOWN.includes(k)) {
    console.error(`unknown flag --${k}; known: ${KNOWN.map((x) => `--${x}`).join(' ')}`);
    process.exit(2);
  }
}
const chosen = ['one-group', 'sharded', 'memory', 'partials'].filter((s) => args.has(s));
const SCENARIOS = chosen.length > 0 ? chosen : ['one-group', 'sharded', 'memory'];
const RUNS = Number(args.get('runs') ?? 10);
const BREAKDOWN_RUNS = Number(args.get('breakdown-runs') ?? 3);
const PROFILE = args.has('profile');
const REMOTE_READ = args.has('remote-read');
const PUSHDOWN = args.has('pushdown');
const WAIT_IDLE = args.has('wait-idle');
const WORKERS = (args.get('workers') ?? '0,1,2').split(',').map(Number);
const COMPARE = args.get('compare');
const RESULTS_CACHE = args.get('results-cache') ?? 'on';
if (!['on', 'off', 'both'].includes(RESULTS_CACHE)) throw new Error('--results-cache is on, off or both');
const MEMORY_ROUNDS = Number(args.get('memory-rounds') ?? 1);

const MIN = 60_000;
const work = fs.mkdtempSync(path.join(tmpdir(), 'promfront-bench-query-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

const mismatches: string[] = [];
const fmtMb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const code = (q: string): string => `\`${q.replace(/\|/g, '\\|')}\``;

const notes: string[] = [];

/**
 * Records a mismatch unless the answers agree. topk/bottomk may differ in which of several
 * equal-valued series they pick (see docs/performance.md): that is noted, not counted as a mismatch.
 */
function check(what: string, ref: string, got: string, query = ''): void {
  const diff = sameAnswer(ref, got);
  if (diff !== undefined && /^\s*(topk|bottomk)\b/.test(query)) {
    const t = sameUpToTies(ref, got);
    if (t.diff === undefined) {
      const note = `${what}: same values at every step; at ${t.tieSteps} step(s) a different one of several equal-valued series was picked (tie; first difference: ${diff})`;
      notes.push(note);
      console.log(`NOTE ${note}`);
      return;
    }
  }
  if (diff !== undefined) {
    mismatches.push(`${what}: ${diff}`);
    console.log(`MISMATCH ${what}: ${diff}`);
  }
}

let dashboard: Promise<BuiltData> | undefined;
function dashboardBlocks(): Promise<BuiltData> {
  dashboard ??= (async () => {
    const t = performance.now();
    const d = await buildBlocks(DASHBOARD, path.join(work, DASHBOARD.name));
    console.log(`# data set "dashboard": ${d.all.series} series, ${d.all.samples} samples, generated and backfilled in ${fmtMs(performance.now() - t)} ms`);
    return d;
  })();
  return dashboard;
}

/** Times `runs` rounds of the query against every target, rotating which goes first. */
async function timeRounds(bases: string[], query: string, startMs: number, endMs: number, stepMs: number, runs: number): Promise<number[][]> {
  const times = bases.map(() => [] as number[]);
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < bases.length; k++) {
      const i = (r + k) % bases.length;
      times[i].push((await timedRange(bases[i], query, startMs, endMs, stepMs)).ms);
    }
  }
  return times;
}

function printBreakdown(title: string, rows: { query: string; proxyMs: number; b: Breakdown }[]): void {
  console.log(`\n${title}`);
  console.log(
    '| query | proxy over HTTP, median | in-process query layer | engine | select (fetch, decode, merge) | evaluation | API + response encoding | of select: downstream HTTP | JSON.parse | to columnar | downstream JSON | raw samples |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const { query, proxyMs, b } of rows) {
    console.log(
      `| ${code(query)} | ${fmtMs(proxyMs)} ms | ${fmtMs(b.layerMs)} ms | ${fmtMs(b.engineMs)} ms | ${fmtMs(b.selectMs)} ms (${Math.round((100 * b.selectMs) / b.engineMs)}%) | ${fmtMs(b.evalMs)} ms | ${fmtMs(b.encodeMs)} ms | ${fmtMs(b.httpMs)} ms | ${fmtMs(b.jsonParseMs)} ms | ${fmtMs(b.toSeriesMs)} ms | ${fmtMb(b.bytes)} | ${b.samples.toLocaleString('en-US')} |`,
    );
  }
  if (REMOTE_READ)
    console.log(
      '(with --remote-read the in-process query layer reads through remote read; the engine / select split still measures the JSON-API path, for comparison)',
    );
}

const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** With --wait-idle: waits (up to 15 min) until the 1-minute load average is below 1.5. */
async function settle(): Promise<void> {
  if (WAIT_IDLE) {
    const deadline = Date.now() + 15 * MIN;
    while (loadavg()[0] >= 1.5 && Date.now() < deadline) await sleep(10_000);
  }
  console.log(`# load average (1, 5, 15 min): ${load()}${loadavg()[0] >= 1.5 ? ' — the machine is busy, timings are noisy' : ''}`);
}

const BREAKDOWN_TITLE =
  "in-process: the query layer built from the proxy's config and asked without a socket; the engine over the same fan-out storage with storage.select timed; each select replayed to split it";

// ---------------------------------------------------------------------------------------------
// 1. One group vs direct

async function oneGroup(): Promise<void> {
  console.log('\n## 1. One server group vs Prometheus directly');
  const data = await dashboardBlocks();
  const prom = await prometheusFromBlocks(data.all.dir);
  let proxy: ProxyProcess | undefined;
  try {
    proxy = await startProxyProcess({ groups: [[addr(prom)]], remoteRead: REMOTE_READ, pushdown: PUSHDOWN, dir: work });
    const start = DASHBOARD.startMs + 5 * MIN;
    const end = DASHBOARD.endMs;
    const step = 15_000;
    console.log(
      `# range queries from +5 min to +60 min at 15 s (${(end - start) / step + 1} steps); ${RUNS} runs per query and target, after one warm-up that is also the correctness check`,
    );
    await settle();
    const rows: { query: string; direct: number[]; proxied: number[]; series: number; points: number }[] = [];
    for (const q of DASHBOARD_QUERIES) {
      const d = await timedRange(prom.url, q, start, end, step);
      const p = await timedRange(proxy.url, q, start, end, step);
      check(`one group: ${q}`, d.body, p.body, q);
      const shape = shapeOf(d.body);
      const [direct, proxied] = await timeRounds([prom.url, proxy.url], q, start, end, step, RUNS);
      rows.push({ query: q, direct: direct, proxied: proxied, ...shape });
    }
    console.log('\n| query | result series × points | Prometheus 2.42 direct, median (p90) | proxy, one group, median (p90) | proxy / direct (medians) |');
    console.log('| --- | --- | --- | --- | --- |');
    const ratios: number[] = [];
    for (const r of rows) {
      const ratio = median(r.proxied) / median(r.direct);
      ratios.push(ratio);
      console.log(
        `| ${code(r.query)} | ${r.series} × ${r.points.toLocaleString('en-US')} | ${fmtMs(median(r.direct))} ms (${fmtMs(percentile(r.direct, 90))}) | ${fmtMs(median(r.proxied))} ms (${fmtMs(percentile(r.proxied, 90))}) | ${fmtX(ratio)} |`,
      );
    }
    console.log(
      `\nproxy / direct over the ${rows.length} queries: median ${fmtX(median(ratios))}, min ${fmtX(Math.min(...ratios))}, max ${fmtX(Math.max(...ratios))} (target: median ≤ 1.3×)`,
    );

    console.log(`# load average after: ${load()}`);
    const groups = [[addr(prom)]];
    const bd: { query: string; proxyMs: number; b: Breakdown }[] = [];
    for (const r of rows) {
      bd.push({
        query: r.query,
        proxyMs: median(r.proxied),
        b: await breakdown(proxyConfig('127.0.0.1:0', groups, REMOTE_READ, PUSHDOWN), groups, r.query, start, end, step, BREAKDOWN_RUNS),
      });
    }
    printBreakdown(
      `Where the proxy's time goes (${BREAKDOWN_TITLE}; median of ${BREAKDOWN_RUNS}; the downstream HTTP includes Prometheus reading and encoding the raw samples):`,
      bd,
    );
  } finally {
    await proxy?.stop();
    await prom.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Sharded vs single

const SHARDED_QUERIES = ['sum by (job) (rate(x_total[5m]))', 'histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))'];

async function profileProxy(groups: string[][], start: number, end: number, step: number): Promise<void> {
  const dir = path.join(work, 'cpu-profile');
  fs.mkdirSync(dir, { recursive: true });
  const proxy = await startProxyProcess({ groups, remoteRead: REMOTE_READ, pushdown: PUSHDOWN, dir: work, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  try {
    for (const q of SHARDED_QUERIES) for (let i = 0; i < RUNS; i++) await timedRange(proxy.url, q, start, end, step);
  } finally {
    await proxy.stop();
  }
  const s = summarizeProfile(profileIn(dir), 20);
  console.log(
    `\nCPU profile of the proxy over 4 shards (node --cpu-prof; ${RUNS} runs of each query; ${fmtMs(s.busyMs)} ms busy, idle excluded). Top functions by self time:`,
  );
  console.log('| function | where | self time | share |');
  console.log('| --- | --- | --- | --- |');
  for (const f of s.topFunctions) console.log(`| ${f.name} | ${f.where} | ${fmtMs(f.ms)} ms | ${(100 * f.share).toFixed(1)}% |`);
  console.log('\nBy file:');
  console.log('| file | self time | share |');
  console.log('| --- | --- | --- |');
  for (const f of s.topFiles.slice(0, 12)) console.log(`| ${f.file} | ${fmtMs(f.ms)} ms | ${(100 * f.share).toFixed(1)}% |`);
}

async function sharded(): Promise<void> {
  console.log('\n## 2. Sharded over 4 Prometheus servers vs one Prometheus');
  const t = performance.now();
  const data = await buildBlocks(SHARDED, path.join(work, SHARDED.name), 4);
  console.log(
    `# data set "sharded": ${data.all.series} series, ${data.all.samples} samples, generated, split and backfilled in ${fmtMs(performance.now() - t)} ms`,
  );
  console.log(
    `# shards (shard key checked series by series against the sharding core): ${data.shards.map((s, k) => `shard ${k}: ${s.series} series, ${s.samples} samples`).join('; ')}`,
  );
  const procs: PrometheusProcess[] = [];
  const proxies: ProxyProcess[] = [];
  try {
    for (const b of [data.all, ...data.shards]) procs.push(await prometheusFromBlocks(b.dir));
    const [single, ...shards] = procs as [PrometheusProcess, ...PrometheusProcess[]];
    const groups4 = shards.map((s) => [addr(s)]);
    const proxy4 = await startProxyProcess({ groups: groups4, remoteRead: REMOTE_READ, pushdown: PUSHDOWN, dir: work });
    proxies.push(proxy4);
    const proxy1 = await startProxyProcess({ groups: [[addr(single)]], remoteRead: REMOTE_READ, pushdown: PUSHDOWN, dir: work });
    proxies.push(proxy1);

    const start = SHARDED.startMs + 10 * MIN;
    const end = start + 360 * MIN;
    const step = 30_000;
    console.log(`# range queries over 6 h at 30 s (${(end - start) / step + 1} steps); ${RUNS} runs per query and target`);
    await settle();
    const rows: { query: string; single: number[]; one: number[]; four: number[]; series: number }[] = [];
    for (const q of SHARDED_QUERIES) {
      const d = await timedRange(single.url, q, start, end, step);
      check(`sharded, 4 groups: ${q}`, d.body, (await timedRange(proxy4.url, q, start, end, step)).body, q);
      check(`sharded, 1 group: ${q}`, d.body, (await timedRange(proxy1.url, q, start, end, step)).body, q);
      const [s, one, four] = await timeRounds([single.url, proxy1.url, proxy4.url], q, start, end, step, RUNS);
      rows.push({ query: q, single: s, one: one, four: four, series: shapeOf(d.body).series });
    }
    console.log(
      '\n| query | result series | one Prometheus 2.42, median (p90) | proxy over that one Prometheus, median | proxy over 4 shards, median (p90) | 4 shards / one Prometheus |',
    );
    console.log('| --- | --- | --- | --- | --- | --- |');
    let slower = false;
    for (const r of rows) {
      const ratio = median(r.four) / median(r.single);
      if (ratio >= 1) slower = true;
      console.log(
        `| ${code(r.query)} | ${r.series} | ${fmtMs(median(r.single))} ms (${fmtMs(percentile(r.single, 90))}) | ${fmtMs(median(r.one))} ms | ${fmtMs(median(r.four))} ms (${fmtMs(percentile(r.four, 90))}) | ${fmtX(ratio)} |`,
      );
    }
    console.log(`# load average after: ${load()}`);
    console.log(
      `\nsharded ${slower ? 'is NOT faster than' : 'is faster than'} one Prometheus on ${slower ? 'at least one query' : 'both queries'} (target: faster)`,
    );

    const groups1 = [[addr(single)]];
    const bd4: { query: string; proxyMs: number; b: Breakdown }[] = [];
    const bd1: { query: string; proxyMs: number; b: Breakdown }[] = [];
    for (const r of rows) {
      bd4.push({
        query: r.query,
        proxyMs: median(r.four),
        b: await breakdown(proxyConfig('127.0.0.1:0', groups4, REMOTE_READ, PUSHDOWN), groups4, r.query, start, end, step, BREAKDOWN_RUNS),
      });
      bd1.push({
        query: r.query,
        proxyMs: median(r.one),
        b: await breakdown(proxyConfig('127.0.0.1:0', groups1, REMOTE_READ, PUSHDOWN), groups1, r.query, start, end, step, BREAKDOWN_RUNS),
      });
    }
    printBreakdown(
      `Where the time goes, proxy over 4 shards (${BREAKDOWN_TITLE}; median of ${BREAKDOWN_RUNS}; downstream HTTP = the 4 requests in parallel):`,
      bd4,
    );
    printBreakdown(`Where the time goes, proxy over the one Prometheus (same method, median of ${BREAKDOWN_RUNS}):`, bd1);
    for (const p of proxies.splice(0)) await p.stop();
    if (slower || PROFILE) await profileProxy(groups4, start, end, step);
  } finally {
    for (const p of proxies) await p.stop();
    for (const p of procs) await p.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 2b. Partial aggregation in worker threads

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time (user + system, all threads) a process has used so far, in ms. */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), counted from the state field (3) here.
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

async function partials(): Promise<void> {
  console.log(`\n## 2b. Per-group partial aggregation: proxy over 4 shards with query.partial_workers ${WORKERS.join(', ')} vs one Prometheus`);
  const t = performance.now();
  const data = await buildBlocks(SHARDED, path.join(work, SHARDED.name), 4);
  console.log(`# data set "sharded": ${data.all.series} series, ${data.all.samples} samples, built in ${fmtMs(performance.now() - t)} ms`);
  const procs: PrometheusProcess[] = [];
  const proxies: ProxyProcess[] = [];
  try {
    for (const b of [data.all, ...data.shards]) procs.push(await prometheusFromBlocks(b.dir));
    const [single, ...shards] = procs as [PrometheusProcess, ...PrometheusProcess[]];
    const groups4 = shards.map((s) => [addr(s)]);
    // The workers' columns read raw samples (partial_pushdown off); the last column pushes each
    // group's partial aggregate to its Prometheus (verified as for whole queries) and has no workers.
    const variants = [
      ...WORKERS.map((w) => ({ name: `proxy, ${w} workers`, yaml: `  partial_workers: ${w}\n  partial_pushdown: false` })),
      { name: 'proxy, partials pushed', yaml: '  partial_workers: 0\n  partial_pushdown: true' },
    ];
    for (const v of variants) {
      proxies.push(
        await startProxyProcess({
          groups: groups4,
          remoteRead: REMOTE_READ,
          pushdown: PUSHDOWN,
          dir: work,
          // Every run evaluates: the results cache would answer the repeats of this old data.
          extraYaml: `${v.yaml}\n  results_cache: {enabled: false}`,
        }),
      );
    }
    const start = SHARDED.startMs + 10 * MIN;
    const end = start + 360 * MIN;
    const step = 30_000;
    console.log(
      `# range queries over 6 h at 30 s (${(end - start) / step + 1} steps); ${RUNS} runs per query and target, interleaved; CPU from /proc/<pid>/stat`,
    );
    await settle();
    const targets = [
      { name: 'one Prometheus 2.42', url: single.url, pid: single.pid },
      ...proxies.map((p, i) => ({ name: variants[i].name, url: p.url, pid: p.pid })),
    ];
    console.log(
      `\n| query | ${targets.map((x) => `${x.name}: median wall (p90); CPU per query`).join(' | ')} | ${variants.map((v) => `${v.name.replace('proxy, ', '')} / Prometheus (wall)`).join(' | ')} |`,
    );
    console.log(`| --- | ${targets.map(() => '---').join(' | ')} | ${variants.map(() => '---').join(' | ')} |`);
    for (const q of SHARDED_QUERIES) {
      const d = await timedRange(single.url, q, start, end, step);
      for (const [i, p] of proxies.entries()) check(`partials, ${variants[i].name}: ${q}`, d.body, (await timedRange(p.url, q, start, end, step)).body, q);
      const before = targets.map((x) => cpuMs(x.pid));
      const times = await timeRounds(
        targets.map((x) => x.url),
        q,
        start,
        end,
        step,
        RUNS,
      );
      const cpu = targets.map((x, i) => (cpuMs(x.pid) - before[i]) / RUNS);
      const cells = targets.map((_, i) => `${fmtMs(median(times[i]))} ms (${fmtMs(percentile(times[i], 90))}); ${fmtMs(cpu[i])} ms`);
      const ratios = variants.map((_, i) => fmtX(median(times[i + 1]) / median(times[0])));
      console.log(`| ${code(q)} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
    }
    console.log(`# load average after: ${load()}`);
    for (const [i, p] of proxies.entries()) {
      const text = await (await fetch(`${p.url}/metrics`)).text();
      const pool = /promfront_query_partials_total\{outcome="partials"\} (\d+)/.exec(text);
      const pushed = /promfront_query_pushdown_total\{outcome="pushed_partials"\} (\d+)/.exec(text);
      console.log(
        `# ${variants[i].name}: ${pool ? pool[1] : 'no'} aggregations answered from the workers' partials, ${pushed ? pushed[1] : 'no'} from partials pushed to the servers`,
      );
    }
  } finally {
    for (const p of proxies) await p.stop();
    for (const p of procs) await p.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Memory

async function memory(): Promise<void> {
  console.log('\n## 3. Peak RSS for a range query returning 10,000 series × 720 points');
  const data = await dashboardBlocks();
  const prom = await prometheusFromBlocks(data.all.dir);
  // Each variant a fresh proxy process (VmHWM only grows), in rounds so builds and configs alternate.
  const builds: { name: string; cli?: string }[] = [{ name: 'this build' }, ...(COMPARE ? [{ name: `--compare (${COMPARE})`, cli: COMPARE }] : [])];
  const caches = RESULTS_CACHE === 'both' ? ['on', 'off'] : [RESULTS_CACHE];
  const variants = builds.flatMap((b) => caches.map((cache) => ({ ...b, cache })));
  try {
    const q = '{job=~".+"}';
    const step = 5_000;
    const start = DASHBOARD.startMs + step;
    const end = DASHBOARD.endMs;
    console.log(
      `# query ${q} from +5 s to +60 min at 5 s (${(end - start) / step + 1} steps); fresh processes; Prometheus first, then each proxy variant three times, ${MEMORY_ROUNDS} round(s)`,
    );
    await settle();

    const promBefore = memoryStatus(prom.pid);
    const d = await timedRange(prom.url, q, start, end, step);
    const promAfter = memoryStatus(prom.pid);
    const shape = shapeOf(d.body);
    console.log(`# answer: ${shape.series} series, ${shape.points.toLocaleString('en-US')} points, ${fmtMb(d.body.length)} of JSON`);

    console.log(
      '\n| process | results cache | VmHWM before | VmHWM after query 1 | after query 3 | VmRSS after query 3 | request time (1st, 2nd, 3rd) | load average |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    console.log(
      `| Prometheus 2.42 (direct) | – | ${promBefore.hwmMb.toFixed(0)} MB | ${promAfter.hwmMb.toFixed(0)} MB | – | ${promAfter.rssMb.toFixed(0)} MB | ${fmtMs(d.ms)} ms | ${load()} |`,
    );
    const peaks = new Map<string, number[]>();
    for (let round = 0; round < MEMORY_ROUNDS; round++) {
      for (const v of variants) {
        const extraYaml = v.cache === 'off' ? '  results_cache:\n    enabled: false' : undefined;
        const proxy = await startProxyProcess({ groups: [[addr(prom)]], remoteRead: REMOTE_READ, pushdown: PUSHDOWN, dir: work, cli: v.cli, extraYaml });
        try {
          const before = memoryStatus(proxy.pid);
          const runs: { ms: number; hwm: number; rss: number }[] = [];
          for (let i = 0; i < 3; i++) {
            const p = await timedRange(proxy.url, q, start, end, step);
            if (i === 0) check(`memory (${v.name}, results cache ${v.cache}): ${q}`, d.body, p.body);
            const m = memoryStatus(proxy.pid);
            runs.push({ ms: p.ms, hwm: m.hwmMb, rss: m.rssMb });
          }
          const label = `proxy, ${v.name}`;
          console.log(
            `| ${label} | ${v.cache === 'on' ? 'on (default)' : 'off'} | ${before.hwmMb.toFixed(0)} MB | ${runs[0].hwm.toFixed(0)} MB | ${runs[2].hwm.toFixed(0)} MB | ${runs[2].rss.toFixed(0)} MB | ${runs.map((r) => `${fmtMs(r.ms)} ms`).join(', ')} | ${load()} |`,
          );
          const key = `${label}, results cache ${v.cache}`;
          peaks.set(key, [...(peaks.get(key) ?? []), Math.max(...runs.map((r) => r.hwm))]);
        } finally {
          await proxy.stop();
        }
      }
    }
    console.log('');
    for (const [key, list] of peaks) {
      const peak = Math.max(...list);
      console.log(`${key}: peak RSS ${list.map((x) => x.toFixed(0)).join(', ')} MB (target: < 500 MB): ${peak < 500 ? 'met' : 'NOT met'}`);
    }
  } finally {
    await prom.stop();
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const promVersion = execFileSync(findPrometheus(), ['--version'], { encoding: 'utf8' }).split('\n')[0];
  console.log(`# node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM; ${promVersion}`);
  console.log(`# scenarios: ${SCENARIOS.join(', ')}${REMOTE_READ ? '; server groups with remote_read: true' : ''}; data cached in ${work} (removed at exit)`);
  if (SCENARIOS.includes('one-group')) await oneGroup();
  if (SCENARIOS.includes('sharded')) await sharded();
  if (SCENARIOS.includes('memory')) await memory();
  if (SCENARIOS.includes('partials')) await partials();
  if (notes.length > 0) console.log(`\nNotes:\n${notes.join('\n')}`);
  if (mismatches.length > 0) {
    console.log(`\n${mismatches.length} answer(s) differed between the proxy and Prometheus:\n${mismatches.join('\n')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(`bench:query failed: ${(err as Error).message}`);
  process.exit(1);
});
