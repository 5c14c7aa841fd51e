// HA pairs as real fleets run them: two Prometheus 2.42 replicas with `external_labels: {replica:
// a|b, site: lab}`, each missing a different 20-minute stretch, behind ./proxy with the default
// config over remote read and over the JSON API. Their answers must equal a reference Prometheus
// holding all the data through its own API (no external labels on series, matchers on them behaving
// as its JSON API does), before and after one replica dies. Two more proxies keep the external
// labels and drop `replica` through replica_labels (Thanos-style visibility), one per transport:
// same data plus site="lab", matchers on site selecting as Thanos Query's store API does (the
// reference asked the same with the label added by label_replace), and the two transports equal.
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

/**
 * With keep_external_labels (and replica_labels: [replica]): a query to the proxy, and the query
 * asking the reference (which has no external labels) the same with site="lab" added to its series.
 */
const KEPT_QUERIES: [string, string][] = [
  ['count(temperature_celsius{site="lab"})', 'count(temperature_celsius)'],
  [
    'sum by (job, site) (rate(http_requests_total{site=~"l.+"}[5m]))',
    'sum by (job, site) (label_replace(rate(http_requests_total[5m]), "site", "lab", "", ""))',
  ],
  ['count by (site) (up)', 'count by (site) (label_replace(up, "site", "lab", "", ""))'],
  ['count by (site) ({site="lab"})', 'count by (site) (label_replace({__name__=~".+"}, "site", "lab", "", ""))'],
  ['count(temperature_celsius{site!="lab"})', 'count(temperature_celsius{site="lab"})'],
  ['count(temperature_celsius{site=""})', 'count(temperature_celsius{site="lab"})'],
  ['count(temperature_celsius{site!~"l.+"})', 'count(temperature_celsius{site="lab"})'],
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
    const keep = '  keep_external_labels: true\n  replica_labels: [replica]\n';
    const [rr, json, keptRr, keptJson] = await Promise.all([
      startProxy(cfg('', '')),
      startProxy(cfg('', '      remote_read: false\n')),
      startProxy(cfg(keep, '      remote_read: true\n')),
      startProxy(cfg(keep, '      remote_read: false\n')),
    ]);
    Object.assign(proxies, { 'remote read': rr, 'JSON API': json, 'kept remote read': keptRr, 'kept JSON API': keptJson });
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

  for (const transport of ['kept remote read', 'kept JSON API']) {
    it(`${transport}: keep_external_labels with replica_labels: the reference data with site="lab" and no replica label`, async () => {
      const range = { query: 'temperature_celsius', start: String(start + 600), end: String(end), step: '60' };
      const ref = await ask(reference.url, '/api/v1/query_range', range);
      const got = await ask(proxies[transport].url, '/api/v1/query_range', range);
      expect(got.data!.result.length).toBeGreaterThan(0);
      for (const s of got.data!.result) {
        expect(s.metric.site).toBe('lab');
        expect(s.metric.replica).toBeUndefined();
        delete s.metric.site;
      }
      expect(sameData(ref, got)).toBeUndefined();
    });

    for (const [query, refQuery] of KEPT_QUERIES) {
      it(`${transport}: ${query} equals the reference's ${refQuery} (range and instant)`, async () => {
        const range = { query, start: String(start + 600), end: String(end), step: '60' };
        const refRange = { ...range, query: refQuery };
        expect(
          sameData(await ask(reference.url, '/api/v1/query_range', refRange), await ask(proxies[transport].url, '/api/v1/query_range', range)),
        ).toBeUndefined();
        for (const t of [start + 30 * 60, end]) {
          const got = await ask(proxies[transport].url, '/api/v1/query', { query, time: String(t) });
          expect(sameData(await ask(reference.url, '/api/v1/query', { query: refQuery, time: String(t) }), got), `at ${t}`).toBeUndefined();
        }
      });
    }

    it(`${transport}: /series, /labels and /label/site/values carry site="lab" and answer matchers on it`, async () => {
      const range = { start: String(start), end: String(end) };
      const data = async (base: string, path: string, params: Record<string, string>) =>
        ((await ask(base, path, { ...params, ...range })) as unknown as { data: unknown }).data;
      const refUp = (await data(reference.url, '/api/v1/series', { 'match[]': 'up' })) as Record<string, string>[];
      expect(refUp.length).toBeGreaterThan(0);
      const withSite = refUp.map((m) => ({ ...m, site: 'lab' }));
      const url = proxies[transport].url;
      for (const match of ['up', 'up{site="lab"}', 'up{site=~"l.+"}']) {
        expect(await data(url, '/api/v1/series', { 'match[]': match }), match).toEqual(withSite);
      }
      for (const match of ['up{site!="lab"}', 'up{site=""}', 'up{replica="c"}']) {
        expect(await data(url, '/api/v1/series', { 'match[]': match }), match).toEqual([]);
      }
      const refLabels = (await data(reference.url, '/api/v1/labels', {})) as string[];
      expect(await data(url, '/api/v1/labels', {})).toEqual([...refLabels, 'site'].sort());
      expect(await data(url, '/api/v1/labels', { 'match[]': 'up{site!="lab"}' })).toEqual([]);
      expect(await data(url, '/api/v1/label/site/values', {})).toEqual(['lab']);
      expect(await data(url, '/api/v1/label/site/values', { 'match[]': 'up{site="other"}' })).toEqual([]);
      expect(await data(url, '/api/v1/label/replica/values', {})).toEqual([]);
    });
  }

  it('with keep_external_labels both transports give the same answers', async () => {
    for (const query of [...QUERIES, ...KEPT_QUERIES.map(([q]) => q)]) {
      const range = { query, start: String(start + 600), end: String(end), step: '60' };
      const [rr, json] = await Promise.all(['kept remote read', 'kept JSON API'].map((t) => ask(proxies[t].url, '/api/v1/query_range', range)));
      expect(sameData(rr, json), query).toBeUndefined();
    }
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
