// Dashboard refresh benchmark (issue 16, target 3): a Grafana-like dashboard of 10 range-query
// panels over the last 6 h at a 30 s step, refreshed every 30 s of simulated time, asked of one
// Prometheus 2.42 directly and of the proxy in front of it (results cache on, the default), in
// the same run, refresh by refresh. Every proxy answer is checked against Prometheus's.
//
// The data (bench/query-data.ts SHARDED: ~4M samples, 6 h 10 min at 15 s) is from 2024, so to the
// proxy's clock all of it is old. The simulated clock is the real one shifted back to the data, and
// refreshes are 30 real seconds apart (as Grafana sends them), so the proxy's `freshness`, set to
// that shift plus 10 minutes, puts its cacheable limit exactly 10 minutes before the simulated now,
// as it would be on live data. `--interval=S` refreshes every S seconds instead (quicker, but then
// the simulated window moves S per refresh while the cache's limit moves 30 s: not a live refresh).
//
// The proxy reads its one server group as the default config does (remote read against Prometheus);
// `--json-api` reads it through the JSON query API instead. `--profile` writes a CPU profile of every
// proxy thread and prints where the refreshes' time went.
//
// `--compare=<other build>/dist/src/server/cli.js` starts a second proxy from another build, asked
// right after this one at every refresh (an A/B in the same run, under the same load).
//
//   npm run bench:dashboard [-- --refreshes=10 --interval=30 --replicas=1 --no-cache --json-api --profile --compare=CLI]
import fs from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { buildBlocks, SHARDED } from './query-data.js';
import { summarizeProfile } from './cpu-profile.js';
import { median, sameAnswer, sameUpToTies, timedRange } from './query-measure.js';
import { addr, prometheusFromBlocks, startProxyProcess } from './query-procs.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, ...v] = a.replace(/^--/, '').split('=');
    return [k, v.length > 0 ? v.join('=') : 'true'] as const;
  }),
);
const REFRESHES = Number(args.get('refreshes') ?? 10);
const NO_CACHE = args.has('no-cache');
const JSON_API = args.has('json-api');
const PROFILE = args.has('profile');
// `--replicas=2`: the proxy's group is an HA pair (a second Prometheus holding the same data), so
// nothing can be answered by one server alone and the proxy reads and merges raw samples.
const REPLICAS = Number(args.get('replicas') ?? 1);
const COMPARE = args.get('compare');
// `--panel-times`: each proxy panel's time in every refresh (which panels a slow refresh waited for).
const PANEL_TIMES = args.has('panel-times');
// `--trace-gc`: the proxy runs with node's --trace-gc; every refresh prints how many scavenges and
// mark-compacts it took and their pauses (the concurrent marking on V8's helper threads is in the
// "helpers" CPU instead).
const TRACE_GC = args.has('trace-gc');
// `--reads`: the downstream requests of every refresh by target, endpoint and outcome.
const READS = args.has('reads');
// `--node-args=--a,--b`: more node flags for this build's proxy (e.g. V8's heap sizes, A/B against --compare).
const NODE_ARGS = (args.get('node-args') ?? '').split(',').filter((a) => a !== '');

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
const INTERVAL_MS = Number(args.get('interval') ?? 30) * 1000;
const WINDOW_MS = 6 * 3600_000;

