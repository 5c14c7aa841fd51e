// Pushdown (src/query/promql/pushdown.ts, FanoutStorage.pushdown): per-series range functions
// evaluated by the downstream Prometheus give the same answers as the raw path on the same data,
// and every case the rules exclude falls back to raw data. Two server groups, each one real
// Prometheus 2.42 holding half of the backfilled series; a third holds everything.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKFILL_END_MS, BACKFILL_START_MS, generateBackfillData, startBackfilledPrometheus, type BackfillDataSet } from '../../dev/backfill.js';
import type { PrometheusProcess } from '../../dev/prometheus-process.js';
import { JsonApiTarget } from '../../src/query/downstream/json-api-client.js';
import { FanoutStorage, type GroupSpec, type PushdownOutcome } from '../../src/query/fanout.js';
import { Engine, type QueryOutput } from '../../src/promql/engine.js';
import { planPushdown } from '../../src/promql/pushdown.js';
import { parseExpr } from '../../src/promql/parser.js';
import { compareSeriesValue } from '../../src/promql/promqltest/testfile.js';
import { labelsToString } from '../../src/model/labels.js';
import type { Call } from '../../src/promql/ast.js';
import type { EvalCtx } from '../../src/promql/eval-types.js';
import { startProxy } from '../support/proxy.js';

const MIN = 60_000;
const T0 = BACKFILL_START_MS;

/** Every other series of each family (by position), so both halves hold every metric. */
function half(data: BackfillDataSet, parity: number): BackfillDataSet {
  return { ...data, families: data.families.map((f) => ({ ...f, series: f.series.filter((_, i) => i % 2 === parity) })) };
}

function resultText(out: QueryOutput): string[] {
  const r = out.result;
  if (r.resultType === 'vector') return r.result.map((s) => `${labelsToString(s.labels)} ${s.t} ${s.v}`);
  if (r.resultType === 'matrix') return r.result.map((s) => `${labelsToString(s.labels)} ${s.timestamps.join(',')} ${s.values.join(',')}`);
  return [JSON.stringify(r)];
}

/** Equal series and timestamps, values equal as the PromQL test suite compares them. */
function sameOutput(a: QueryOutput, b: QueryOutput): string | undefined {
  const x = a.result;
  const y = b.result;
  if (x.resultType !== y.resultType) return `result type ${y.resultType} vs ${x.resultType}`;
  if (x.resultType === 'matrix' && y.resultType === 'matrix') {
    if (x.result.length !== y.result.length) return `${y.result.length} series vs ${x.result.length}`;
    for (let i = 0; i < x.result.length; i++) {
      const s = x.result[i];
      const t = y.result[i];
      if (labelsToString(s.labels) !== labelsToString(t.labels)) return `series ${i}: ${labelsToString(t.labels)} vs ${labelsToString(s.labels)}`;
      if (s.timestamps.join() !== t.timestamps.join()) return `${labelsToString(s.labels)}: timestamps differ`;
      for (let k = 0; k < s.values.length; k++) {
        if (!compareSeriesValue(s.values[k], t.values[k])) return `${labelsToString(s.labels)} @${s.timestamps[k]}: ${t.values[k]} vs ${s.values[k]}`;
      }
    }
    return undefined;
  }
  if (x.resultType === 'vector' && y.resultType === 'vector') {
    if (x.result.length !== y.result.length) return `${y.result.length} samples vs ${x.result.length}`;
    for (let i = 0; i < x.result.length; i++) {
      const s = x.result[i];
      const t = y.result[i];
      if (labelsToString(s.labels) !== labelsToString(t.labels) || s.t !== t.t || !compareSeriesValue(s.v, t.v)) {
        return `sample ${i}: ${labelsToString(t.labels)} ${t.t} ${t.v} vs ${labelsToString(s.labels)} ${s.t} ${s.v}`;
      }
    }
    return undefined;
  }
  return JSON.stringify(x) === JSON.stringify(y) ? undefined : `${JSON.stringify(y)} vs ${JSON.stringify(x)}`;
}

