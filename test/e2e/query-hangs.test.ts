// Hung downstreams, end to end: ./proxy over real Prometheus 2.42 servers holding the backfilled
// data set, one of them frozen with SIGSTOP (it accepts connections and never answers, as a stuck
// process or a stalled VM does). A hung replica of a pair is left out shortly after its twin
// answered, with the same answer as with both up; a hung ignore_error group becomes a warning at
// its own deadline; /series and /federate answer at the query timeout with Prometheus's answer
// for an expired deadline; too many match[] are refused. Every stopped process is resumed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BACKFILL_END_MS, BACKFILL_START_MS, generateBackfillData, startBackfilledPrometheus } from '../../dev/backfill.js';
import { type PrometheusProcess } from '../../dev/prometheus-process.js';
import { askApi, sameData, type Answer } from '../support/api-answer.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

const END = BACKFILL_END_MS / 1000;
const START = BACKFILL_START_MS / 1000;
/** A bound on any single request of this file: a proxy that hangs fails here with a clear message. */
const CLIENT_TIMEOUT_MS = 30_000;

const ask = (base: string, path: string, params: Record<string, string> | URLSearchParams, method: 'GET' | 'POST' = 'GET') =>
  askApi(base, path, params, { method, timeoutMs: CLIENT_TIMEOUT_MS });

const QUERIES: [string, Record<string, string>][] = [
  ['/api/v1/query', { query: 'up', time: String(END) }],
  ['/api/v1/query', { query: 'sum by (job) (rate(http_requests_total[5m]))', time: String(END) }],
  ['/api/v1/query_range', { query: 'sum(rate(http_requests_total[5m]))', start: String(START + 600), end: String(END), step: '60' }],
  ['/api/v1/query_range', { query: 'max_over_time(up[10m])', start: String(START + 600), end: String(END), step: '300' }],
];

