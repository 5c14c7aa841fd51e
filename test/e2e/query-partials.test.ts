// Per-group partial aggregation in worker threads (src/query/partials, docs/parallel.md) against
// real Prometheus 2.42 servers: the pooled answers equal a reference Prometheus holding all the data
// and the same proxy with the pool off, and a series held by two groups makes the query fall back.
// The same for partials pushed to the servers (pushed.ts), over the same groups each held whole by
// one Prometheus: verified as Prometheus 2 with our lookback delta and max_samples, each evaluates
// its group's partial aggregate.
//
// Data: the reference data set (dev/backfill.ts), split over 3 groups by the sharding core's shard
// key, each group two replicas missing different stretches, so that only the HA merge of a group
// has all its samples (as in query-reference.test.ts). A fourth Prometheus holds a copy of group 0's
// http_requests_total series, like a shard after a reshard, for the overlap case.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKFILL_START_MS, REFERENCE_END_MS, generateReferenceData, startBackfilledPrometheus, type BackfillDataSet } from '../../dev/backfill.js';
import type { PrometheusProcess } from '../../dev/prometheus-process.js';
import { filterSeries, splitByShard, withoutStretches, type Stretch } from '../../dev/split.js';
import { walkExpr } from '../../src/promql/ast.js';
import { parseExpr } from '../../src/promql/parser.js';
import { planPartials } from '../../src/query/partials/plan.js';
import { compareSeriesValue } from '../../src/promql/promqltest/testfile.js';
import { CORPUS, T0, T_END } from '../support/reference-corpus.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

const MIN = 60_000;
const S0 = BACKFILL_START_MS;
const S_END = REFERENCE_END_MS;

/** [group][replica]: stretches each replica misses; within a group they never overlap. */
const GAPS: Stretch[][][] = [
  [[{ fromMs: S0, toMs: S0 + 25 * MIN }], [{ fromMs: S0 + 90 * MIN, toMs: S0 + 90 * MIN + 15_000 }]],
  [[{ fromMs: S0 + 50 * MIN, toMs: S0 + 70 * MIN }], [{ fromMs: S_END - 20 * MIN, toMs: S_END + 1 }]],
  [[{ fromMs: S0 + 120 * MIN, toMs: S0 + 121 * MIN }], [{ fromMs: S0 + 30 * MIN, toMs: S0 + 45 * MIN }]],
];

const INSTANT_TIMES = [T0 + 10 * 60, T0 + 60 * 60, T0 + 121 * 60 + 30, T_END];
const RANGES = [
  { start: T0 - 300, end: T_END + 300, step: 60 },
  { start: T0 + 40 * 60, end: T0 + 80 * 60, step: 15 },
  { start: T_END - 30 * 60, end: T_END, step: 37 },
];

/** The shapes the pool exists for, each answered from partials (checked one by one). */
const POOLED = [
  'sum by (job) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (le, job) (rate(request_duration_seconds_bucket[5m])))',
  'sum(rate(http_requests_total{code="500"}[5m])) / sum(rate(http_requests_total[5m]))',
  'count without (instance) (http_requests_total)',
  'avg by (instance) (memory_usage_bytes)',
  'min(cache_hit_ratio)',
  'max by (job) (irate(cpu_seconds_total[2m]) * 100)',
  'group by (job) (up == 1)',
  'avg(rate(request_duration_seconds_sum[5m]))',
  'sum without (method, code) (increase(http_requests_total[10m]))',
];

/** Aggregations that do not decompose: the raw path answers them, pool on. */
const NOT_POOLED = [
  'topk(3, rate(http_requests_total[5m]))',
  'quantile(0.5, memory_usage_bytes)',
  'sum(http_requests_total * on (job, instance) group_left up)',
  'stddev(temperature_celsius)',
  'sum(max by (job) (up))',
];

type Answer = { error: string } | { points: Map<string, Map<number, number>> };