// Each query has at least one pushable call; the ones after the marker must not push.
const PUSHED_QUERIES = [
  'rate(http_requests_total[5m])',
  'sum by (job) (rate(http_requests_total[5m]))',
  'sum(increase(cpu_seconds_total{mode="user"}[10m]))',
  'irate(http_requests_total{code=~"5.."}[2m])',
  'delta(temperature_celsius[10m])',
  'idelta(queue_length[5m])',
  'deriv(memory_usage_bytes[10m])',
  'predict_linear(memory_usage_bytes[15m], 600)',
  'resets(batch_processed_total[30m])',
  'changes(up[30m])',
  'avg_over_time(temperature_celsius[10m])',
  'min_over_time(queue_length[5m]) + max_over_time(queue_length[5m])',
  'sum_over_time(up[10m]) / count_over_time(up[10m])',
  'last_over_time(memory_usage_bytes[5m])',
  'present_over_time(up[5m])',
  'stddev_over_time(temperature_celsius[10m])',
  'stdvar_over_time(temperature_celsius[10m])',
  'quantile_over_time(0.9, queue_length[10m])',
  'holt_winters(temperature_celsius[10m], 0.5, 0.5)',
  'histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))',
  'rate(http_requests_total[5m] offset 10m)',
  'topk(3, rate(cpu_seconds_total[5m]))',
  'rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])',
  'max_over_time(rate(http_requests_total[5m])[20m:1m])',
];

const RAW_QUERIES = [
  'rate({__name__=~"http_requests_total|cpu_seconds_total"}[5m])', // no single metric name
  'rate(http_requests_total[5m] @ 1704070800)', // @
  'absent_over_time(up[5m])', // not per series
  'quantile_over_time(1.5, queue_length[10m])', // raw path warns
  'rate(http_requests_total[5m:1m])', // a subquery, not a selector
];

const TIMES = [T0 + 17 * MIN, T0 + 60 * MIN + 7_000, BACKFILL_END_MS];
const RANGES: [number, number, number][] = [
  [T0, BACKFILL_END_MS, 60_000],
  [T0 + 13 * MIN + 500, T0 + 70 * MIN, 41_300],
];

let full: PrometheusProcess;
let halves: PrometheusProcess[] = [];
const targets: JsonApiTarget[] = [];

function target(p: PrometheusProcess): JsonApiTarget {
  const t = new JsonApiTarget({ url: p.url, timeoutMs: 30_000 });
  targets.push(t);
  return t;
}

function group(name: string, members: PrometheusProcess[], pushdown: boolean): GroupSpec {
  const ts = members.map(target);
  return { name, targets: ts, targetNames: ts.map((t) => t.target), antiAffinityMs: 10_000, ignoreError: false, pushdown };
}

async function runBoth(engine: Engine, pushed: FanoutStorage, raw: FanoutStorage, query: string): Promise<string | undefined> {
  for (const t of TIMES) {
    const a = await engine.instantQuery(raw.forQuery().storage, query, t);
    const b = await engine.instantQuery(pushed.forQuery().storage, query, t);
    const d = sameOutput(a, b);
    if (d !== undefined) return `instant @${t}: ${d}`;
  }
  for (const [s, e, step] of RANGES) {
    const a = await engine.rangeQuery(raw.forQuery().storage, query, s, e, step);
    const b = await engine.rangeQuery(pushed.forQuery().storage, query, s, e, step);
    const d = sameOutput(a, b);
    if (d !== undefined) return `range ${s}..${e} step ${step}: ${d}`;
    if (resultText(a).length === 0 && resultText(b).length === 0 && query !== 'absent_over_time(up[5m])') {
      return `range ${s}..${e}: empty on both paths, the comparison proves nothing`;
    }
  }
  return undefined;
}

function count(f: FanoutStorage, o: PushdownOutcome): number {
  return f.pushdownOutcomes.get(o) ?? 0;
}

