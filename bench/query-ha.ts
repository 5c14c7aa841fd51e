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
// another build's proxy.
//
//   npm run build && npm run build:tools && node dist-tools/bench/query-ha.js [--runs=3 --workers=0 --baseline=CLI]
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateReferenceData, startBackfilledPrometheus } from '../dev/backfill.js';
import type { PrometheusProcess } from '../dev/prometheus-process.js';
import { CORPUS, T0, T_END } from '../test/support/reference-corpus.js';
import { gappedReplicas } from '../test/support/reference-gaps.js';
import { median, sameApiAnswer, timedGet, fmtMs, fmtX, loadAverage } from './query-measure.js';
import { addr, cpuMs, startProxyProcess, type ProxyProcess } from './query-procs.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'] as const;
  }),
);
for (const k of args.keys()) {
  if (!['runs', 'workers', 'baseline'].includes(k)) {
    console.error(`unknown flag --${k}; known: --runs=N --workers=0 --baseline=CLI`);
    process.exit(2);
  }
}
const RUNS = Number(args.get('runs') ?? 3);
const POOL_OFF = args.get('workers') === '0';
const BASELINE = args.get('baseline');

const work = fs.mkdtempSync(path.join(tmpdir(), 'promfront-bench-ha-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

const load = loadAverage;

interface Target {
  name: string;
  url: string;
  pid: number;
}

const began = performance.now();
console.log(`# bench/query-ha.ts, ${new Date().toISOString()}, load average ${load()}`);
const data = generateReferenceData();
const { replicas: replicaData } = await gappedReplicas(data);
const servers: PrometheusProcess[] = await Promise.all([data, ...replicaData.flat()].map(startBackfilledPrometheus));
const [reference, ...replicas] = servers;
const groups = replicaData.map((_, gi) => replicas.slice(2 * gi, 2 * gi + 2).map(addr));
const proxies: ProxyProcess[] = [];
const targets: Target[] = [{ name: 'one Prometheus 2.42 holding all the data', url: reference.url, pid: reference.pid }];
try {
  const noCache = '  results_cache: {enabled: false}';
  const start = async (name: string, extra: string, cli?: string): Promise<void> => {
    const p = await startProxyProcess({ groups, remoteRead: true, dir: work, extraYaml: `${noCache}${extra}`, cli });
    proxies.push(p);
    targets.push({ name, url: p.url, pid: p.pid });
  };
  await start('proxy, default config', '');
  if (POOL_OFF) await start('proxy, `partial_workers: 0`', '\n  partial_workers: 0');
  if (BASELINE !== undefined) await start('proxy, baseline build', '', BASELINE);

  const cases = CORPUS.flatMap((c) =>
    (c.modes ?? ['instant', 'range']).map((mode): { q: string; range: boolean; path: string; params: Record<string, string> } =>
      mode === 'instant'
        ? { q: c.q, range: false, path: '/api/v1/query', params: { query: c.q, time: String(T0 + 150 * 60 + 20) } }
        : { q: c.q, range: true, path: '/api/v1/query_range', params: { query: c.q, start: String(T0), end: String(T_END), step: '60' } },
    ),
  );
  // Warm-up and correctness: every proxy answer against the reference's.
  const mismatches: string[] = [];
  for (const c of cases) {
    const [ref, ...got] = await Promise.all(targets.map((t) => timedGet(t.url, c.path, c.params)));
    got.forEach((g, i) => {
      const d = sameApiAnswer(ref.body, g.body);
      if (d !== undefined) mismatches.push(`${targets[i + 1].name}: ${c.path} ${c.q}: ${d}`);
    });
  }
  console.log(`# ${cases.length} cases (${cases.filter((c) => c.range).length} range), ${RUNS} rounds, targets interleaved; load average before: ${load()}`);
  const per = cases.map(() => targets.map((): number[] => []));
  const totals = targets.map(() => 0);
  const cpuBefore = targets.map((t) => cpuMs(t.pid));
  const replicaCpuBefore = replicas.reduce((n, r) => n + cpuMs(r.pid), 0);
  for (let r = 0; r < RUNS; r++) {
    for (let ci = 0; ci < cases.length; ci++) {
      for (let k = 0; k < targets.length; k++) {
        const i = (r + ci + k) % targets.length;
        const { ms } = await timedGet(targets[i].url, cases[ci].path, cases[ci].params);
        per[ci][i].push(ms);
        totals[i] += ms;
      }
    }
  }
  const cpu = targets.map((t, i) => (cpuMs(t.pid) - cpuBefore[i]) / RUNS);
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
  if (mismatches.length > 0) {
    console.log(`\n${mismatches.length} MISMATCH(ES):\n${mismatches.slice(0, 30).join('\n')}`);
    process.exitCode = 1;
  }
} finally {
  await Promise.all(proxies.map((p) => p.stop()));
  await Promise.all(servers.map((p) => p.stop()));
}