async function ask(base: string, path: string, params: Record<string, string>): Promise<Answer & { warnings?: string[] }> {
  const res = await fetch(`${base}${path}?${new URLSearchParams(params).toString()}`);
  const body = (await res.json()) as {
    status: string;
    errorType?: string;
    warnings?: string[];
    data: { resultType: string; result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] | [number, string] };
  };
  if (body.status !== 'success') return { error: String(body.errorType), warnings: body.warnings };
  const points = new Map<string, Map<number, number>>();
  const d = body.data;
  const num = (s: string): number => (s === 'NaN' ? NaN : s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s));
  if (d.resultType === 'scalar') {
    const [t, v] = d.result as [number, string];
    points.set('scalar', new Map([[t, num(v)]]));
  } else {
    for (const s of d.result as { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[]) {
      const key = JSON.stringify(Object.entries(s.metric).sort(([a], [b]) => (a < b ? -1 : 1)));
      const m = new Map<number, number>();
      for (const [t, v] of s.values ?? [s.value!]) m.set(t, num(v));
      points.set(key, m);
    }
  }
  return { points, warnings: body.warnings };
}

/** Differences of `got` from `want` (values within the promqltest tolerance); empty when equal. */
function diff(want: Answer, got: Answer & { warnings?: string[] }): string[] {
  const own = (got.warnings ?? []).filter((w) => !/^PromQL (warning|info): /.test(w));
  const out = own.length > 0 ? [`unexpected warnings: ${own.join('; ')}`] : [];
  if ('error' in want || 'error' in got) {
    if (!('error' in want) || !('error' in got) || want.error !== got.error) out.push(`answers differ: ${JSON.stringify(want)} vs ${JSON.stringify(got)}`);
    return out;
  }
  for (const [k, w] of want.points) {
    const g = got.points.get(k);
    if (g === undefined) {
      out.push(`missing ${k}`);
      continue;
    }
    if ([...w.keys()].join() !== [...g.keys()].join()) out.push(`${k}: timestamps differ`);
    for (const [t, v] of w) if (g.has(t) && !compareSeriesValue(v, g.get(t)!)) out.push(`${k} @${t}: ${g.get(t)}, want ${v}`);
  }
  for (const k of got.points.keys()) if (!want.points.has(k)) out.push(`extra ${k}`);
  return out;
}

function evaluations(q: string): { what: string; path: string; params: Record<string, string> }[] {
  return [
    ...INSTANT_TIMES.map((t) => ({ what: `instant at ${t}`, path: '/api/v1/query', params: { query: q, time: String(t) } })),
    ...RANGES.map((r) => ({
      what: `range ${r.start}..${r.end} step ${r.step}`,
      path: '/api/v1/query_range',
      params: { query: q, start: String(r.start), end: String(r.end), step: String(r.step) },
    })),
  ];
}