describe('pushdown against Prometheus 2.42', () => {
  beforeAll(async () => {
    const data = generateBackfillData();
    [full, ...halves] = await Promise.all([
      startBackfilledPrometheus(data),
      startBackfilledPrometheus(half(data, 0)),
      startBackfilledPrometheus(half(data, 1)),
    ]);
  });
  afterAll(async () => {
    await Promise.all(targets.map((t) => t.close()));
    await Promise.all([full, ...halves].filter(Boolean).map((p) => p.stop()));
  });

  const engine = new Engine({ semantics: 'prometheus-2' });

  it("gives the raw path's answers for every pushable query, and does push", async () => {
    const pushed = new FanoutStorage([group('a', [halves[0]], true), group('b', [halves[1]], true)], { maxConcurrency: 8 });
    const raw = new FanoutStorage([group('a', [halves[0]], false), group('b', [halves[1]], false)], { maxConcurrency: 8 });
    const failures: string[] = [];
    for (const q of PUSHED_QUERIES) {
      const before = count(pushed, 'pushed');
      const diff = await runBoth(engine, pushed, raw, q);
      if (diff !== undefined) failures.push(`${q}: ${diff}`);
      if (count(pushed, 'pushed') === before) failures.push(`${q}: was not pushed down`);
    }
    expect(failures).toEqual([]);
    expect(count(raw, 'disabled')).toBeGreaterThan(0);
    expect(count(raw, 'pushed')).toBe(0);
  });

  it('does not push what the rules exclude, and answers from raw data', async () => {
    const pushed = new FanoutStorage([group('a', [halves[0]], true), group('b', [halves[1]], true)], { maxConcurrency: 8 });
    const raw = new FanoutStorage([group('a', [halves[0]], false), group('b', [halves[1]], false)], { maxConcurrency: 8 });
    const failures: string[] = [];
    for (const q of RAW_QUERIES) {
      const diff = await runBoth(engine, pushed, raw, q);
      if (diff !== undefined && !diff.includes('proves nothing')) failures.push(`${q}: ${diff}`);
    }
    expect(failures).toEqual([]);
    expect(count(pushed, 'pushed')).toBe(0);
  });

  it('falls back when a series is in two groups (a series that moved shard)', async () => {
    // Group b holds everything, so every series of group a is also in b.
    const pushed = new FanoutStorage([group('a', [halves[0]], true), group('b', [full], true)], { maxConcurrency: 8 });
    const raw = new FanoutStorage([group('a', [halves[0]], false), group('b', [full], false)], { maxConcurrency: 8 });
    expect(await runBoth(engine, pushed, raw, 'sum by (job) (rate(http_requests_total[5m]))')).toBeUndefined();
    expect(count(pushed, 'same_series_in_two_groups')).toBeGreaterThan(0);
    expect(count(pushed, 'pushed')).toBe(0);
  });

  it("does not push to a group of several replicas (its merged data is no one server's data)", async () => {
    const pushed = new FanoutStorage([group('a', [halves[0], halves[0]], true), group('b', [halves[1]], true)], { maxConcurrency: 8 });
    const raw = new FanoutStorage([group('a', [halves[0], halves[0]], false), group('b', [halves[1]], false)], { maxConcurrency: 8 });
    expect(await runBoth(engine, pushed, raw, 'rate(http_requests_total[5m])')).toBeUndefined();
    expect(count(pushed, 'replicas')).toBeGreaterThan(0);
    expect(count(pushed, 'pushed')).toBe(0);
  });

  it('does not push when a matcher names a group label, and keeps group labels on pushed answers', async () => {
    const withLabels = (pushdown: boolean) =>
      new FanoutStorage(
        [
          { ...group('a', [halves[0]], pushdown), labels: { region: 'eu' } },
          { ...group('b', [halves[1]], pushdown), labels: { region: 'us' } },
        ],
        { maxConcurrency: 8 },
      );
    const pushed = withLabels(true);
    const raw = withLabels(false);
    expect(await runBoth(engine, pushed, raw, 'sum by (region) (rate(http_requests_total[5m]))')).toBeUndefined();
    expect(count(pushed, 'pushed')).toBeGreaterThan(0);
    const before = count(pushed, 'pushed');
    expect(await runBoth(engine, pushed, raw, 'rate(http_requests_total{region="eu"}[5m])')).toBeUndefined();
    expect(count(pushed, 'group_label_matcher')).toBeGreaterThan(0);
    expect(count(pushed, 'pushed')).toBe(before);
  });

  it("sends a whole query to the one server that holds all its data, with the raw path's answers", async () => {
    const pushed = new FanoutStorage([group('a', [halves[0]], true)], { maxConcurrency: 8 });
    const raw = new FanoutStorage([group('a', [halves[0]], false)], { maxConcurrency: 8 });
    const failures: string[] = [];
    for (const q of [
      'sum by (job) (rate(http_requests_total[5m]))',
      'histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))',
      'sort_desc(max by (instance) (memory_usage_bytes))',
      'topk(3, queue_length)',
      'up == 1',
      'absent(nonexistent_metric)',
      'max_over_time(rate(http_requests_total[5m])[20m:1m])',
      'temperature_celsius @ start()',
      'count(up offset 10m) by (job)',
      'label_replace(up, "host", "$1", "instance", "(.*):.*")',
    ]) {
      const before = count(pushed, 'pushed_query');
      const diff = await runBoth(engine, pushed, raw, q);
      if (diff !== undefined && !diff.includes('proves nothing')) failures.push(`${q}: ${diff}`);
      if (count(pushed, 'pushed_query') === before) failures.push(`${q}: the whole query was not pushed down`);
    }
    expect(failures).toEqual([]);
    // Not a vector query: evaluated here.
    const before = count(pushed, 'pushed_query');
    await engine.instantQuery(pushed.forQuery().storage, 'scalar(sum(up))', TIMES[0]);
    expect(count(pushed, 'pushed_query')).toBe(before);
  });

  it('does not send a whole query where two groups or group labels are involved', async () => {
    const two = new FanoutStorage([group('a', [halves[0]], true), group('b', [halves[1]], true)], { maxConcurrency: 8 });
    await engine.instantQuery(two.forQuery().storage, 'sum(up)', TIMES[0]);
    expect(count(two, 'several_groups')).toBe(1);
    expect(count(two, 'pushed_query')).toBe(0);
    const labelled = new FanoutStorage([{ ...group('a', [halves[0]], true), labels: { region: 'eu' } }], { maxConcurrency: 8 });
    const out = await engine.instantQuery(labelled.forQuery().storage, 'count by (region) (up)', TIMES[0]);
    expect(count(labelled, 'group_labels')).toBe(1);
    expect(out.result.resultType === 'vector' && out.result.result.map((x) => labelsToString(x.labels))).toEqual(['{region="eu"}']);
    // A selector that a group's label prunes leaves one group: the whole query goes there.
    const pruned = new FanoutStorage([{ ...group('a', [halves[0]], true) }, { ...group('b', [halves[1]], true), labels: { region: 'us' } }], {
      maxConcurrency: 8,
    });
    await engine.instantQuery(pruned.forQuery().storage, 'sum(up{region!="us"})', TIMES[0]);
    expect(count(pruned, 'pushed_query')).toBe(1);
  });

  it('pushes range queries per series only where raw samples would come as JSON', async () => {
    // A target reading raw samples through remote read: per-step JSON answers would cost more.
    const binary = (p: PrometheusProcess) => Object.assign(target(p), { readsBinarySamples: () => true });
    const spec = (name: string, p: PrometheusProcess): GroupSpec => ({ ...group(name, [], true), targets: [binary(p)], targetNames: [name] });
    const pushed = new FanoutStorage([spec('a', halves[0]), spec('b', halves[1])], { maxConcurrency: 8 });
    const raw = new FanoutStorage([group('a', [halves[0]], false), group('b', [halves[1]], false)], { maxConcurrency: 8 });
    expect(await runBoth(engine, pushed, raw, 'sum by (job) (rate(http_requests_total[5m]))')).toBeUndefined();
    // Instant queries (one point for a whole window of samples) are pushed, range queries are not.
    expect(count(pushed, 'pushed')).toBe(TIMES.length);
    expect(count(pushed, 'binary_reads')).toBe(RANGES.length);
  });

  it('falls back to raw data when the downstream refuses the expression', async () => {
    // Prometheus 2.42 does not know double_exponential_smoothing; our engine in prometheus-3 mode
    // with experimental functions does.
    const p3 = new Engine({ semantics: 'prometheus-3', enableExperimentalFunctions: true });
    const pushed = new FanoutStorage([group('a', [halves[0]], true), group('b', [halves[1]], true)], { maxConcurrency: 8 });
    const raw = new FanoutStorage([group('a', [halves[0]], false), group('b', [halves[1]], false)], { maxConcurrency: 8 });
    const q = 'double_exponential_smoothing(temperature_celsius[10m], 0.5, 0.5)';
    const a = await p3.instantQuery(raw.forQuery().storage, q, TIMES[1]);
    const b = await p3.instantQuery(pushed.forQuery().storage, q, TIMES[1]);
    expect(a.result.resultType === 'vector' && a.result.result.length).toBeGreaterThan(0);
    expect(sameOutput(a, b)).toBeUndefined();
    expect(count(pushed, 'refused')).toBe(1);
  });
});

