// Query speed over an HA fleet (issue 16, target 2, first half): the query layer reference suite's
// topology, 3 server groups of 2 Prometheus 2.42 replicas with gaps (test/support/reference-gaps.ts),
// behind the real proxy with a default config (the results cache off, so every run is evaluated),
// against one Prometheus holding all the data. Every case of the reference corpus
// (test/support/reference-corpus.ts) is asked of both in turn, --runs rounds: instant queries at one
// time inside a replica's gap, range queries over the four hours at 60 s. Every proxy answer is
// checked against the reference (same series, values within the PromQL test files' tolerance).
//
// Reported: total and median time per case, the median of per-case ratios, range cases on their own,
// and CPU per round of the proxy and of the reference (user + system from /proc/<pid>/stat; the 6
// replicas' own CPU is printed apart). With --workers=0 a second proxy runs with the partials pool
// off (query.partial_workers: 0) in the same rotation; --baseline=<dist/src/server/cli.js> adds
// another build's proxy. --profile runs the default proxy under `node --cpu-prof` and prints, per
// thread, where its CPU went over the timed rounds (self time per function and per source file).
// --floor adds a floor to the rotation: per case, the remote reads the proxy's engine makes (one per
// distinct selector and time range, found from the query's syntax tree as eval-select.ts computes
// them), sent to all 6 replicas at once from this process by a bare undici client that reads the
// answer's bytes and decodes nothing. Its total is what fetching alone takes; its CPU is this
// process's own over those requests.
//
//   npm run build && npm run build:tools && node dist-tools/bench/query-ha.js [--runs=3 --workers=0 --baseline=CLI --profile]
import fs from 'node:fs';
import { Pool } from 'undici';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateReferenceData, startBackfilledPrometheus } from '../dev/backfill.js';
import type { PrometheusProcess } from '../dev/prometheus-process.js';
import { CORPUS, T0, T_END } from '../test/support/reference-corpus.js';
import { gappedReplicas } from '../test/support/reference-gaps.js';
import { summarizeProfile } from './cpu-profile.js';
import type { Expr } from '../src/promql/ast.js';
import { parseExpr } from '../src/promql/parser.js';
import type { LabelMatcher } from '../src/model/labels.js';
import { encodeReadRequest, ResponseType } from '../src/remote/prompb.js';
import { snappyCompress } from '../src/remote/snappy.js';
import { toPbMatchers } from '../src/query/downstream/remote-read-client.js';
import { median, sameApiAnswer, timedGet, fmtMs, fmtX, loadAverage } from './query-measure.js';
import { addr, cpuMs, startProxyProcess, type ProxyProcess } from './query-procs.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'] as const;
  }),
);
for (const k of args.keys()) {
  if (!['runs', 'workers', 'baseline', 'profile', 'floor'].includes(k)) {
    console.error(`unknown flag --${k}; known: --runs=N --workers=0 --baseline=CLI --profile --floor`);
    process.exit(2);
  }
}
const RUNS = Number(args.get('runs') ?? 3);
const POOL_OFF = args.get('workers') === '0';
const BASELINE = args.get('baseline');
const PROFILE = args.has('profile');
const FLOOR = args.has('floor');
/** The proxy's lookback delta and default subquery step (the engine's defaults). */
const LOOKBACK_MS = 5 * 60_000;
const SUBQUERY_STEP_MS = 60_000;

