// The rest of Prometheus's HTTP API end to end: ./proxy over two server groups of Prometheus 2.42
// (each holding part of a backfilled data set that ends a minute and a half ago, and scraping its
// own exporter) answers /series, /labels, /label/:name/values, /metadata and /federate like a
// reference Prometheus holding all the data and scraping both exporters; promtool gets the same
// output from both; errors match the reference's. A second proxy with a group that is down shows
// the warnings, the self-metrics, the request log and /status, and never a secret.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillTsdb, findPromtool, generateBackfillData, type BackfillDataSet } from '../../dev/backfill.js';
import { freePort, startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { compareLabels, labelsFromRecord } from '../../src/model/labels.js';
import { parseExposition } from '../../src/shard/textparse/parse.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const execFileAsync = promisify(execFile);
const MIN = 60_000;

const EXPORTER_A = `# HELP widget_count Widgets in stock.
# TYPE widget_count gauge
widget_count{kind="round"} 3
widget_count{kind="square"} 5
# HELP shared_total A counter both exporters have.
# TYPE shared_total counter
shared_total 7
# HELP common_info Same everywhere.
# TYPE common_info gauge
common_info 1
`;
const EXPORTER_B = `# HELP gadget_seconds Time spent on gadgets.
# TYPE gadget_seconds gauge
gadget_seconds 0.25
# HELP shared_total The other help of the shared counter.
# TYPE shared_total counter
shared_total 9
# HELP common_info Same everywhere.
# TYPE common_info gauge
common_info 1
`;

const SECRETS = ['SECRET-HDR-1', 'SECRET-QP-2', 'SECRET-PW-3', 'SECRET-TOKEN-4'];

/** The series of `data` whose labels satisfy `keep`. */
function subset(data: BackfillDataSet, keep: (l: Record<string, string>) => boolean): BackfillDataSet {
  return { ...data, families: data.families.map((f) => ({ ...f, series: f.series.filter((s) => keep(s.labels)) })).filter((f) => f.series.length > 0) };
}

function scrapeConfig(jobs: [string, Upstream][]): string {
  const jobsYaml = jobs
    .map(
      ([name, up]) => `  - job_name: ${name}\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs: [{targets: ["${new URL(up.url).host}"]}]\n`,
    )
    .join('');
  return `global:\n  evaluation_interval: 1m\nscrape_configs:\n${jobsYaml}`;
}

function startServer(data: BackfillDataSet, jobs: [string, Upstream][]): Promise<PrometheusProcess> {
  findPromtool();
  return startPrometheus({
    configYaml: scrapeConfig(jobs),
    extraArgs: ['--storage.tsdb.retention.time=100y', '--query.lookback-delta=5m', '--log.level=warn'],
    prepareDataDir: (dir) => backfillTsdb(data, dir),
  });
}

interface Answer {
  status: number;
  type: string | null;
  text: string;
  json: any;
}

async function request(base: string, path: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get('content-type'), text, json };
}

const qs = (params: [string, string][]) => new URLSearchParams(params).toString();
const form = (params: [string, string][]): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: qs(params),
});

/** Parsed text exposition: families in order, each with its samples as sorted lines. */
function parseFederation(text: string): { name: string; samples: string[] }[] {
  const families: { name: string; samples: string[] }[] = [];
  parseExposition(text, 'text', {
    family: (meta) => families.push({ name: meta.name, samples: [] }),
    sample: (s) => {
      const pairs: string[] = [];
      for (let i = 0; i < s.labels.length; i += 2) pairs.push(`${s.labels[i]}=${JSON.stringify(s.labels[i + 1])}`);
      families[families.length - 1].samples.push(`${s.name}{${pairs.sort().join(',')}} ${s.valueText} ${s.timestampMs}`);
    },
  });
  for (const f of families) f.samples.sort();
  return families;
}

/** Samples of one metric family from a /metrics text: labels (as a record) and value. */
function metricSamples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  parseExposition(text, 'text', {
    family: () => {},
    sample: (s) => {
      if (s.name !== name) return;
      const labels: Record<string, string> = {};
      for (let i = 0; i < s.labels.length; i += 2) labels[s.labels[i]] = s.labels[i + 1]!;
      out.push({ labels, value: s.value });
    },
  });
  return out;
}

function metricValue(text: string, name: string, want: Record<string, string>): number | undefined {
  const hits = metricSamples(text, name).filter((s) => Object.entries(want).every(([k, v]) => s.labels[k] === v));
  return hits.length === 0 ? undefined : hits.reduce((a, s) => a + s.value, 0);
}