async function pushdownCount(p: ProxyProcess, outcome: string): Promise<number> {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  const m = new RegExp(`^promfront_query_pushdown_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function partialsCount(p: ProxyProcess, outcome: string): Promise<number> {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  const m = new RegExp(`^promfront_query_partials_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : -1;
}

let reference: PrometheusProcess;
let replicas: PrometheusProcess[][] = [];
let moved: PrometheusProcess;
let pooled: ProxyProcess;
let raw: ProxyProcess;
let resharded: ProxyProcess;
/** One Prometheus per group, each holding the group's data whole. */
let wholeGroups: PrometheusProcess[] = [];
let pushed: ProxyProcess;
let pushedResharded: ProxyProcess;

describe('per-group partial aggregation in worker threads', () => {
  beforeAll(async () => {
    const data = generateReferenceData();
    const groupData = await splitByShard(data, 3);
    const replicaData = groupData.map((g, gi) => GAPS[gi].map((gaps) => withoutStretches(g, gaps)));
    // Group 0's http_requests_total, whole, on a fourth server: a copy left behind by a reshard.
    const copy: BackfillDataSet = filterSeries(groupData[0], (fi) => groupData[0].families[fi].name === 'http_requests');
    const proms = startBackfilledPrometheus;
    const [ref, mv, ...reps] = await Promise.all([proms(data), proms(copy), ...replicaData.flat().map(proms), ...groupData.map(proms)]);
    reference = ref;
    moved = mv;
    replicas = replicaData.map((_, gi) => reps.slice(2 * gi, 2 * gi + 2));
    wholeGroups = reps.slice(2 * replicaData.length);
    const group = (name: string, ps: PrometheusProcess[]): string => `
    - name: ${name}
      static_configs: [{targets: [${ps.map((r) => `"127.0.0.1:${r.port}"`).join(', ')}]}]
      anti_affinity: 10s`;
    const groups = replicas.map((rs, gi) => group(`shard-${gi}`, rs)).join('');
    const config =
      (workers: number, extra = '') =>
      (listen: string) => `
listen: ${listen}
log_level: warn
query:
  semantics: prometheus-2
  partial_workers: ${workers}
  results_cache: {enabled: false}
  server_groups:${groups}${extra}
`;
    const single = wholeGroups.map((p, gi) => group(`shard-${gi}`, [p])).join('');
    const pushedConfig = (extra: string) => (listen: string) => `
listen: ${listen}
log_level: warn
query:
  semantics: prometheus-2
  partial_workers: 0
  partial_pushdown: true
  results_cache: {enabled: false}
  server_groups:${single}${extra}
`;
    [pooled, raw, resharded, pushed, pushedResharded] = await Promise.all([
      startProxy(config(2)),
      startProxy(config(0)),
      startProxy(config(2, group('moved', [moved]))),
      startProxy(pushedConfig('')),
      startProxy(pushedConfig(group('moved', [moved]))),
    ]);
    // The servers' identities are asked on first use, in the background: until they are known,
    // aggregations are computed in the proxy (unverified).
    for (const p of [pushed, pushedResharded]) {
      for (let i = 0; i < 50 && (await pushdownCount(p, 'pushed_partials')) === 0; i++) {
        await ask(p.url, '/api/v1/query', { query: 'sum(up)', time: String(T_END) });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.all([pooled, raw, resharded, pushed, pushedResharded].filter(Boolean).map((p) => p.stop()));
    await Promise.all([reference, moved, ...replicas.flat(), ...wholeGroups].filter(Boolean).map((p) => p.stop()));
  });

  it('the pool is on where configured, off with partial_workers: 0', async () => {
    expect(await (await fetch(`${pooled.url}/metrics`)).text()).toMatch(/^promfront_query_partial_workers 2$/m);
    expect(await (await fetch(`${raw.url}/metrics`)).text()).not.toMatch(/promfront_query_partials_total/);
  });

  for (const q of POOLED) {
    it(`${q}: from partials, equal to the reference and to the raw path`, async () => {
      const before = await partialsCount(pooled, 'partials');
      const problems: string[] = [];
      for (const e of evaluations(q)) {
        const [want, got, rawGot] = await Promise.all([
          ask(reference.url, e.path, e.params),
          ask(pooled.url, e.path, e.params),
          ask(raw.url, e.path, e.params),
        ]);
        for (const d of diff(want, got)) problems.push(`${e.what}: reference vs pooled: ${d}`);
        for (const d of diff(rawGot, got)) problems.push(`${e.what}: raw vs pooled: ${d}`);
        expect('points' in want && want.points.size > 0, `${e.what}: the reference answers something`).toBe(true);
      }
      expect(problems).toEqual([]);
      // Every evaluation used partials (a ratio of two sums: two per evaluation).
      const per = q.includes(' / ') ? 2 : 1;
      expect((await partialsCount(pooled, 'partials')) - before).toBeGreaterThanOrEqual(per * evaluations(q).length);
    }, 120_000);
  }

  it('aggregations that do not decompose read raw data and still answer as the reference', async () => {
    const problems: string[] = [];
    for (const q of NOT_POOLED) {
      for (const e of evaluations(q)) {
        const [want, got] = await Promise.all([ask(reference.url, e.path, e.params), ask(pooled.url, e.path, e.params)]);
        for (const d of diff(want, got)) problems.push(`${q} ${e.what}: ${d}`);
      }
    }
    expect(problems).toEqual([]);
    expect(await partialsCount(pooled, 'operator')).toBeGreaterThan(0);
    expect(await partialsCount(pooled, 'operand')).toBeGreaterThan(0);
  }, 180_000);

  it('every aggregation of the reference corpus answers as the reference, pool on', async () => {
    const cases = CORPUS.filter((c) => {
      let agg = false;
      walkExpr(parseExpr(c.q), (n) => {
        if (n.type === 'AggregateExpr' && typeof planPartials(n) !== 'string') agg = true;
      });
      return agg;
    });
    expect(cases.length).toBeGreaterThan(20);
    const problems: string[] = [];
    await Promise.all(
      cases.map(async (c) => {
        for (const e of evaluations(c.q)) {
          if (e.path.endsWith('query_range') && c.modes?.includes('range') === false) continue;
          const [want, got] = await Promise.all([ask(reference.url, e.path, e.params), ask(pooled.url, e.path, e.params)]);
          for (const d of diff(want, got).slice(0, 3)) problems.push(`${c.q} ${e.what}: ${d}`);
        }
      }),
    );
    expect(problems).toEqual([]);
  }, 300_000);

  it('a series held by two groups (after a reshard) is merged first: the raw path answers, counted', async () => {
    const q = 'sum by (job) (rate(http_requests_total[5m]))';
    const before = await partialsCount(resharded, 'series_in_two_groups');
    const problems: string[] = [];
    for (const e of evaluations(q)) {
      const [want, got] = await Promise.all([ask(reference.url, e.path, e.params), ask(resharded.url, e.path, e.params)]);
      for (const d of diff(want, got)) problems.push(`${e.what}: ${d}`);
    }
    expect(problems).toEqual([]);
    expect((await partialsCount(resharded, 'series_in_two_groups')) - before).toBe(evaluations(q).length);
    // A metric the copy does not hold still decomposes on the same proxy.
    const p0 = await partialsCount(resharded, 'partials');
    const e = evaluations('sum(memory_usage_bytes)')[0];
    expect(diff(await ask(reference.url, e.path, e.params), await ask(resharded.url, e.path, e.params))).toEqual([]);
    expect((await partialsCount(resharded, 'partials')) - p0).toBe(1);
  }, 120_000);
  for (const q of POOLED) {
    it(`${q}: from partials pushed to the servers, equal to the reference and to the raw path`, async () => {
      const before = await pushdownCount(pushed, 'pushed_partials');
      const problems: string[] = [];
      for (const e of evaluations(q)) {
        const [want, got, rawGot] = await Promise.all([
          ask(reference.url, e.path, e.params),
          ask(pushed.url, e.path, e.params),
          ask(raw.url, e.path, e.params),
        ]);
        for (const d of diff(want, got)) problems.push(`${e.what}: reference vs pushed: ${d}`);
        for (const d of diff(rawGot, got)) problems.push(`${e.what}: raw vs pushed: ${d}`);
      }
      expect(problems).toEqual([]);
      const per = q.includes(' / ') ? 2 : 1;
      expect((await pushdownCount(pushed, 'pushed_partials')) - before).toBeGreaterThanOrEqual(per * evaluations(q).length);
    }, 120_000);
  }

  it('every aggregation of the reference corpus answers as the reference, partials pushed', async () => {
    const cases = CORPUS.filter((c) => {
      let agg = false;
      walkExpr(parseExpr(c.q), (n) => {
        if (n.type === 'AggregateExpr' && typeof planPartials(n) !== 'string') agg = true;
      });
      return agg;
    });
    const problems: string[] = [];
    await Promise.all(
      cases.map(async (c) => {
        for (const e of evaluations(c.q)) {
          if (e.path.endsWith('query_range') && c.modes?.includes('range') === false) continue;
          const [want, got] = await Promise.all([ask(reference.url, e.path, e.params), ask(pushed.url, e.path, e.params)]);
          for (const d of diff(want, got).slice(0, 3)) problems.push(`${c.q} ${e.what}: ${d}`);
        }
      }),
    );
    expect(problems).toEqual([]);
    expect(await pushdownCount(pushed, 'pushed_partials')).toBeGreaterThan(cases.length);
  }, 300_000);

  it('partials pushed: a series held by two groups makes the raw path answer, counted', async () => {
    const q = 'sum by (job) (rate(http_requests_total[5m]))';
    const before = await pushdownCount(pushedResharded, 'same_series_in_two_groups');
    const pushedBefore = await pushdownCount(pushedResharded, 'pushed_partials');
    const problems: string[] = [];
    for (const e of evaluations(q)) {
      const [want, got] = await Promise.all([ask(reference.url, e.path, e.params), ask(pushedResharded.url, e.path, e.params)]);
      for (const d of diff(want, got)) problems.push(`${e.what}: ${d}`);
    }
    expect(problems).toEqual([]);
    expect((await pushdownCount(pushedResharded, 'same_series_in_two_groups')) - before).toBe(evaluations(q).length);
    expect(await pushdownCount(pushedResharded, 'pushed_partials')).toBe(pushedBefore);
    // A metric the copy does not hold is still pushed on the same proxy.
    const e = evaluations('sum(memory_usage_bytes)')[0];
    expect(diff(await ask(reference.url, e.path, e.params), await ask(pushedResharded.url, e.path, e.params))).toEqual([]);
    expect((await pushdownCount(pushedResharded, 'pushed_partials')) - pushedBefore).toBe(1);
  }, 120_000);
});
