// HA pairs as real fleets run them: two Prometheus 2.42 replicas with `external_labels: {replica:
// a|b, site: lab}`, each missing a different 20-minute stretch, behind ./proxy with the default
// config over remote read and over the JSON API. Their answers must equal a reference Prometheus
// holding all the data through its own API (no external labels on series, matchers on them behaving
// as its JSON API does), before and after one replica dies. A third proxy keeps the external labels
// and drops `replica` through replica_labels (Thanos-style visibility): same data plus site="lab".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillTsdb, BACKFILL_END_MS, BACKFILL_START_MS, findPromtool, generateBackfillData } from '../../dev/backfill.js';
import { withoutStretches } from '../../dev/split.js';
import { findPrometheus, startPrometheus, type PrometheusProcess } from '../../dev/prometheus-process.js';
import type { BackfillDataSet } from '../../dev/backfill.js';
import { askApi, sameData, type Body } from '../support/api-answer.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

const MIN = 60_000;

function startWith(data: BackfillDataSet, external: Record<string, string>): Promise<PrometheusProcess> {
  findPrometheus();
  findPromtool();
  const ext = Object.entries(external)
    .map(([k, v]) => `    ${k}: ${v}\n`)
    .join('');
  return startPrometheus({
    configYaml: `global:\n  evaluation_interval: 1m\n${ext === '' ? '' : `  external_labels:\n${ext}`}`,
    extraArgs: ['--storage.tsdb.retention.time=100y', '--query.lookback-delta=5m', '--log.level=warn'],
    prepareDataDir: (dir) => backfillTsdb(data, dir),
  });
}

const ask = async (base: string, path: string, params: Record<string, string>): Promise<Body> =>
  (await askApi(base, path, params, { timeoutMs: 20_000, strictJson: true })).body;

const start = BACKFILL_START_MS / 1000;
const end = BACKFILL_END_MS / 1000;

const QUERIES = [
  'count(temperature_celsius)',
  'sum by (job) (rate(http_requests_total[5m]))',
  'count_over_time(up[1h])',
  'temperature_celsius{site="lab"}',
  'count(temperature_celsius{site!="lab"})',
  'count(temperature_celsius{site=""})',
  'count(temperature_celsius{replica=~"a|b"})',
  'count(temperature_celsius{replica!="a"})',
  'count by (site, replica) (up)',
];

describe('HA pairs with external labels', () => {
  let reference: PrometheusProcess;
  let replicas: PrometheusProcess[] = [];
  const proxies: Record<string, ProxyProcess> = {};

  beforeAll(async () => {
    const data = generateBackfillData();
    const a = withoutStretches(data, [{ fromMs: BACKFILL_START_MS + 20 * MIN, toMs: BACKFILL_START_MS + 40 * MIN }]);
    const b = withoutStretches(data, [{ fromMs: BACKFILL_START_MS + 70 * MIN, toMs: BACKFILL_START_MS + 90 * MIN }]);
    [reference, ...replicas] = await Promise.all([
      startWith(data, {}),
      startWith(a, { replica: 'a', site: 'lab' }),
      startWith(b, { replica: 'b', site: 'lab' }),
    ]);
    const targets = `["127.0.0.1:${replicas[0].port}", "127.0.0.1:${replicas[1].port}"]`;
    const cfg = (extra: string, group: string) => (listen: string) => `
listen: ${listen}
log_level: warn
query:
  results_cache: {enabled: false}  # what the downstreams answer now, not what the cache kept
  semantics: prometheus-2
${extra}  server_groups:
    - name: ha
      static_configs: [{targets: ${targets}}]
      hedge: false
${group}`;
    const [rr, json, kept] = await Promise.all([
      startProxy(cfg('', '')),
      startProxy(cfg('', '      remote_read: false\n')),
      startProxy(cfg('  keep_external_labels: true\n  replica_labels: [replica]\n', '      remote_read: true\n')),
    ]);
    Object.assign(proxies, { 'remote read': rr, 'JSON API': json, kept });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(Object.values(proxies).map((p) => p.stop()));
    await Promise.all([reference, ...replicas].filter(Boolean).map((p) => p.stop()));
  });

  for (const transport of ['remote read', 'JSON API']) {
    for (const query of QUERIES) {
      it(`${transport}: ${query} equals the reference (range and instant)`, async () => {
        const range = { query, start: String(start + 600), end: String(end), step: '60' };
        expect(
          sameData(await ask(reference.url, '/api/v1/query_range', range), await ask(proxies[transport].url, '/api/v1/query_range', range)),
        ).toBeUndefined();
        for (const t of [start + 30 * 60, start + 80 * 60, end]) {
          const instant = { query, time: String(t) };
          expect(
            sameData(await ask(reference.url, '/api/v1/query', instant), await ask(proxies[transport].url, '/api/v1/query', instant)),
            `at ${t}`,
          ).toBeUndefined();
        }
      });
    }
    it(`${transport}: /series and /labels equal the reference`, async () => {
      for (const [path, params] of [
        ['/api/v1/series', { 'match[]': 'up', start: String(start), end: String(end) }],
        ['/api/v1/series', { 'match[]': 'up{site="lab"}', start: String(start), end: String(end) }],
        ['/api/v1/labels', { start: String(start), end: String(end) }],
        ['/api/v1/label/site/values', { start: String(start), end: String(end) }],
      ] as const) {
        const ref = (await ask(reference.url, path, params)) as unknown as { data: unknown };
        const got = (await ask(proxies[transport].url, path, params)) as unknown as { data: unknown };
        expect(got.data, `${path} ${JSON.stringify(params)}`).toEqual(ref.data);
      }
    });
  }

  it('keep_external_labels with replica_labels: the reference data with site="lab" and no replica label', async () => {
    const range = { query: 'temperature_celsius', start: String(start + 600), end: String(end), step: '60' };
    const ref = await ask(reference.url, '/api/v1/query_range', range);
    const got = await ask(proxies.kept.url, '/api/v1/query_range', range);
    for (const s of got.data!.result) {
      expect(s.metric.site).toBe('lab');
      expect(s.metric.replica).toBeUndefined();
      delete s.metric.site;
    }
    expect(sameData(ref, got)).toBeUndefined();
  });

  it('after replica b dies, both transports still answer as the reference where replica a has data', async () => {
    await replicas[1].stop();
    for (const transport of ['remote read', 'JSON API']) {
      for (const query of QUERIES) {
        // After the end of replica a's gap by more than the longest window (1h).
        const range = { query, start: String(start + 101 * 60), end: String(end), step: '60' };
        const got = await ask(proxies[transport].url, '/api/v1/query_range', range);
        expect(sameData(await ask(reference.url, '/api/v1/query_range', range), got), `${transport}: ${query}`).toBeUndefined();
        expect(got.warnings?.join('\n')).toMatch(/server group "ha": target .* failed/);
      }
    }
  });
});