describe('series, labels, metadata and federation over two server groups', () => {
  let upA: Upstream;
  let upB: Upstream;
  let ref: PrometheusProcess;
  let promA: PrometheusProcess;
  let promB: PrometheusProcess;
  let proxy: ProxyProcess;
  let proxy2: ProxyProcess;
  let data: BackfillDataSet;
  let promtool: string;
  const sec = (ms: number) => String(ms / 1000);

  beforeAll(async () => {
    promtool = findPromtool();
    // Data that is current, so /federate (which evaluates at "now") sees it.
    const end = Math.floor((Date.now() - 90_000) / 1000) * 1000;
    data = generateBackfillData({ startMs: end - 2 * 60 * MIN, endMs: end, seed: 7 });
    const inA = (l: Record<string, string>) => l.job === 'api' || l.job === 'sensors';
    upA = await startUpstream(EXPORTER_A);
    upB = await startUpstream(EXPORTER_B);
    [ref, promA, promB] = await Promise.all([
      startServer(data, [
        ['exporter-a', upA],
        ['exporter-b', upB],
      ]),
      startServer(subset(data, inA), [['exporter-a', upA]]),
      startServer(
        subset(data, (l) => !inA(l)),
        [['exporter-b', upB]],
      ),
    ]);
    const dead = await freePort();
    const host = (p: PrometheusProcess) => `127.0.0.1:${p.port}`;
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: warn
query:
  semantics: prometheus-2
  server_groups:
    - name: a
      static_configs: [{targets: ["${host(promA)}"]}]
    - name: b
      static_configs: [{targets: ["${host(promB)}"]}]
`,
    );
    proxy2 = await startProxy(
      (listen) => `
listen: ${listen}
log_level: info
shard:
  num_shards: 1
  scrape_interval: 1m
  sources:
    - url: ${upA.url}
      basic_auth: {username: prom, password: SECRET-PW-3}
    - url: ${upB.url}
      bearer_token: SECRET-TOKEN-4
query:
  semantics: prometheus-2
  server_groups:
    - name: a
      static_configs: [{targets: ["${host(promA)}"]}]
      http_headers: {Authorization: "Bearer SECRET-HDR-1", X-Scope-OrgID: tenant-1}
      query_params: {access_token: SECRET-QP-2}
    - name: down
      static_configs: [{targets: ["127.0.0.1:${dead}"]}]
      ignore_error: true
      timeout: 2s
`,
      { args: ['--log.format=json'] },
    );
    // Every server has scraped its exporters and knows their metadata.
    const ready = async (p: PrometheusProcess, jobs: number) => {
      const up = await request(p.url, `/api/v1/query?query=${encodeURIComponent('up{job=~"exporter-.*"} == 1')}`);
      const md = await request(p.url, '/api/v1/metadata');
      return up.json?.data?.result?.length === jobs && Object.keys(md.json?.data ?? {}).length === jobs + 2;
    };
    await waitFor(async () => (await ready(ref, 2)) && (await ready(promA, 1)) && (await ready(promB, 1)), 30_000, 'scrapes and metadata');
  }, 180_000);

  afterAll(async () => {
    await proxy?.stop();
    await proxy2?.stop();
    await Promise.all([ref, promA, promB].filter(Boolean).map((p) => p.stop()));
    await upA?.close();
    await upB?.close();
  });

  /** The same request to the reference and to the proxy; both must succeed. */
  async function both(path: string, init?: RequestInit): Promise<[Answer, Answer]> {
    const [r, p] = await Promise.all([request(ref.url, path, init), request(proxy.url, path, init)]);
    expect(r.json?.status, `reference ${path}: ${r.text.slice(0, 300)}`).toBe('success');
    expect(p.json?.status, `proxy ${path}: ${p.text.slice(0, 300)}`).toBe('success');
    return [r, p];
  }

  const SERIES_MATCHES: [string, string][][] = [
    [['match[]', 'up']],
    [['match[]', 'http_requests_total{code="500",method="POST"}']],
    [
      ['match[]', '{job="sensors"}'],
      ['match[]', '{job="batch"}'],
    ],
    [
      ['match[]', '{__name__=~"queue_length|memory_usage_bytes"}'],
      ['match[]', 'queue_length{job="web"}'],
    ],
    [
      ['match[]', 'shared_total'],
      ['match[]', '{__name__=~"widget_count|gadget_seconds"}'],
    ],
    [['match[]', 'no_such_metric']],
    [['match[]', '{job=~".+"}']],
  ];

  it('/series equals the reference, in the same order, for GET and POST and time ranges', async () => {
    let compared = 0;
    for (const match of SERIES_MATCHES) {
      const ranges: [string, string][][] = [
        [],
        [
          ['start', sec(data.startMs + 30 * MIN)],
          ['end', sec(data.startMs + 50 * MIN)],
        ],
        [['start', sec(data.endMs - 10 * MIN)]],
      ];
      for (const range of ranges) {
        const params = [...match, ...range];
        for (const init of [undefined, form(params)]) {
          const path = init ? '/api/v1/series' : `/api/v1/series?${qs(params)}`;
          const [r, p] = await both(path, init);
          expect(p.json.data, `${path} ${init ? qs(params) : ''}`).toEqual(r.json.data);
          const sorted = [...p.json.data].sort((x: Record<string, string>, y: Record<string, string>) =>
            compareLabels(labelsFromRecord(x), labelsFromRecord(y)),
          );
          expect(p.json.data).toEqual(sorted);
          compared++;
        }
      }
    }
    expect(compared).toBe(SERIES_MATCHES.length * 6);
    // The whole data set and the exporters' series are there.
    const [, all] = await both(`/api/v1/series?${qs([['match[]', '{job=~".+"}']])}`);
    expect(all.json.data.length).toBeGreaterThan(data.seriesCount);
  });

  it('/series limit: ignored as Prometheus 2.42 ignores it (semantics: prometheus-2)', async () => {
    const [r, p] = await both(
      `/api/v1/series?${qs([
        ['match[]', 'http_requests_total'],
        ['limit', '5'],
      ])}`,
    );
    expect(r.json.data.length).toBeGreaterThan(5);
    expect(p.json).toEqual(r.json);
  });

  it('/labels and /label/:name/values equal the reference', async () => {
    const cases: [string, [string, string][]][] = [
      ['/api/v1/labels', []],
      ['/api/v1/labels', [['match[]', 'request_duration_seconds_bucket']]],
      [
        '/api/v1/labels',
        [
          ['match[]', 'up'],
          ['match[]', 'widget_count'],
        ],
      ],
      [
        '/api/v1/labels',
        [
          ['start', sec(data.startMs + 30 * MIN)],
          ['end', sec(data.startMs + 40 * MIN)],
        ],
      ],
      ['/api/v1/label/__name__/values', []],
      ['/api/v1/label/__name__/values', [['match[]', '{job="web"}']]],
      ['/api/v1/label/job/values', []],
      [
        '/api/v1/label/job/values',
        [
          ['match[]', 'up'],
          ['match[]', 'temperature_celsius'],
        ],
      ],
      [
        '/api/v1/label/instance/values',
        [
          ['match[]', '{job=~"api|batch"}'],
          ['start', sec(data.startMs + 30 * MIN)],
        ],
      ],
      ['/api/v1/label/le/values', []],
      ['/api/v1/label/kind/values', []],
      ['/api/v1/label/nosuch/values', []],
    ];
    for (const [path, params] of cases) {
      const [r, p] = await both(`${path}?${qs(params)}`);
      expect(p.text, `${path}?${qs(params)}`).toBe(r.text);
      if (path === '/api/v1/labels') {
        const [r2, p2] = await both(path, form(params));
        expect(p2.json.data).toEqual(r2.json.data);
      }
    }
    const [r] = await both('/api/v1/label/__name__/values');
    expect(r.json.data).toContain('widget_count');
    expect(r.json.data).toContain('gadget_seconds');
    // 2.42 ignores limit, and so does the proxy in prometheus-2 mode.
    const [rl, pl] = await both('/api/v1/label/__name__/values?limit=3');
    expect(rl.json.data.length).toBeGreaterThan(3);
    expect(pl.json).toEqual(rl.json);
  });

  it("/metadata is the union of the groups' metadata, equal to the reference's", async () => {
    const asSets = (d: Record<string, { type: string; help: string; unit: string }[]>) =>
      Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v.map((m) => JSON.stringify(m)).sort()]));
    const [r, p] = await both('/api/v1/metadata');
    expect(Object.keys(p.json.data)).toEqual(Object.keys(r.json.data).sort());
    expect(asSets(p.json.data)).toEqual(asSets(r.json.data));
    expect(p.json.data.shared_total.length).toBe(2); // two helps, one from each group
    expect(p.json.data.common_info.length).toBe(1); // identical in both: once
    const [r1, p1] = await both('/api/v1/metadata?metric=shared_total');
    expect(asSets(p1.json.data)).toEqual(asSets(r1.json.data));
    const one = await request(proxy.url, '/api/v1/metadata?limit=1');
    expect(Object.keys(one.json.data)).toEqual([Object.keys(r.json.data).sort()[0]]);
    const perMetric = await request(proxy.url, '/api/v1/metadata?metric=shared_total&limit_per_metric=1');
    expect(perMetric.json.data.shared_total.length).toBe(1);
    expect(r.json.data.shared_total).toContainEqual(perMetric.json.data.shared_total[0]);
  });

  it('/federate gives what the reference gives at the same moment', async () => {
    const queries: [string, string][][] = [
      [['match[]', '{job=~"api|web|sensors|batch"}']],
      [
        ['match[]', 'up{job=~"api|web"}'],
        ['match[]', '{__name__=~"memory_usage_bytes|temperature_celsius"}'],
        ['match[]', 'queue_length{job="web"}'],
      ],
      [['match[]', 'batch_processed_total']],
    ];
    for (const q of queries) {
      const path = `/federate?${qs(q)}`;
      // Federation evaluates at "now": a series can cross the edge of the lookback window between
      // two requests. The proxy's answer is checked when the reference answered the same before
      // and after it.
      let checked = false;
      for (let attempt = 0; attempt < 5 && !checked; attempt++) {
        const before = await request(ref.url, path);
        const got = await request(proxy.url, path);
        const after = await request(ref.url, path);
        if (before.text !== after.text) continue;
        expect(got.status).toBe(200);
        expect(got.type).toBe(before.type);
        const want = parseFederation(before.text);
        expect(want.length).toBeGreaterThan(0);
        expect(parseFederation(got.text), path).toEqual(want);
        checked = true;
      }
      expect(checked, `${path}: the reference kept changing`).toBe(true);
    }
    const [, p] = await Promise.all([request(ref.url, '/federate'), request(proxy.url, '/federate')]);
    expect(p.status).toBe(200);
    expect(p.text).toBe('');
  });

  it('promtool query series and labels print the same against the proxy as against the reference', async () => {
    const runs: string[][] = [
      ['query', 'series', '--match=up'],
      ['query', 'series', '--match=http_requests_total{code="500"}', '--match=queue_length'],
      ['query', 'series', '--match={job="batch"}', `--start=${sec(data.startMs + 30 * MIN)}`, `--end=${sec(data.startMs + 60 * MIN)}`],
      ['query', 'labels', 'job'],
      ['query', 'labels', '__name__'],
      ['query', 'labels', '--match=temperature_celsius', 'instance'],
    ];
    for (const args of runs) {
      // The server is the first positional argument after the flags.
      const withServer = (url: string) => {
        const flags = args.filter((a) => a.startsWith('--'));
        const pos = args.filter((a) => !a.startsWith('--'));
        return [...pos.slice(0, 2), ...flags, url, ...pos.slice(2)];
      };
      const r = await execFileAsync(promtool, withServer(ref.url));
      const p = await execFileAsync(promtool, withServer(proxy.url));
      expect(r.stdout.length, args.join(' ')).toBeGreaterThan(0);
      expect(p.stdout, args.join(' ')).toBe(r.stdout);
      expect(p.stderr).toBe(r.stderr);
    }
  });

  it('Grafana-like requests: POST forms, label browsing with a time range, buildinfo', async () => {
    // Prometheus answers label lookups per block and head: a range that reaches the end of a
    // server's backfilled block also takes in its head (the exporter's series), and where that
    // block ends differs between the reference and the groups. Stay clear of the data's end.
    const range: [string, string][] = [
      ['start', sec(data.endMs - 60 * MIN)],
      ['end', sec(data.endMs - 10 * MIN)],
    ];
    const [r1, p1] = await both('/api/v1/labels', form(range));
    expect(p1.json.data).toEqual(r1.json.data);
    const [r2, p2] = await both(`/api/v1/label/__name__/values?${qs(range)}`);
    expect(p2.json.data).toEqual(r2.json.data);
    const [r3, p3] = await both('/api/v1/series', form([['match[]', 'cpu_seconds_total{mode="idle"}'], ...range]));
    expect(p3.json.data).toEqual(r3.json.data);
    const [r4, p4] = await both(`/api/v1/label/mode/values?${qs([['match[]', 'cpu_seconds_total'], ...range])}`);
    expect(p4.json.data).toEqual(r4.json.data);
    const [r5, p5] = await both(
      '/api/v1/query',
      form([
        ['query', 'count(up{job=~"api|web"})'],
        ['time', sec(data.endMs)],
      ]),
    );
    expect(p5.json.data).toEqual(r5.json.data);
    const [r6, p6] = await both('/api/v1/status/buildinfo');
    expect(Object.keys(p6.json.data).sort()).toEqual(Object.keys(r6.json.data).sort());
  });

  it("errors have the reference's status, type and text", async () => {
    const cases: [string, RequestInit?][] = [
      ['/api/v1/series'],
      ['/api/v1/series', form([])],
      ['/api/v1/series?match[]=up&start=yesterday'],
      ['/api/v1/series?match[]=up&end=2024-13-01T00:00:00Z'],
      ['/api/v1/series?match[]=up('],
      [`/api/v1/series?${qs([['match[]', '{job=""}']])}`],
      [`/api/v1/series?${qs([['match[]', 'up[5m]']])}`],
      ['/api/v1/labels?start=x'],
      ['/api/v1/labels?match[]=up('],
      [`/api/v1/labels?${qs([['match[]', '{}']])}`],
      ['/api/v1/label/a-b/values'],
      ['/api/v1/label/0abc/values'],
      ['/api/v1/label/job/values?end=abc'],
      ['/api/v1/label/job/values?match[]=sum(up)'],
      ['/api/v1/metadata?limit=x'],
      ['/api/v1/label/job/values', { method: 'POST' }],
      ['/federate?match[]=up('],
      ['/federate', { method: 'POST' }],
    ];
    for (const [path, init] of cases) {
      const [r, p] = await Promise.all([request(ref.url, path, init), request(proxy.url, path, init)]);
      const what = `${init?.method ?? 'GET'} ${path}`;
      expect(r.status, what).toBeGreaterThanOrEqual(400);
      expect(p.status, what).toBe(r.status);
      expect(p.text, what).toBe(r.text);
      expect(p.type, what).toBe(r.type);
    }
  });

  it('a group that is down: warnings; self-metrics count requests; series lookups read no samples', async () => {
    const series = `/api/v1/series?${qs([['match[]', 'up']])}`;
    for (let i = 0; i < 3; i++) {
      const r = await request(proxy2.url, series);
      expect(r.json.status).toBe('success');
      expect(r.json.warnings).toHaveLength(1);
      expect(r.json.warnings[0]).toMatch(/^server group "down" failed: target "http:\/\/127\.0\.0\.1:\d+": request failed/);
    }
    for (let i = 0; i < 2; i++) expect((await request(proxy2.url, '/api/v1/labels')).json.status).toBe('success');
    expect((await request(proxy2.url, '/api/v1/series?match[]=up(')).status).toBe(400);
    const fed = await request(proxy2.url, `/federate?${qs([['match[]', 'up{job="api"}']])}`);
    expect(fed.status).toBe(200);
    expect(fed.text).toMatch(/^# TYPE up untyped\n/);

    const metrics = (await request(proxy2.url, '/metrics')).text;
    expect(metricValue(metrics, 'promfront_query_requests_total', { type: 'series', outcome: 'success' })).toBe(3);
    expect(metricValue(metrics, 'promfront_query_requests_total', { type: 'series', outcome: 'bad_data' })).toBe(1);
    expect(metricValue(metrics, 'promfront_query_requests_total', { type: 'labels', outcome: 'success' })).toBe(2);
    expect(metricValue(metrics, 'promfront_query_requests_total', { type: 'federate', outcome: 'success' })).toBe(1);
    expect(metricValue(metrics, 'promfront_query_duration_seconds_count', { type: 'series' })).toBe(4);
    expect(metricValue(metrics, 'promfront_query_warnings_total', { type: 'series' })).toBe(3);
    expect(metricValue(metrics, 'promfront_query_samples_loaded_total', { type: 'federate' })).toBeGreaterThan(0);
    expect(metricValue(metrics, 'promfront_query_downstream_requests_total', { group: 'a', endpoint: 'series', outcome: 'success' })).toBe(3);
    expect(metricValue(metrics, 'promfront_query_downstream_requests_total', { group: 'a', endpoint: 'labels', outcome: 'success' })).toBe(2);
    expect(metricValue(metrics, 'promfront_query_downstream_requests_total', { group: 'down', endpoint: 'series', outcome: 'error' })).toBe(3);
    // 3 series + 2 labels + 1 federate (read) + the external-label lookup (status/config) before the first read
    expect(metricValue(metrics, 'promfront_query_downstream_errors_total', { group: 'down', kind: 'connection' })).toBe(7);
    // Series came from the downstream's /api/v1/series: the only sample reads were federation's.
    // (a remote read: Prometheus serves it, and remote_read is unset).
    expect(metricValue(metrics, 'promfront_query_downstream_requests_total', { group: 'a', endpoint: 'read' })).toBe(1);
    expect(metricValue(metrics, 'promfront_query_downstream_requests_total', { group: 'a', endpoint: 'query' })).toBeUndefined();
    expect(metricValue(metrics, 'promfront_query_samples_loaded_total', { type: 'series' })).toBeUndefined();
    expect(metricValue(metrics, 'promfront_query_downstream_request_duration_seconds_count', { group: 'a', endpoint: 'series' })).toBe(3);
    expect(metricValue(metrics, 'promfront_query_downstream_response_bytes_total', { group: 'a', endpoint: 'series' })).toBeGreaterThan(100);
    // The shard metrics are still there.
    expect(metrics).toMatch(/^promfront_start_time_seconds /m);

    const status = (await request(proxy2.url, '/status')).json;
    expect(status.num_shards).toBe(1);
    const [a, down] = status.query.groups;
    expect(a).toMatchObject({ name: 'a', ignore_error: false });
    expect(a.targets).toEqual([expect.objectContaining({ url: `http://127.0.0.1:${promA.port}`, errors: 0, last_error: null })]);
    expect(a.targets[0].requests).toBeGreaterThanOrEqual(6);
    expect(down).toMatchObject({ name: 'down', ignore_error: true });
    expect(down.targets[0].errors).toBe(7); // with the external-label lookup before the first read
    expect(down.targets[0].last_error).toMatch(/request failed/);
  });

  it('the request log has one line per API request with what was asked and what it cost', async () => {
    await request(
      proxy2.url,
      `/api/v1/query?${qs([
        ['query', 'sum(up{job="web"})'],
        ['time', sec(data.endMs)],
      ])}`,
    );
    await waitFor(async () => proxy2.logs().includes('sum(up{job=\\"web\\"})'), 5_000, 'the request log line');
    const lines = proxy2
      .logs()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'query api request');
    const query = lines.find((l) => l.query === 'sum(up{job="web"})');
    expect(query).toMatchObject({ level: 'info', component: 'query', endpoint: '/api/v1/query', type: 'instant', status: 200, groups: ['a', 'down'] });
    // The warning itself, not a count: which group was left out and why.
    expect(query.warnings).toEqual([expect.stringMatching(/down/)]);
    expect(query.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(query.duration_ms).toBeGreaterThan(0);
    const fed = lines.find((l) => l.endpoint === '/federate');
    expect(fed).toMatchObject({ type: 'federate', match: ['up{job="api"}'], status: 200, groups: ['a', 'down'] });
    expect(fed.samples).toBeGreaterThan(0);
    const bad = lines.find((l) => l.status === 400);
    expect(bad).toMatchObject({ endpoint: '/api/v1/series', error_type: 'bad_data', match: ['up('] });
    expect(lines.filter((l) => l.endpoint === '/api/v1/series').length).toBeGreaterThanOrEqual(4);
  });

  it('no secret in /api/v1/status/config, /status, /metrics or the log', async () => {
    const config = await request(proxy2.url, '/api/v1/status/config');
    expect(config.status).toBe(200);
    const yaml: string = config.json.data.yaml;
    expect(yaml).toContain('Authorization: <secret>');
    expect(yaml).toContain('access_token: <secret>');
    expect(yaml).toContain('password: <secret>');
    expect(yaml).toContain('bearer_token: <secret>');
    expect(yaml).toContain('X-Scope-OrgID: tenant-1');
    const texts = [config.text, (await request(proxy2.url, '/status')).text, (await request(proxy2.url, '/metrics')).text, proxy2.logs()];
    for (const t of texts) for (const s of SECRETS) expect(t).not.toContain(s);
    // The reference's answer has the same shape.
    const r = await request(ref.url, '/api/v1/status/config');
    expect(Object.keys(r.json.data)).toEqual(Object.keys(config.json.data));
  });
});