describe('pushdown in the running proxy', () => {
  let a: PrometheusProcess;
  let b: PrometheusProcess;
  beforeAll(async () => {
    const data = generateBackfillData();
    [a, b] = await Promise.all([startBackfilledPrometheus(half(data, 0)), startBackfilledPrometheus(half(data, 1))]);
  });
  afterAll(async () => {
    await Promise.all([a, b].filter(Boolean).map((p) => p.stop()));
  });

  it('pushes when the groups allow it, answers as without, and counts it in /metrics', async () => {
    const config = (pushdown: boolean) => (listen: string) => `
listen: ${listen}
log_level: warn
query:
  semantics: prometheus-2
  # The raw path evaluating the sum itself: per-group partial sums could differ in the last bits.
  partial_workers: 0
  partial_pushdown: false
  server_groups:
    - {name: a, pushdown: ${pushdown}, remote_read: false, static_configs: [{targets: ["127.0.0.1:${a.port}"]}]}
    - {name: b, pushdown: ${pushdown}, remote_read: false, static_configs: [{targets: ["127.0.0.1:${b.port}"]}]}
`;
    const [pushed, raw] = await Promise.all([startProxy(config(true)), startProxy(config(false))]);
    try {
      const params = new URLSearchParams({
        query: 'sum by (job) (rate(http_requests_total[5m]))',
        start: String(T0 / 1000 + 600),
        end: String(BACKFILL_END_MS / 1000),
        step: '30',
      });
      const answers = await Promise.all([pushed, raw].map(async (p) => (await fetch(`${p.url}/api/v1/query_range?${params}`)).json()));
      expect((answers[1] as { data: { result: unknown[] } }).data.result.length).toBeGreaterThan(0);
      expect(answers[0]).toEqual(answers[1]);
      const metrics = await (await fetch(`${pushed.url}/metrics`)).text();
      expect(metrics).toMatch(/^promfront_query_pushdown_total\{outcome="pushed"\} [1-9]/m);
      expect(metrics).toMatch(/^promfront_query_downstream_requests_total\{[^}]*endpoint="query_range"[^}]*\} [1-9]/m);
      const rawMetrics = await (await fetch(`${raw.url}/metrics`)).text();
      expect(rawMetrics).not.toMatch(/outcome="pushed"/);
      expect(rawMetrics).toMatch(/^promfront_query_pushdown_total\{outcome="disabled"\} [1-9]/m);
    } finally {
      await Promise.all([pushed.stop(), raw.stop()]);
    }
  });
});

