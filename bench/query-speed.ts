// Query speed over one server group of one Prometheus (issue 16, target 1): the real proxy
// process with a default config (only `semantics: prometheus-2` to match the Debian server, and the
// results cache off so every run is evaluated) against Prometheus 2.42 directly and against the same
// proxy with `pushdown: false` (the raw path: remote read, evaluation here), all three asked in turn
// within the same rounds so a busy machine slows them alike. Two query sets:
//
//   dashboard  bench/query-layer.ts scenario 1: 9 dashboard queries over the 10,000-series data set,
//              55 min at 15 s, --runs rounds each;
//   corpus     every case of the query layer's reference corpus (test/support/reference-corpus.ts)
//              over its four-hour data set: instant queries at one time, range queries over the
//              four hours at 60 s; each case once per round, --corpus-runs rounds.
//
// Every proxy answer is checked against Prometheus's (same series, values within the PromQL test
// files' tolerance). Prints the load average with every figure.
//
// With --baseline=<another build's dist/src/server/cli.js>, that build's proxy (default config) is a
// fourth target in the same rotation: an A/B of a change on the same machine in the same run.
//
// With --floor, the corpus has one more target: Prometheus behind a bare Node forwarder
// (bench/push-floor.ts `bare`: node:http and an undici Pool, no logic), the least any proxy written
// for Node adds as a second HTTP hop on this machine.
//
//   npm run bench:speed [-- --runs=5 --corpus-runs=2 --only=dashboard|corpus --baseline=/path/dist/src/server/cli.js --floor]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { generateReferenceData, startBackfilledPrometheus } from '../dev/backfill.js';
import type { PrometheusProcess } from '../dev/prometheus-process.js';
import { CORPUS, T0, T_END } from '../test/support/reference-corpus.js';
import { buildBlocks, DASHBOARD, DASHBOARD_QUERIES } from './query-data.js';
import { median, percentile, sameAnswer, sameApiAnswer, timedGet, timedRange, fmtMs, fmtX, loadAverage } from './query-measure.js';
import { answers200, freePort, trackChild, waitFor } from '../dev/prometheus-process.js';
import { addr, prometheusFromBlocks, startProxyProcess, type ProxyProcess } from './query-procs.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'] as const;
  }),
);
for (const k of args.keys()) {
  if (!['runs', 'corpus-runs', 'only', 'baseline', 'floor'].includes(k)) {
    console.error(`unknown flag --${k}; known: --runs=N --corpus-runs=N --only=dashboard|corpus --baseline=CLI --floor`);
    process.exit(2);
  }
}
const RUNS = Number(args.get('runs') ?? 5);
const CORPUS_RUNS = Number(args.get('corpus-runs') ?? 2);
const ONLY = args.get('only');
const BASELINE = args.get('baseline');
const FLOOR = args.has('floor');