const work = fs.mkdtempSync(path.join(tmpdir(), 'promfront-bench-ha-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

const load = loadAverage;

interface Target {
  name: string;
  url: string;
  pid: number;
  /** For the floor: runs a case itself instead of asking `url`. */
  run?: (ci: number) => Promise<number>;
  /** For the floor: this process's CPU over its own runs, ms. */
  cpuMs?: () => number;
}

interface Read {
  matchers: LabelMatcher[];
  startMs: number;
  endMs: number;
  stepMs: number;
  rangeMs: number;
}

/**
 * The reads the engine makes for `q` (eval-select.ts): per selector, from the evaluation's start
 * minus offset and range (or lookback delta) to its end minus offset, `@` and subqueries applied;
 * identical reads once, as the fan-out shares them.
 */
function readsOf(q: string, startMs: number, endMs: number, stepMs: number): Read[] {
  const out = new Map<string, Read>();
  const visit = (e: Expr, start: number, end: number, step: number, rangeMs?: number): void => {
    if (e.type === 'VectorSelector' || e.type === 'SubqueryExpr') {
      const at = e.timestampMs ?? (e.startOrEnd === 'start' ? startMs : e.startOrEnd === 'end' ? endMs : undefined);
      if (e.type === 'VectorSelector') {
        const r = {
          matchers: e.matchers,
          startMs: (at ?? start) - e.offsetMs - (rangeMs ?? LOOKBACK_MS),
          endMs: (at ?? end) - e.offsetMs,
          stepMs: step,
          rangeMs: rangeMs ?? 0,
        };
        out.set(JSON.stringify(r), r);
        return;
      }
      const interval = e.stepMs > 0 ? e.stepMs : SUBQUERY_STEP_MS;
      const lowest = (at ?? start) - e.offsetMs - e.rangeMs;
      let innerStart = interval * Math.trunc(lowest / interval);
      if (innerStart < lowest) innerStart += interval;
      visit(e.expr, innerStart, (at ?? end) - e.offsetMs, interval);
      return;
    }
    if (e.type === 'MatrixSelector') return visit(e.vectorSelector, start, end, step, e.rangeMs);
    const below = (x: Expr): void => visit(x, start, end, step);
    switch (e.type) {
      case 'ParenExpr':
      case 'UnaryExpr':
      case 'StepInvariantExpr':
        return below(e.expr);
      case 'Call':
        return e.args.forEach(below);
      case 'AggregateExpr':
        if (e.param) below(e.param);
        return below(e.expr);
      case 'BinaryExpr':
        below(e.lhs);
        return below(e.rhs);
      default:
    }
  };
  visit(parseExpr(q), startMs, endMs, stepMs);
  return [...out.values()];
}

const began = performance.now();
console.log(`# bench/query-ha.ts, ${new Date().toISOString()}, load average ${load()}`);
const data = generateReferenceData();
const { replicas: replicaData } = await gappedReplicas(data);
const servers: PrometheusProcess[] = await Promise.all([data, ...replicaData.flat()].map(startBackfilledPrometheus));
const [reference, ...replicas] = servers;
const groups = replicaData.map((_, gi) => replicas.slice(2 * gi, 2 * gi + 2).map(addr));
const proxies: ProxyProcess[] = [];
const floorPools: Pool[] = [];
const targets: Target[] = [{ name: 'one Prometheus 2.42 holding all the data', url: reference.url, pid: reference.pid }];
try {
  const noCache = '  results_cache: {enabled: false}';
  const profDir = path.join(work, 'prof');
  const start = async (name: string, extra: string, cli?: string, nodeArgs?: string[]): Promise<void> => {
    const p = await startProxyProcess({ groups, remoteRead: true, dir: work, extraYaml: `${noCache}${extra}`, cli, nodeArgs });
    proxies.push(p);
    targets.push({ name, url: p.url, pid: p.pid });
  };
  await start('proxy, default config', '', undefined, PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : undefined);
  if (POOL_OFF) await start('proxy, `partial_workers: 0`', '\n  partial_workers: 0');
  if (BASELINE !== undefined) await start('proxy, baseline build', '', BASELINE);

  const cases = CORPUS.flatMap((c) =>
    (c.modes ?? ['instant', 'range']).map((mode): { q: string; range: boolean; path: string; params: Record<string, string> } =>
      mode === 'instant'
        ? { q: c.q, range: false, path: '/api/v1/query', params: { query: c.q, time: String(T0 + 150 * 60 + 20) } }
        : { q: c.q, range: true, path: '/api/v1/query_range', params: { query: c.q, start: String(T0), end: String(T_END), step: '60' } },
    ),
  );
  if (FLOOR) {
    const pools = replicas.map((r) => new Pool(r.url, { connections: 16, keepAliveTimeout: 30_000 }));
    floorPools.push(...pools);
    const bodies = cases.map((c) => {
      const ms = (k: string): number => Number(c.params[k]) * 1000;
      const reads = c.range ? readsOf(c.q, ms('start'), ms('end'), 60_000) : readsOf(c.q, ms('time'), ms('time'), 0);
      return reads.map((r) =>
        snappyCompress(
          encodeReadRequest({
            queries: [
              {
                startTimestampMs: r.startMs,
                endTimestampMs: r.endMs,
                matchers: toPbMatchers(r.matchers),
                hints: { startMs: r.startMs, endMs: r.endMs, stepMs: r.stepMs, func: '', rangeMs: r.rangeMs, grouping: [], by: false },
              },
            ],
            acceptedResponseTypes: [ResponseType.STREAMED_XOR_CHUNKS, ResponseType.SAMPLES],
          }),
        ),
      );
    });
    const headers = {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      'accept-encoding': 'snappy',
      'x-prometheus-remote-read-version': '0.1.0',
    };
    let cpu = 0;
    const run = async (ci: number): Promise<number> => {
      const c0 = process.cpuUsage();
      const t = performance.now();
      await Promise.all(
        bodies[ci].flatMap((body) =>
          pools.map(async (pool) => {
            const res = await pool.request({ method: 'POST', path: '/api/v1/read', headers, body });
            if (res.statusCode !== 200) throw new Error(`floor: HTTP ${res.statusCode} for ${cases[ci].q}`);
            for await (const _ of res.body) {
              // bytes only
            }
          }),
        ),
      );
      const ms = performance.now() - t;
      const used = process.cpuUsage(c0);
      cpu += (used.user + used.system) / 1000;
      return ms;
    };
    targets.push({ name: 'floor: the same remote reads, bytes only', url: '', pid: process.pid, run, cpuMs: () => cpu });
    console.log(`# floor: ${bodies.reduce((n, b) => n + b.length, 0)} distinct reads over ${cases.length} cases, each sent to the 6 replicas`);
  }
  const ask = (t: Target, ci: number): Promise<{ ms: number; body?: string }> =>
    t.run ? t.run(ci).then((ms) => ({ ms })) : timedGet(t.url, cases[ci].path, cases[ci].params);
  // Warm-up and correctness: every proxy answer against the reference's.
  const mismatches: string[] = [];
  for (let ci = 0; ci < cases.length; ci++) {
    const c = cases[ci];
    const [ref, ...got] = await Promise.all(targets.map((t) => ask(t, ci)));
    got.forEach((g, i) => {
      if (g.body === undefined) return;
      const d = sameApiAnswer(ref.body!, g.body);
      if (d !== undefined) mismatches.push(`${targets[i + 1].name}: ${c.path} ${c.q}: ${d}`);
    });
  }
  console.log(`# ${cases.length} cases (${cases.filter((c) => c.range).length} range), ${RUNS} rounds, targets interleaved; load average before: ${load()}`);
  const per = cases.map(() => targets.map((): number[] => []));
  const totals = targets.map(() => 0);
  const profileSinceUs = Number(process.hrtime.bigint() / 1000n);
  const cpuOf = (t: Target): number => (t.cpuMs ? t.cpuMs() : cpuMs(t.pid));
  const cpuBefore = targets.map(cpuOf);
  const replicaCpuBefore = replicas.reduce((n, r) => n + cpuMs(r.pid), 0);
  for (let r = 0; r < RUNS; r++) {
    for (let ci = 0; ci < cases.length; ci++) {
      for (let k = 0; k < targets.length; k++) {
        const i = (r + ci + k) % targets.length;
        const { ms } = await ask(targets[i], ci);
        per[ci][i].push(ms);
        totals[i] += ms;
      }
    }
  }
  const cpu = targets.map((t, i) => (cpuOf(t) - cpuBefore[i]) / RUNS);
  const replicaCpu = (replicas.reduce((n, r) => n + cpuMs(r.pid), 0) - replicaCpuBefore) / RUNS;

  const rangeIdx = cases.flatMap((c, i) => (c.range ? [i] : []));
  const caseMed = (i: number, idx: number[]): number[] => idx.map((ci) => median(per[ci][i]));
  const all = cases.map((_, i) => i);
  console.log('\n| target | total per round | CPU per round | median per case | median of per-case ratio | range cases: total, median ratio |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (let i = 0; i < targets.length; i++) {
    const rangeTotal = rangeIdx.reduce((n, ci) => n + per[ci][i].reduce((a, b) => a + b, 0), 0) / RUNS;
    const rangeRef = rangeIdx.reduce((n, ci) => n + per[ci][0].reduce((a, b) => a + b, 0), 0) / RUNS;
    const ratios = (idx: number[]): number => median(idx.map((ci) => median(per[ci][i]) / median(per[ci][0])));
    console.log(
      `| ${targets[i].name} | ${fmtMs(totals[i] / RUNS)} ms (${fmtX(totals[i] / totals[0])}) | ${fmtMs(cpu[i])} ms | ${fmtMs(median(caseMed(i, all)))} ms | ${
        i === 0 ? '—' : fmtX(ratios(all))
      } | ${fmtMs(rangeTotal)} ms (${fmtX(rangeTotal / rangeRef)})${i === 0 ? '' : `, ${fmtX(ratios(rangeIdx))}`} |`,
    );
  }
  console.log(`\n# the 6 replicas' CPU per round: ${fmtMs(replicaCpu)} ms; load average after: ${load()}`);
  console.log(`# target: proxy total and median ≤ 1.0× the one Prometheus (issue 16, target 2); done in ${fmtMs((performance.now() - began) / 1000)} s`);
  if (PROFILE) {
    await proxies[0].stop();
    for (const f of fs.readdirSync(profDir).filter((n) => n.endsWith('.cpuprofile'))) {
      const s = summarizeProfile(path.join(profDir, f), 40, profileSinceUs);
      console.log(`\nprofile ${f}: busy ${fmtMs(s.busyMs / RUNS)} ms per round`);
      for (const t of s.topFunctions) console.log(`  ${(t.share * 100).toFixed(1).padStart(5)}%  ${fmtMs(t.ms / RUNS).padStart(7)} ms  ${t.name}  ${t.where}`);
      for (const t of s.topFiles.slice(0, 25))
        console.log(`  file ${(t.share * 100).toFixed(1).padStart(5)}%  ${fmtMs(t.ms / RUNS).padStart(7)} ms  ${t.file}`);
    }
  }
  if (mismatches.length > 0) {
    console.log(`\n${mismatches.length} MISMATCH(ES):\n${mismatches.slice(0, 30).join('\n')}`);
    process.exitCode = 1;
  }
} finally {
  await Promise.all(proxies.map((p) => p.stop()));
  await Promise.all(floorPools.map((p) => p.close()));
  await Promise.all(servers.map((p) => p.stop()));
}