describe('query layer under hung downstreams', () => {
  let a: PrometheusProcess;
  let b: PrometheusProcess;
  let c: PrometheusProcess;
  /** One group of the replica pair A, B; hedging at its defaults; query timeout 20s. */
  let ha: ProxyProcess;
  /** Group "ok" over A and an ignore_error group "flaky" over C, query timeout 8s. */
  let lenient: ProxyProcess;
  /** One group over C (no ignore_error), query timeout 3s. */
  let strict: ProxyProcess;
  const stopped = new Set<PrometheusProcess>();

  const freeze = (p: PrometheusProcess) => {
    process.kill(p.pid, 'SIGSTOP');
    stopped.add(p);
  };
  const thaw = () => {
    for (const p of stopped) process.kill(p.pid, 'SIGCONT');
    stopped.clear();
  };
  const target = (p: PrometheusProcess) => `http://127.0.0.1:${p.port}`;

  beforeAll(async () => {
    const data = generateBackfillData();
    [a, b, c] = await Promise.all([startBackfilledPrometheus(data), startBackfilledPrometheus(data), startBackfilledPrometheus(data)]);
    [ha, lenient, strict] = await Promise.all([
      startProxy(
        (listen) => `
listen: ${listen}
query:
  results_cache: {enabled: false}  # what the downstreams answer now, not what the cache kept
  timeout: 20s
  server_groups:
    - name: ha
      static_configs: [{targets: ["127.0.0.1:${a.port}", "127.0.0.1:${b.port}"]}]
`,
      ),
      startProxy(
        (listen) => `
listen: ${listen}
query:
  results_cache: {enabled: false}  # what the downstreams answer now, not what the cache kept
  timeout: 8s
  server_groups:
    - name: ok
      labels: {pf: ok}
      static_configs: [{targets: ["127.0.0.1:${a.port}"]}]
    - name: flaky
      labels: {pf: flaky}
      ignore_error: true
      static_configs: [{targets: ["127.0.0.1:${c.port}"]}]
`,
      ),
      startProxy(
        (listen) => `
listen: ${listen}
query:
  results_cache: {enabled: false}  # what the downstreams answer now, not what the cache kept
  timeout: 3s
  server_groups:
    - name: only
      static_configs: [{targets: ["127.0.0.1:${c.port}"]}]
`,
      ),
    ]);
  }, 120_000);

  afterEach(thaw);

  afterAll(async () => {
    thaw();
    await Promise.all([ha, lenient, strict].filter(Boolean).map((p) => p.stop()));
    await Promise.all([a, b, c].filter(Boolean).map((p) => p.stop()));
  });

  it('one replica of a pair SIGSTOPped: every query answers 200 within seconds, equal to the answer with both up, with a warning naming it', async () => {
    const before: Answer[] = [];
    for (const [path, params] of QUERIES) {
      const got = await ask(ha.url, path, params);
      expect(got.status, got.text).toBe(200);
      expect(got.body.warnings).toBeUndefined();
      expect(got.body.data!.result.length, `${params.query} has data`).toBeGreaterThan(0);
      before.push(got);
    }
    freeze(b);
    const times: number[] = [];
    for (const [i, [path, params]] of QUERIES.entries()) {
      const got = await ask(ha.url, path, params);
      times.push(Math.round(got.ms));
      expect(got.status, got.text).toBe(200);
      expect(sameData(before[i].body, got.body), params.query).toBeUndefined();
      expect(got.body.warnings).toHaveLength(1);
      expect(got.body.warnings![0]).toMatch(
        new RegExp(
          `^server group "ha": target "${target(b)}" left out: no answer 1s after target "${target(a)}" answered \\(in \\d+ms\\); the answer is exact: target "${target(a)}" covers the requested range$`,
        ),
      );
      // The floor is 1s and the twin answers in milliseconds; the query timeout is 20s.
      expect(got.ms).toBeLessThan(5_000);
    }
    console.log(`answers with one replica hung (ms): ${times.join(', ')}`);
    const metrics = await (await fetch(`${ha.url}/metrics`)).text();
    const hedged = metrics.match(new RegExp(`^promfront_query_downstream_hedged_total\\{group="ha",target="${target(b)}"\\} (\\d+)$`, 'm'));
    expect(Number(hedged?.[1])).toBeGreaterThanOrEqual(QUERIES.length);
  }, 120_000);

  it('a SIGSTOPped ignore_error group becomes a warning at its own deadline (half the query timeout), with the other group answering', async () => {
    const ref = await ask(lenient.url, '/api/v1/query', { query: 'count(up{pf="ok"})', time: String(END) });
    expect(ref.status, ref.text).toBe(200);
    freeze(c);
    const got = await ask(lenient.url, '/api/v1/query', { query: 'count(up)', time: String(END) });
    console.log(`answer with the ignore_error group hung: ${Math.round(got.ms)} ms (query timeout 8s)`);
    expect(got.status, got.text).toBe(200);
    expect(got.body.data!.result).toEqual(ref.body.data!.result);
    expect(got.body.warnings).toEqual([`server group "flaky" failed: target "${target(c)}": timeout after 4s`]);
    expect(got.ms).toBeGreaterThanOrEqual(3_900);
    expect(got.ms).toBeLessThan(6_500);
  }, 60_000);

  it('/series with 900 match[] and /federate over a hung group answer at the query timeout as Prometheus does; 2,000 match[] are refused', async () => {
    freeze(c);
    const many = (n: number) => new URLSearchParams(Array.from({ length: n }, (_, i): [string, string] => ['match[]', `{__name__="m${i}"}`]));
    const series = await ask(strict.url, '/api/v1/series', many(900), 'POST');
    console.log(`/series with 900 match[] over a hung group: ${Math.round(series.ms)} ms (query timeout 3s)`);
    expect(series.status, series.text).toBe(422);
    expect(series.body).toEqual({ status: 'error', errorType: 'execution', error: 'context deadline exceeded' });
    expect(series.ms).toBeGreaterThanOrEqual(2_900);
    expect(series.ms).toBeLessThan(4_500);

    const labels = await ask(strict.url, '/api/v1/labels', { 'match[]': 'up' });
    expect(labels.status).toBe(422);
    expect(labels.ms).toBeLessThan(4_500);

    const fed = await ask(strict.url, '/federate', { 'match[]': 'up' });
    expect(fed.status).toBe(500);
    expect(fed.text).toBe('context deadline exceeded\n');
    expect(fed.ms).toBeLessThan(4_500);

    const refused = await ask(strict.url, '/api/v1/series', many(2_000), 'POST');
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({
      status: 'error',
      errorType: 'bad_data',
      error: 'too many match[] selectors: 2000 given, at most 1000 allowed (query.max_match_selectors)',
    });
    expect(refused.ms).toBeLessThan(1_000);
    const metrics = await (await fetch(`${strict.url}/metrics`)).text();
    expect(metrics).toMatch(/^promfront_query_refused_total\{type="series",reason="too_many_matchers"\} 1$/m);
  }, 60_000);

  it('time=9e18 and 9e15 (past what remote read can carry) answer 200 as Prometheus does', async () => {
    for (const time of ['9e18', '9e15']) {
      const ref = await ask(a.url, '/api/v1/query', { query: 'up', time });
      const got = await ask(ha.url, '/api/v1/query', { query: 'up', time });
      expect(ref.status).toBe(200);
      expect(got.status, `${time}: ${got.text}`).toBe(200);
      expect(got.body.data).toEqual(ref.body.data);
    }
  }, 60_000);
});