describe('planPushdown', () => {
  const ctx = (semantics: 'prometheus-2' | 'prometheus-3' = 'prometheus-2', delayedNameRemoval = false) =>
    ({
      q: { semantics, delayedNameRemoval } as EvalCtx['q'],
      start: 1000,
      end: 61_000,
      interval: 15_000,
      steps: new Float64Array([1000, 16_000, 31_000, 46_000, 61_000]),
    }) as EvalCtx;
  const plan = (q: string, c = ctx()) => planPushdown(c, parseExpr(q) as Call);

  it('sends the call as PromQL with the steps of the evaluation', () => {
    expect(plan('rate(x{a="b"}[5m] offset 1m)')?.request).toEqual({
      query: 'rate(x{a="b"}[5m] offset 1m)',
      matchers: [
        { type: '=', name: 'a', value: 'b' },
        { type: '=', name: '__name__', value: 'x' },
      ],
      startMs: 1000,
      endMs: 61_000,
      stepMs: 15_000,
    });
    expect(plan('quantile_over_time(0.5, x[1m])')?.metricName).toBe('x');
  });

  it('refuses what is not provably per series', () => {
    for (const q of [
      'abs(x)',
      'absent_over_time(x[1m])',
      'rate({__name__=~"x|y"}[1m])',
      'rate({job="a"}[1m])',
      'rate(x[1m] @ 100)',
      'rate(x[1m] @ start())',
      'rate(x[5m:1m])',
      'quantile_over_time(2, x[1m])',
      'quantile_over_time(-0.5, x[1m])',
      'holt_winters(x[1m], 1, 0.5)',
      'quantile_over_time(scalar(y), x[1m])',
    ]) {
      expect(plan(q), q).toBeUndefined();
    }
    expect(plan('rate(x[1m])', ctx('prometheus-3', true))).toBeUndefined();
  });
});
