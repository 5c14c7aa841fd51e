// The results cache in a running ./proxy over a real Prometheus 2.42 holding backfilled data: a
// dashboard's moving window answered from the cache equals the uncached proxy's answer byte for
// byte and the reference's; a shared Redis serves a second proxy; Redis going away makes answers
// evaluated, not errors; a reload that changes the query section starts from an empty cache.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync, readFileSync } from 'node:fs';
import { BACKFILL_END_MS, BACKFILL_START_MS, generateBackfillData, startBackfilledPrometheus } from '../../dev/backfill.js';
import type { PrometheusProcess } from '../../dev/prometheus-process.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { sameData, type Body } from '../support/api-answer.js';
import { startRedis, type RedisProcess } from '../support/redis.js';

const QUERIES = [
  'sum by (job) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))',
  'max_over_time(temperature_celsius[10m])',
  'http_requests_total offset 10m',
  'topk(3, memory_usage_bytes)',
  'count_values("v", round(temperature_celsius))',
  'avg_over_time(queue_length[15m:1m])',
];

const CACHE = 'x-promfront-results-cache';

describe('results cache in the running proxy', () => {
  let prom: PrometheusProcess;
  let redis: RedisProcess;
  let cached: ProxyProcess;
  let uncached: ProxyProcess;
  let shared: ProxyProcess[];
  const group = () => `[{name: a, static_configs: [{targets: ["127.0.0.1:${prom.port}"]}]}]`;

  beforeAll(async () => {
    [prom, redis] = await Promise.all([startBackfilledPrometheus(generateBackfillData()), startRedis()]);
    const redisConfig = (listen: string) => `
listen: ${listen}
log_level: warn
query:
  semantics: prometheus-2
  results_cache: {split_interval: 30m, redis: {address: "${redis.address}", timeout: 200ms}}
  server_groups: ${group()}
`;
    // One after the other: four proxies starting at once on a busy 2-core machine miss the start-up wait.
    const starts = [
      () =>
        startProxy(
          (listen) =>
            `listen: ${listen}\nlog_level: warn\nquery:\n  semantics: prometheus-2\n  results_cache: {split_interval: 30m}\n  server_groups: ${group()}\n`,
          {
            args: ['--web.enable-lifecycle'],
          },
        ),
      () =>
        startProxy(
          (listen) => `listen: ${listen}\nlog_level: warn\nquery:\n  semantics: prometheus-2\n  results_cache: {enabled: false}\n  server_groups: ${group()}\n`,
        ),
      () => startProxy(redisConfig),
      () => startProxy(redisConfig),
    ];
    const started: ProxyProcess[] = [];
    for (const start of starts) started.push(await start());
    [cached, uncached, ...shared] = started;
  }, 240_000);

  afterAll(async () => {
    await Promise.all([cached, uncached, ...(shared ?? [])].filter(Boolean).map((p) => p.stop()));
    await Promise.all([prom?.stop(), redis?.stop()]);
  });

  const ask = async (base: string, q: string, start: number, end: number, step = 30) => {
    const res = await fetch(`${base}/api/v1/query_range?${new URLSearchParams({ query: q, start: String(start), end: String(end), step: String(step) })}`);
    return { status: res.status, text: await res.text(), cache: res.headers.get(CACHE) };
  };

  it('a dashboard window moving over the data: every refresh equals the uncached answer and the reference', async () => {
    for (const q of QUERIES) {
      const outcomes: (string | null)[] = [];
      for (let refresh = 0; refresh < 5; refresh++) {
        // A 1 h window that moves 90 s per refresh, as Grafana's "last 1h" does (aligned to the step).
        const end = BACKFILL_START_MS / 1000 + 3600 + refresh * 90;
        const start = end - 3600;
        const [c, u, r] = await Promise.all([ask(cached.url, q, start, end), ask(uncached.url, q, start, end), ask(prom.url, q, start, end)]);
        expect(c.status, q).toBe(200);
        expect(c.text, `${q} refresh ${refresh}`).toBe(u.text);
        expect(sameData(JSON.parse(r.text) as Body, JSON.parse(c.text) as Body), `${q} vs reference`).toBeUndefined();
        outcomes.push(c.cache);
        expect(u.cache).toBeNull();
      }
      // All of it is older than the freshness window: after the first, only the new 90 s are evaluated.
      expect(outcomes, q).toEqual(['miss', 'partial', 'partial', 'partial', 'partial']);
    }
    const metrics = await (await fetch(`${cached.url}/metrics`)).text();
    expect(metrics).toMatch(/^promfront_results_cache_queries_total\{outcome="partial"\} 28$/m);
    expect(metrics).toMatch(/^promfront_results_cache_steps_total\{source="cache"\} [1-9]/m);
  });

  it('@ start() and @ end() are never cached', async () => {
    const end = BACKFILL_END_MS / 1000;
    for (let i = 0; i < 2; i++) {
      const c = await ask(cached.url, 'temperature_celsius @ end()', end - 1800, end);
      expect(c.cache).toBe('uncacheable');
      expect(c.text).toBe((await ask(uncached.url, 'temperature_celsius @ end()', end - 1800, end)).text);
    }
  });

  it('a shared Redis answers a second proxy; with Redis gone answers are evaluated, not errors', async () => {
    const q = QUERIES[0];
    const start = BACKFILL_START_MS / 1000 + 600;
    const end = start + 5400;
    const first = await ask(shared[0].url, q, start, end);
    expect(first.cache).toBe('miss');
    const second = await ask(shared[1].url, q, start, end);
    expect(second.cache).toBe('hit');
    expect(second.text).toBe(first.text);
    await redis.stop();
    const without = await ask(shared[1].url, q, start, end);
    expect(without.status).toBe(200);
    expect(without.cache).toBe('miss');
    expect(without.text).toBe(first.text);
    const metrics = await (await fetch(`${shared[1].url}/metrics`)).text();
    expect(metrics).toMatch(/^promfront_results_cache_backend_errors_total\{backend="redis",op="get"\} [1-9]/m);
  });

  it('a reload that changes the query section starts from an empty cache; one that does not keeps it', async () => {
    const q = QUERIES[2];
    const start = BACKFILL_START_MS / 1000 + 1200;
    const end = start + 1800;
    await ask(cached.url, q, start, end);
    expect((await ask(cached.url, q, start, end)).cache).toBe('hit');
    const reload = async () => expect((await fetch(`${cached.url}/-/reload`, { method: 'POST' })).status).toBe(200);
    await reload();
    expect((await ask(cached.url, q, start, end)).cache).toBe('hit');
    writeFileSync(cached.configFile, readFileSync(cached.configFile, 'utf8').replace('split_interval: 30m', 'split_interval: 30m, freshness: 5m'));
    await reload();
    expect((await ask(cached.url, q, start, end)).cache).toBe('miss');
  });
});
