// The query layer end to end: ./proxy with a query section over one server group of two Prometheus
// 2.42 replicas, each missing a different 20-minute stretch of the backfilled data, answers like a
// reference Prometheus holding all of it. A second group that is down and has ignore_error only
// adds a warning.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKFILL_END_MS, startBackfilledPrometheus, BACKFILL_START_MS, generateBackfillData } from '../../dev/backfill.js';
import { withoutStretches } from '../../dev/split.js';
import { freePort, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { sameData } from '../support/api-answer.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

const MIN = 60_000;

type Json = {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[] };
  warnings?: string[];
};

async function get(base: string, path: string, params: Record<string, string>): Promise<Json> {
  const res = await fetch(`${base}${path}?${new URLSearchParams(params).toString()}`);
  return (await res.json()) as Json;
}

const QUERIES = [
  'sum by (job) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[10m])))',
  'max_over_time(temperature_celsius[15m])',
  'up',
  'topk(3, memory_usage_bytes)',
  'count by (instance) (cpu_seconds_total)',
];

describe('query layer over HA replicas with gaps', () => {
  let reference: PrometheusProcess;
  let replicas: PrometheusProcess[] = [];
  let proxy: ProxyProcess;
  const start = BACKFILL_START_MS / 1000;
  const end = BACKFILL_END_MS / 1000;

  beforeAll(async () => {
    const data = generateBackfillData();
    const a = withoutStretches(data, [{ fromMs: BACKFILL_START_MS + 20 * MIN, toMs: BACKFILL_START_MS + 40 * MIN }]);
    const b = withoutStretches(data, [{ fromMs: BACKFILL_START_MS + 70 * MIN, toMs: BACKFILL_START_MS + 90 * MIN }]);
    [reference, ...replicas] = await Promise.all([data, a, b].map(startBackfilledPrometheus));
    const dead = await freePort();
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: warn
query:
  semantics: prometheus-2
  server_groups:
    - name: shard-0
      static_configs: [{targets: ["127.0.0.1:${replicas[0].port}", "127.0.0.1:${replicas[1].port}"]}]
      anti_affinity: 10s
    - name: down
      static_configs: [{targets: ["127.0.0.1:${dead}"]}]
      ignore_error: true
      timeout: 2s
`,
    );
  }, 180_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([reference, ...replicas].filter(Boolean).map((p) => p.stop()));
  });

  it('each replica alone is missing data the reference has', async () => {
    const q = { query: 'count_over_time(up[2h])', time: String(end) };
    const ref = await get(reference.url, '/api/v1/query', q);
    const one = await get(replicas[0].url, '/api/v1/query', q);
    expect(Number(one.data.result[0].value![1])).toBeLessThan(Number(ref.data.result[0].value![1]));
  });

  for (const query of QUERIES) {
    it(`range query ${query} equals the reference, with a warning for the group that is down`, async () => {
      const params = { query, start: String(start + 600), end: String(end), step: '60' };
      const ref = await get(reference.url, '/api/v1/query_range', params);
      const got = await get(proxy.url, '/api/v1/query_range', params);
      expect(ref.data.result.length, 'reference has data').toBeGreaterThan(0);
      expect(sameData(ref, got)).toBeUndefined();
      expect(got.warnings?.join('\n')).toMatch(/server group "down" failed/);
    });
    it(`instant query ${query} equals the reference`, async () => {
      for (const t of [start + 30 * 60, start + 80 * 60, end]) {
        const params = { query, time: String(t) };
        const ref = await get(reference.url, '/api/v1/query', params);
        const got = await get(proxy.url, '/api/v1/query', params);
        expect(sameData(ref, got), `at ${t}`).toBeUndefined();
      }
    });
  }

  it('answers Grafana-style requests: a POST form query and the 1+1 health check', async () => {
    const res = await fetch(`${proxy.url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'query=1%2B1&time=1700000000',
    });
    expect(await res.json()).toEqual({ status: 'success', data: { resultType: 'scalar', result: [1700000000, '2'] } });
    const bad = await fetch(`${proxy.url}/api/v1/query?query=sum(`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errorType: string }).errorType).toBe('bad_data');
  });
});