/** The proxy's counters that say what a refresh cost: steps evaluated (not from the cache) and samples read. */
async function proxyCounters(
  url: string,
): Promise<{ evaluatedSteps: number; samples: number; reads: number; bytes: number; joined: number; byLabels: Map<string, number> }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const byLabels = new Map<string, number>();
  for (const l of text.split('\n')) {
    if (l.startsWith('promfront_query_downstream_requests_total{'))
      byLabels.set(l.slice(l.indexOf('{'), l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1)));
  }
  const sum = (re: RegExp): number => text.split('\n').reduce((n, l) => (re.test(l) ? n + Number(l.slice(l.lastIndexOf(' ') + 1)) : n), 0);
  return {
    evaluatedSteps: sum(/^promfront_results_cache_steps_total\{source="evaluated"\} /),
    samples: sum(/^promfront_query_samples_loaded_total\{/),
    reads: sum(/^promfront_query_downstream_requests_total\{/),
    bytes: sum(/^promfront_query_downstream_response_bytes_total\{/),
    joined: sum(/^promfront_query_shared_reads_total /),
    byLabels,
  };
}

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** CPU seconds per thread of the process (tid → seconds); threads that ended are gone. */
function threadCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8').split(') ')[1].split(' ');
      out.set(Number(t), (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/**
 * Where a refresh's CPU went by thread: the main thread (HTTP), the query thread (the busiest other
 * thread since start: it evaluates every query) and the rest (V8's helper threads, which do much of
 * the garbage collector's marking and sweeping, and libuv's pool).
 */
function threadSplit(pid: number, before: Map<number, number>, after: Map<number, number>): { main: number; query: number; rest: number } {
  let queryTid = -1;
  for (const [tid, s] of after) if (tid !== pid && (queryTid < 0 || s > after.get(queryTid)!)) queryTid = tid;
  const split = { main: 0, query: 0, rest: 0 };
  for (const [tid, s] of after) {
    const d = s - (before.get(tid) ?? 0);
    if (tid === pid) split.main += d;
    else if (tid === queryTid) split.query += d;
    else split.rest += d;
  }
  return split;
}

/** What the proxy wrote after `before` was its output (the kept output is cut from the front when long). */
function logsSince(before: string, after: string): string {
  const anchor = before.slice(-400);
  const at = anchor === '' ? 0 : after.lastIndexOf(anchor);
  return at < 0 ? after : after.slice(at + anchor.length);
}

/** Counts and pause times of --trace-gc lines, by kind. */
function gcSummary(text: string): string {
  const kinds = new Map<string, { n: number; ms: number }>();
  for (const m of text.matchAll(/ms: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)[^,]*, ([\d.]+) \/ ([\d.]+) ms/g)) {
    const k = kinds.get(m[1]) ?? { n: 0, ms: 0 };
    k.n++;
    k.ms += Number(m[2]);
    kinds.set(m[1], k);
  }
  // With --node-args=--trace-opt,--trace-deopt: optimizations started (V8 compiles them on its
  // helper threads) and deoptimizations.
  const opt = text.match(/\[compiling method/g)?.length ?? 0;
  const deopt = text.match(/\[bailout \(kind: /g)?.length ?? 0;
  return (
    [...kinds].map(([k, v]) => `${v.n} ${k} (${v.ms.toFixed(0)} ms)`).join(', ') +
      (opt + deopt > 0 ? `, ${opt} optimizations, ${deopt} deoptimizations` : '') || 'none'
  );
}

async function refresh(base: string, nowMs: number): Promise<{ ms: number; bodies: string[]; panelMs: number[] }> {
  const end = nowMs - (nowMs % STEP_MS);
  const start = end - WINDOW_MS;
  const t = performance.now();
  // Grafana sends a dashboard's panel queries at once.
  const answers = await Promise.all(PANELS.map((q) => timedRange(base, q, start, end, STEP_MS)));
  return { ms: performance.now() - t, bodies: answers.map((a) => a.body), panelMs: answers.map((a) => a.ms) };
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
  const twins = await Promise.all(Array.from({ length: REPLICAS - 1 }, () => prometheusFromBlocks(built.all.dir)));
  const simStart = SHARDED.endMs - 5 * 60_000 - REFRESHES * 30_000;
  // Simulated time = real time - shift; the freshness covers the shift, so the proxy may cache
  // evaluation times up to simulated now - 10 min (rounded down to whole seconds: a little less).
  const shiftS = Math.ceil((Date.now() - simStart) / 1000) + 5;
  const freshnessS = shiftS + 600;
  const proxy = await startProxyProcess({
    groups: [[addr(prom), ...twins.map(addr)]],
    remoteRead: !JSON_API,
    dir: work,
    nodeArgs: [...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.join(work, 'prof')}`] : []), ...(TRACE_GC ? ['--trace-gc'] : []), ...NODE_ARGS],
    extraYaml: NO_CACHE ? '  results_cache: {enabled: false}' : `  results_cache: {freshness: ${freshnessS}s}`,
  });
  const other =
    COMPARE === undefined
      ? undefined
      : await startProxyProcess({
          groups: [[addr(prom), ...twins.map(addr)]],
          remoteRead: !JSON_API,
          dir: path.join(work, 'compare'),
          cli: COMPARE,
          nodeArgs: TRACE_GC ? ['--trace-gc'] : [],
          extraYaml: NO_CACHE ? '  results_cache: {enabled: false}' : `  results_cache: {freshness: ${freshnessS}s}`,
        });
  const rows: {
    i: number;
    prom: number;
    proxy: number;
    cpu: number;
    steps: number;
    samples: number;
    other?: number;
    otherCpu?: number;
    otherSplit?: { main: number; query: number; rest: number };
    otherGc?: string;
  }[] = [];
  // The profiles are summarized from the second refresh on: the cached refreshes are the target.
  let profileSinceUs = -Infinity;
  try {
    // Warm both (page cache, connections) on another window, then the dashboard.
    await refresh(prom.url, simStart - 3600_000);
    await refresh(proxy.url, simStart - 3600_000);
    if (other !== undefined) await refresh(other.url, simStart - 3600_000);
    const t0 = Date.now();
    for (let i = 0; i < REFRESHES; i++) {
      const wait = t0 + i * INTERVAL_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const now = INTERVAL_MS === 30_000 ? Date.now() - shiftS * 1000 : simStart + i * 30_000;
      const p = await refresh(prom.url, now);
      const before = await proxyCounters(proxy.url);
      const cpu0 = cpuSeconds(proxy.pid);
      const threads0 = threadCpu(proxy.pid);
      const logs0 = proxy.logs();
      if (i === 1) profileSinceUs = Number(process.hrtime.bigint() / 1000n);
      const x = await refresh(proxy.url, now);
      const cpu = cpuSeconds(proxy.pid) - cpu0;
      const split = threadSplit(proxy.pid, threads0, threadCpu(proxy.pid));
      const after = await proxyCounters(proxy.url);
      const steps = (after.evaluatedSteps - before.evaluatedSteps) / PANELS.length;
      const samples = after.samples - before.samples;
      const reads = after.reads - before.reads;
      const joined = after.joined - before.joined;
      const kb = (after.bytes - before.bytes) / 1024;
      PANELS.forEach((q, k) => {
        const diff = q.startsWith('topk') ? sameUpToTies(p.bodies[k], x.bodies[k]).diff : sameAnswer(p.bodies[k], x.bodies[k]);
        if (diff) throw new Error(`refresh ${i}, ${q}: ${diff}`);
      });
      const row: (typeof rows)[number] = { i, prom: p.ms, proxy: x.ms, cpu, steps, samples };
      if (other !== undefined) {
        const ocpu0 = cpuSeconds(other.pid);
        const othreads0 = threadCpu(other.pid);
        const ologs0 = other.logs();
        const y = await refresh(other.url, now);
        row.otherCpu = cpuSeconds(other.pid) - ocpu0;
        row.otherSplit = threadSplit(other.pid, othreads0, threadCpu(other.pid));
        if (TRACE_GC) row.otherGc = gcSummary(logsSince(ologs0, other.logs()));
        row.other = y.ms;
        PANELS.forEach((q, k) => {
          const diff = q.startsWith('topk') ? sameUpToTies(p.bodies[k], y.bodies[k]).diff : sameAnswer(p.bodies[k], y.bodies[k]);
          if (diff) throw new Error(`refresh ${i}, compared build, ${q}: ${diff}`);
        });
      }
      rows.push(row);
      if (READS) {
        const d = [...after.byLabels].map(([k, v]) => [k, v - (before.byLabels.get(k) ?? 0)] as const).filter(([, v]) => v > 0);
        console.log(`  downstream requests: ${d.map(([k, v]) => `${v} ${k}`).join(', ')}`);
      }
      if (TRACE_GC) console.log(`  gc: ${gcSummary(logsSince(logs0, proxy.logs()))}`);
      if (PANEL_TIMES) console.log(`  panels (ms, in the order above): ${x.panelMs.map((m) => m.toFixed(0)).join(' ')}`);
      console.log(
        `refresh ${String(i + 1).padStart(2)}: prometheus ${p.ms.toFixed(0).padStart(5)} ms, proxy ${x.ms.toFixed(0).padStart(5)} ms (${(x.ms / p.ms).toFixed(2)}×), proxy CPU ${(cpu * 1000).toFixed(0)} ms (main ${(split.main * 1000).toFixed(0)}, query thread ${(split.query * 1000).toFixed(0)}, helpers ${(split.rest * 1000).toFixed(0)}), ${steps.toFixed(0)} steps evaluated per panel, ${(samples / 1e6).toFixed(2)} M samples read, ${reads} downstream reads (${kb.toFixed(0)} KiB), ${joined} joined` +
          (row.other === undefined
            ? ''
            : `; compared build ${row.other.toFixed(0)} ms (${(row.other / p.ms).toFixed(2)}×), CPU ${(row.otherCpu! * 1000).toFixed(0)} ms (main ${(row.otherSplit!.main * 1000).toFixed(0)}, query thread ${(row.otherSplit!.query * 1000).toFixed(0)}, helpers ${(row.otherSplit!.rest * 1000).toFixed(0)})` +
              (row.otherGc === undefined ? '' : `, gc: ${row.otherGc}`)),
      );
    }
  } finally {
    await proxy.stop();
    await other?.stop();
    await prom.stop();
    for (const t of twins) await t.stop();
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
  if (other !== undefined) {
    const mo = median(later.map((r) => r.other!));
    const oc = median(later.map((r) => r.otherCpu!));
    const c = median(later.map((r) => r.cpu));
    console.log(
      `refreshes 2..${REFRESHES}, median, compared build: proxy ${mo.toFixed(0)} ms (${(mo / mp).toFixed(2)}×), proxy CPU ${(oc * 1000).toFixed(0)} ms per refresh; this build / compared: time ${(mx / mo).toFixed(2)}, CPU ${(c / oc).toFixed(2)}`,
    );
  }
  console.log('all answers equal to Prometheus’s (within the PromQL test tolerance; topk up to ties)');
  if (PROFILE) printProfiles(path.join(work, 'prof'), profileSinceUs);
}

/** One summary per proxy thread (the main thread and the query thread write a profile each), from the second refresh on. */
function printProfiles(dir: string, sinceUs: number): void {
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'))) {
    const s = summarizeProfile(path.join(dir, f), 25, sinceUs);
    console.log(`\nprofile ${f}: busy ${s.busyMs.toFixed(0)} ms`);
    for (const t of s.topFunctions) console.log(`  ${(t.share * 100).toFixed(1).padStart(5)}%  ${t.ms.toFixed(0).padStart(6)} ms  ${t.name}  ${t.where}`);
    for (const t of s.topFiles.slice(0, 12)) console.log(`  file ${(t.share * 100).toFixed(1).padStart(5)}%  ${t.file}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
