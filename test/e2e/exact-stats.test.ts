// `stats` sample counts end to end: ./proxy over one Prometheus 2.42 (run with
// --enable-feature=promql-per-step-stats) answers `stats=all` with the same totalQueryableSamples
// and totalQueryableSamplesPerStep as that Prometheus answering the same request, for instant and
// range queries over vector and range selectors, subqueries, functions and aggregations
// (docs/api.md#stats). peakSamples follows our engine's own rule and is only checked to be there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillTsdb, BACKFILL_END_MS, BACKFILL_START_MS, findPromtool, generateBackfillData } from '../../dev/backfill.js';
import { findPrometheus, startPrometheus, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { askBody } from '../support/ha-fixture.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

interface Samples {
  totalQueryableSamplesPerStep?: [number, number][];
  totalQueryableSamples: number;
  peakSamples: number;
}

const start = BACKFILL_START_MS / 1000;
const end = BACKFILL_END_MS / 1000;

const QUERIES = [
  'temperature_celsius',
  'http_requests_total{code="200"}',
  'rate(http_requests_total[5m])',
  'sum by (job) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))',
  'count_over_time(batch_processed_total[10m])',
  'quantile_over_time(0.5, memory_usage_bytes[7m])',
  'increase(cpu_seconds_total[1h] offset 10m)',
  'max_over_time(temperature_celsius[10m:1m])',
  'sum_over_time(rate(http_requests_total[1m])[5m:30s])',
  'avg_over_time(queue_length[10m:])',
  'absent_over_time(batch_processed_total[2m])',
  'timestamp(up)',
  'topk(3, memory_usage_bytes) / on() group_left scalar(count(up))',
  'temperature_celsius @ 1704069000',
  'count_over_time(up[5m] @ 1704069000)',
  'up == 1 and on(job) queue_length > 0',
  'count_values("v", up)',
  'scalar(sum(up)) * vector(1)',
];
/** Valid only as instant queries: a range selector or a subquery as the whole query. */
const INSTANT_ONLY = ['temperature_celsius[3m]', 'rate(http_requests_total[5m])[10m:1m]', 'max_over_time(queue_length[5m:1m])[20m:5m]'];

describe('stats=all sample counts equal Prometheus 2.42 on the same data', () => {
  let prometheus: PrometheusProcess;
  let proxy: ProxyProcess;
  let plain: ProxyProcess;

  beforeAll(async () => {
    findPrometheus();
    findPromtool();
    const data = generateBackfillData();
    prometheus = await startPrometheus({
      configYaml: 'global:\n  evaluation_interval: 1m\n',
      extraArgs: ['--storage.tsdb.retention.time=100y', '--query.lookback-delta=5m', '--log.level=warn', '--enable-feature=promql-per-step-stats'],
      prepareDataDir: (dir) => backfillTsdb(data, dir),
    });
    const cfg = (perStep: boolean) => (listen: string) => `
listen: ${listen}
log_level: warn
query:
  semantics: prometheus-2
  per_step_stats: ${perStep}
  server_groups:
    - name: one
      static_configs: [{targets: ["127.0.0.1:${prometheus.port}"]}]
`;
    [proxy, plain] = await Promise.all([startProxy(cfg(true)), startProxy(cfg(false))]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([proxy, plain].filter(Boolean).map((p) => p.stop()));
    await prometheus?.stop();
  });

  const samplesOf = async (base: string, path: string, params: Record<string, string>): Promise<Samples> => {
    const body = (await askBody(base, path, params)) as unknown as { status: string; error?: string; data?: { stats?: { samples: Samples } } };
    expect(body.status, `${base}${path} ${JSON.stringify(params)}: ${body.error}`).toBe('success');
    return body.data!.stats!.samples;
  };

  /** The proxy's counts must be Prometheus's; its peak is its own (docs/api.md#stats). */
  const same = async (path: string, params: Record<string, string>) => {
    const [want, got] = await Promise.all([samplesOf(prometheus.url, path, params), samplesOf(proxy.url, path, params)]);
    expect(want.totalQueryableSamples, 'the reference reads samples').toBeGreaterThan(0);
    expect(got.totalQueryableSamples).toBe(want.totalQueryableSamples);
    expect(got.totalQueryableSamplesPerStep).toEqual(want.totalQueryableSamplesPerStep);
    expect(got.peakSamples).toBeGreaterThan(0);
  };

  for (const query of QUERIES) {
    it(`${query}: instant and range counts`, async () => {
      for (const time of [start + 30 * 60, end]) await same('/api/v1/query', { query, time: String(time), stats: 'all' });
      await same('/api/v1/query_range', { query, start: String(start + 600), end: String(end), step: '60', stats: 'all' });
    });
  }
  for (const query of INSTANT_ONLY) {
    it(`${query}: instant counts`, async () => {
      for (const time of [start + 30 * 60, end - 7.5]) await same('/api/v1/query', { query, time: String(time), stats: 'all' });
    });
  }

  it('the per-step list only with stats=all and per_step_stats, as Prometheus only with its feature; no stats without the parameter', async () => {
    const range = { query: 'rate(http_requests_total[5m])', start: String(start + 600), end: String(end), step: '300' };
    const withList = await samplesOf(proxy.url, '/api/v1/query_range', { ...range, stats: 'all' });
    expect(withList.totalQueryableSamplesPerStep).toHaveLength((end - start - 600) / 300 + 1);
    const other = await samplesOf(proxy.url, '/api/v1/query_range', { ...range, stats: 'true' });
    expect(other.totalQueryableSamplesPerStep).toBeUndefined();
    expect(other.totalQueryableSamples).toBe(withList.totalQueryableSamples);
    const off = await samplesOf(plain.url, '/api/v1/query_range', { ...range, stats: 'all' });
    expect(off.totalQueryableSamplesPerStep).toBeUndefined();
    expect(off.totalQueryableSamples).toBe(withList.totalQueryableSamples);
    const none = (await askBody(proxy.url, '/api/v1/query_range', range)) as unknown as { data: Record<string, unknown> };
    expect(none.data.stats).toBeUndefined();
  });

  it('a range query asked again (results cache on) still counts the whole evaluation', async () => {
    const range = { query: 'sum(rate(http_requests_total[5m]))', start: String(start + 600), end: String(end - 600), step: '60' };
    await askBody(proxy.url, '/api/v1/query_range', range);
    await same('/api/v1/query_range', { ...range, stats: 'all' });
  });
});