const MIN = 60_000;
const work = fs.mkdtempSync(path.join(tmpdir(), 'promfront-bench-speed-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

const load = loadAverage;
const code = (q: string): string => `\`${q.replace(/\|/g, '\\|')}\``;
const mismatches: string[] = [];

/** The proxies of every comparison: default config, the raw path, and the baseline build's default when asked. */
async function proxiesFor(prom: PrometheusProcess): Promise<{ auto: ProxyProcess; raw: ProxyProcess; base?: ProxyProcess }> {
  // Appended inside the query section: every run is evaluated, none answered from the cache.
  const noCache = '  results_cache: {enabled: false}';
  // startProxyProcess writes `remote_read: <bool>`; the default (unset) means remote read where
  // the server serves it, which Prometheus does, so `true` is the default's transport.
  const base = { groups: [[addr(prom)]], remoteRead: true, dir: work };
  const auto = await startProxyProcess({ ...base, extraYaml: noCache });
  const raw = await startProxyProcess({ ...base, extraYaml: noCache, pushdownOff: true });
  const baseline = BASELINE === undefined ? undefined : await startProxyProcess({ ...base, extraYaml: noCache, cli: BASELINE });
  return { auto, raw, base: baseline };
}

/** A bare Node forwarder in front of `upstream` (host:port), stopped with the returned function. */
async function startFloor(upstream: string): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const script = fileURLToPath(new URL('./push-floor.js', import.meta.url));
  const child = spawn(process.execPath, [script, 'bare', String(port), upstream], { stdio: 'inherit' });
  trackChild(child);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(() => answers200(`${url}/-/ready`), 20_000, 'bare Node forwarder');
  return { url, stop: () => child.kill('SIGTERM') };
}

async function metric(p: ProxyProcess, outcome: string): Promise<number> {
  const text = await (await request(`${p.url}/metrics`)).body.text();
  const m = new RegExp(`^promfront_query_pushdown_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

// ---------------------------------------------------------------------------------------------

async function dashboard(): Promise<void> {
  console.log('\n## Dashboard set: one group of one Prometheus, default config');
  const t = performance.now();
  const data = await buildBlocks(DASHBOARD, path.join(work, DASHBOARD.name));
  console.log(`# data: ${data.all.series} series, ${data.all.samples} samples, built in ${fmtMs(performance.now() - t)} ms`);
  const prom = await prometheusFromBlocks(data.all.dir);
  const { auto, raw, base: baseline } = await proxiesFor(prom);
  try {
    const start = DASHBOARD.startMs + 5 * MIN;
    const end = DASHBOARD.endMs;
    const step = 15_000;
    const bases = [prom.url, auto.url, raw.url, ...(baseline ? [baseline.url] : [])];
    console.log(`# ${RUNS} rounds per query, the ${bases.length} targets in rotating order; load average before: ${load()}`);
    const bCols = baseline ? ['proxy, baseline build', 'baseline / direct'] : [];
    const cols = [
      'query',
      'Prometheus direct, median (p90)',
      'proxy, default config',
      'proxy, `pushdown: false`',
      'default / direct',
      'raw / direct',
      ...bCols,
    ];
    console.log(`\n| ${cols.join(' | ')} |\n|${' --- |'.repeat(cols.length)}`);
    const ratios: number[] = [];
    const rawRatios: number[] = [];
    const baseRatios: number[] = [];
    for (const q of DASHBOARD_QUERIES) {
      const ref = await timedRange(prom.url, q, start, end, step);
      for (const [name, base] of [
        ['default', auto.url],
        ['raw', raw.url],
      ] as const) {
        const diff = sameAnswer(ref.body, (await timedRange(base, q, start, end, step)).body);
        if (diff !== undefined) mismatches.push(`dashboard ${name}: ${q}: ${diff}`);
      }
      const times: number[][] = bases.map(() => []);
      for (let r = 0; r < RUNS; r++) {
        for (let k = 0; k < bases.length; k++) {
          const i = (r + k) % bases.length;
          times[i].push((await timedRange(bases[i], q, start, end, step)).ms);
        }
      }
      const [d, a, w, b] = times.map((xs) => (xs.length === 0 ? NaN : median(xs)));
      ratios.push(a / d);
      rawRatios.push(w / d);
      baseRatios.push(b / d);
      const bCells = baseline ? [`${fmtMs(b)} ms (${fmtMs(percentile(times[3], 90))})`, fmtX(b / d)] : [];
      const cells = [
        code(q),
        `${fmtMs(d)} ms (${fmtMs(percentile(times[0], 90))})`,
        `${fmtMs(a)} ms (${fmtMs(percentile(times[1], 90))})`,
        `${fmtMs(w)} ms (${fmtMs(percentile(times[2], 90))})`,
        fmtX(a / d),
        fmtX(w / d),
        ...bCells,
      ];
      console.log(`| ${cells.join(' | ')} |`);
    }
    console.log(
      `\ndashboard: default/direct median ${fmtX(median(ratios))} (min ${fmtX(Math.min(...ratios))}, max ${fmtX(Math.max(...ratios))}); raw/direct median ${fmtX(median(rawRatios))}${baseline ? `; baseline/direct median ${fmtX(median(baseRatios))}` : ''} (target: default ≤ 1.15×)`,
    );
    console.log(
      `# whole queries pushed by the default proxy: ${(await metric(auto, 'pushed_query')) + (await metric(auto, 'pushed_query_verbatim'))}; load average after: ${load()}`,
    );
  } finally {
    await Promise.all([auto.stop(), raw.stop(), baseline?.stop()]);
    await prom.stop();
  }
}

// ---------------------------------------------------------------------------------------------

async function corpus(): Promise<void> {
  console.log('\n## Reference corpus: one group of one Prometheus, default config');
  const prom = await startBackfilledPrometheus(generateReferenceData());
  const { auto, raw, base: baseline } = await proxiesFor(prom);
  const floor = FLOOR ? await startFloor(addr(prom)) : undefined;
  try {
    const cases = CORPUS.flatMap((c) =>
      (c.modes ?? ['instant', 'range']).map((mode): { q: string; path: string; params: Record<string, string> } =>
        mode === 'instant'
          ? { q: c.q, path: '/api/v1/query', params: { query: c.q, time: String(T0 + 150 * 60 + 20) } }
          : { q: c.q, path: '/api/v1/query_range', params: { query: c.q, start: String(T0), end: String(T_END), step: '60' } },
      ),
    );
    const targets = [
      { name: 'Prometheus 2.42 direct', url: prom.url },
      { name: 'proxy, default config', url: auto.url },
      { name: 'proxy, `pushdown: false`', url: raw.url },
      ...(baseline ? [{ name: 'proxy, baseline build', url: baseline.url }] : []),
      ...(floor ? [{ name: 'bare Node forwarder (floor)', url: floor.url }] : []),
    ];
    const bases = targets.map((t) => t.url);
    // Warm-up and correctness check.
    for (const c of cases) {
      const [ref, ...got] = await Promise.all(bases.map((u) => timedGet(u, c.path, c.params)));
      got.forEach((g, k) => {
        const d = sameApiAnswer(ref.body, g.body);
        if (d !== undefined) mismatches.push(`corpus ${targets[k + 1].name}: ${c.path} ${c.q}: ${d}`);
      });
    }
    console.log(
      `# ${cases.length} cases (${cases.filter((c) => c.path.endsWith('range')).length} range), ${CORPUS_RUNS} rounds; load average before: ${load()}`,
    );
    const per = cases.map(() => bases.map((): number[] => []));
    const totals = bases.map(() => 0);
    for (let r = 0; r < CORPUS_RUNS; r++) {
      for (let ci = 0; ci < cases.length; ci++) {
        const c = cases[ci];
        for (let k = 0; k < bases.length; k++) {
          const i = (r + ci + k) % bases.length;
          const ms = (await timedGet(bases[i], c.path, c.params)).ms;
          per[ci][i].push(ms);
          totals[i] += ms;
        }
      }
    }
    const ratio = (i: number): number[] => per.map((p) => median(p[i]) / median(p[0]));
    const med = (i: number): number => median(per.map((p) => median(p[i])));
    console.log('\n| target | total per round | median per case | median of per-case ratio to direct |');
    console.log('| --- | --- | --- | --- |');
    for (let i = 0; i < bases.length; i++) {
      console.log(
        `| ${targets[i].name} | ${fmtMs(totals[i] / CORPUS_RUNS)} ms (${fmtX(totals[i] / totals[0])}) | ${fmtMs(med(i))} ms | ${i === 0 ? '—' : fmtX(median(ratio(i)))} |`,
      );
    }
    console.log(
      `\ncorpus: default/direct total ${fmtX(totals[1] / totals[0])}, median per-case ratio ${fmtX(median(ratio(1)))}; raw/direct total ${fmtX(totals[2] / totals[0])}, median ${fmtX(median(ratio(2)))}${
        baseline ? `; baseline/direct total ${fmtX(totals[3] / totals[0])}, median ${fmtX(median(ratio(3)))}` : ''
      }${floor ? `; bare forwarder/direct total ${fmtX(totals[bases.length - 1] / totals[0])}, median ${fmtX(median(ratio(bases.length - 1)))}` : ''} (target: default ≤ 1.15×)`,
    );
    console.log(
      `# whole queries pushed by the default proxy: ${(await metric(auto, 'pushed_query')) + (await metric(auto, 'pushed_query_verbatim'))} (refused by the server, then raw: ${await metric(auto, 'refused')}); load average after: ${load()}`,
    );
  } finally {
    floor?.stop();
    await Promise.all([auto.stop(), raw.stop(), baseline?.stop()]);
    await prom.stop();
  }
}

const began = performance.now();
console.log(`# bench/query-speed.ts, ${new Date().toISOString()}, load average ${load()}`);
if (ONLY === undefined || ONLY === 'dashboard') await dashboard();
if (ONLY === undefined || ONLY === 'corpus') await corpus();
console.log(`\n# done in ${fmtMs((performance.now() - began) / 1000)} s`);
if (mismatches.length > 0) {
  console.log(`\n${mismatches.length} MISMATCH(ES):\n${mismatches.slice(0, 30).join('\n')}`);
  process.exitCode = 1;
}
