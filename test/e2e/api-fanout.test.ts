// The endpoints answered from the downstreams' own answers (/rules, /alerts, /targets,
// /targets/metadata, /alertmanagers, /status/tsdb, /query_exemplars) compared with Prometheus
// 2.42's answer to the same request. Two Prometheus replicas scrape one OpenMetrics exporter (with
// exemplars) and evaluate one rules file; a proxy over the HA pair (plus a dead third replica) must
// answer as one of them does, a proxy with each replica as its own group must list each target once
// per group and sum the TSDB counts.
//
// Fields compared modulo: evaluationTime, lastEvaluation, lastScrape, lastScrapeDuration (they move
// with every evaluation and scrape, so two requests a moment apart differ), an alert's activeAt
// (each replica started the alert at its own evaluation; the merge keeps the earliest, checked on
// its own), and the `serverGroup` field promfront adds to targets.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { startProxy, writeTemp, type ProxyProcess } from '../support/proxy.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const EXEMPLAR_TS = 1_700_000_000;

const EXPOSITION = `# TYPE demo_requests counter
# HELP demo_requests Requests served.
demo_requests_total{path="/a"} 10 # {trace_id="abc"} 1.0 ${EXEMPLAR_TS}.000
demo_requests_total{path="/b"} 5 # {trace_id="def"} 2.5 ${EXEMPLAR_TS + 1}.500
# TYPE demo_temp_celsius gauge
# UNIT demo_temp_celsius celsius
# HELP demo_temp_celsius A temperature & <more>.
demo_temp_celsius{room="lab"} 21.5
demo_temp_celsius{room="hall"} 18
# EOF
`;

const RULES = `groups:
  - name: demo-records
    interval: 1s
    rules:
      - record: room:demo_temp_celsius:max
        expr: max by (room) (demo_temp_celsius)
      - record: demo:requests:sum
        expr: sum(demo_requests_total)
        labels: {source: rules}
  - name: demo-alerts
    interval: 1s
    rules:
      - alert: Warm
        expr: demo_temp_celsius > 20
        labels: {severity: page}
        annotations: {summary: "{{ $labels.room }} is at {{ $value }}"}
      - alert: SlowlyWarm
        expr: demo_temp_celsius > 10
        for: 1h
      - alert: Freezing
        expr: demo_temp_celsius < -10
`;

const VOLATILE = new Set(['evaluationTime', 'lastEvaluation', 'lastScrape', 'lastScrapeDuration', 'activeAt', 'serverGroup']);

/** A copy without the fields that move between two requests (see the top of the file). */
function stable(x: any): any {
  if (Array.isArray(x)) return x.map(stable);
  if (x === null || typeof x !== 'object') return x;
  return Object.fromEntries(Object.entries(x).flatMap(([k, v]) => (VOLATILE.has(k) ? [] : [[k, stable(v)]])));
}

/** Alerts in a fixed order: Prometheus lists a rule's alerts in its map's order. */
function sortAlerts(list: any[]): any[] {
  return [...list].sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
}

function normalRules(data: any): any {
  return stable({ groups: data.groups.map((g: any) => ({ ...g, rules: g.rules.map((r: any) => (r.alerts ? { ...r, alerts: sortAlerts(r.alerts) } : r)) })) });
}

async function getRaw(base: string, path: string): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), text };
}

async function get(base: string, path: string): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text), text };
  } catch {
    throw new Error(`${base}${path}: HTTP ${res.status}, not JSON: ${JSON.stringify(text.slice(0, 300))}`);
  }
}

describe('rules, alerts, targets, metadata, alertmanagers, tsdb and exemplars against Prometheus 2.42', () => {
  let exporter: Upstream;
  let replicas: PrometheusProcess[] = [];
  let ha: ProxyProcess;
  let split: ProxyProcess;

  beforeAll(async () => {
    exporter = await startUpstream(EXPOSITION, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    const rulesFile = writeTemp('rules.yml', RULES);
    const host = new URL(exporter.url).host;
    const dead = await freePort();
    const config = `global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [${rulesFile}]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:${dead}"]}]
scrape_configs:
  - job_name: demo
    metrics_path: ${new URL(exporter.url).pathname}
    static_configs: [{targets: ["${host}"], labels: {env: test}}, {targets: ["127.0.0.1:${dead}"], labels: {env: dropme}}]
    relabel_configs:
      - {source_labels: [env], regex: dropme, action: drop}
`;
    replicas = await Promise.all([0, 1].map(() => startPrometheus({ configYaml: config, extraArgs: ['--enable-feature=exemplar-storage'] })));
    // Every rule evaluated and the exporter scraped (with its exemplars) on both replicas.
    for (const p of replicas) {
      await waitFor(
        async () => {
          const r = await get(p.url, '/api/v1/query_exemplars?query=demo_requests_total&start=1699999999');
          const rules = await get(p.url, '/api/v1/rules');
          return r.body.data?.length === 2 && rules.body.data.groups.every((g: any) => g.rules.every((x: any) => x.health === 'ok'));
        },
        20_000,
        'exemplars scraped and rules evaluated',
      );
    }
    const group = (name: string, targets: string[]) =>
      `    - name: ${name}\n      static_configs: [{targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]}]\n`;
    [ha, split] = await Promise.all([
      startProxy(
        (listen) =>
          `listen: ${listen}\nlog_level: warn\nquery:\n  semantics: prometheus-2\n  server_groups:\n${group('ha', [...replicas.map((p) => `127.0.0.1:${p.port}`), `127.0.0.1:${dead}`])}`,
      ),
      startProxy(
        (listen) =>
          `listen: ${listen}\nlog_level: warn\nquery:\n  semantics: prometheus-2\n  server_groups:\n${group('a', [`127.0.0.1:${replicas[0].port}`])}${group('b', [`127.0.0.1:${replicas[1].port}`])}`,
      ),
    ]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([ha?.stop(), split?.stop()]);
    await Promise.all(replicas.map((p) => p.stop()));
    await exporter?.close();
  });

  it('/rules with every type filter: the HA pair answers as one replica, a dead replica is a warning', async () => {
    for (const q of ['', '?type=alert', '?type=record', '?type=ALERT']) {
      const [ref, got] = await Promise.all([get(replicas[0].url, `/api/v1/rules${q}`), get(ha.url, `/api/v1/rules${q}`)]);
      expect(got.status, q).toBe(200);
      expect(normalRules(got.body.data), q).toEqual(normalRules(ref.body.data));
      expect(got.body.warnings?.length, q).toBe(1);
      expect(got.body.warnings[0]).toMatch(/^server group "ha": target "http:\/\/127\.0\.0\.1:\d+" failed: /);
    }
    const bad = await Promise.all([get(replicas[0].url, '/api/v1/rules?type=bogus'), get(ha.url, '/api/v1/rules?type=bogus')]);
    expect(bad[1].status).toBe(bad[0].status);
    expect(bad[1].text).toBe(bad[0].text);
  });

  it('/rules keeps the earliest activeAt of a firing alert and every field of its rule', async () => {
    const [a, b, got] = await Promise.all([replicas[0].url, replicas[1].url, ha.url].map((u) => get(u, '/api/v1/rules?type=alert')));
    const warm = (d: any) => d.body.data.groups.find((g: any) => g.name === 'demo-alerts').rules.find((r: any) => r.name === 'Warm');
    const [wa, wb, wg] = [warm(a), warm(b), warm(got)];
    expect(wg.state).toBe('firing');
    expect(wg.alerts).toHaveLength(1);
    const earliest = [wa.alerts[0].activeAt, wb.alerts[0].activeAt].sort((x, y) => Date.parse(x) - Date.parse(y))[0];
    expect(wg.alerts[0].activeAt).toBe(earliest);
    expect(Object.keys(wg)).toEqual(Object.keys(wa));
  });

  it('/alerts: one per label set over the pair, as one replica lists them', async () => {
    const [ref, got] = await Promise.all([get(replicas[0].url, '/api/v1/alerts'), get(ha.url, '/api/v1/alerts')]);
    expect(stable(sortAlerts(got.body.data.alerts))).toEqual(stable(sortAlerts(ref.body.data.alerts)));
    expect(got.body.data.alerts.map((x: any) => x.state).sort()).toEqual(['firing', 'pending', 'pending']);
  });

  it('/targets (state any, active, dropped): each target once per group, named by serverGroup', async () => {
    for (const q of ['', '?state=active', '?state=dropped', '?state=any', '?state=nothing']) {
      const [ref, got, two] = await Promise.all([
        get(replicas[0].url, `/api/v1/targets${q}`),
        get(ha.url, `/api/v1/targets${q}`),
        get(split.url, `/api/v1/targets${q}`),
      ]);
      expect(stable(got.body.data), q).toEqual(stable(ref.body.data));
      for (const t of [...got.body.data.activeTargets, ...got.body.data.droppedTargets]) expect(t.serverGroup).toBe('ha');
      expect(
        two.body.data.activeTargets.map((t: any) => t.serverGroup),
        q,
      ).toEqual(ref.body.data.activeTargets.flatMap(() => ['a', 'b']).sort());
      expect(stable(two.body.data.activeTargets), q).toEqual(stable([...ref.body.data.activeTargets, ...ref.body.data.activeTargets]));
    }
    const ref = await get(replicas[0].url, '/api/v1/targets');
    expect(ref.body.data.activeTargets).toHaveLength(1);
    expect(ref.body.data.droppedTargets).toHaveLength(1);
  });

  it('/scrape_pools: the pools of every group once, sorted', async () => {
    const [ref, got, two] = await Promise.all([replicas[0].url, ha.url, split.url].map((u) => get(u, '/api/v1/scrape_pools')));
    expect(got.body.data).toEqual(ref.body.data);
    expect(two.text).toBe(ref.text);
    expect(ref.body.data.scrapePools).toEqual(['demo']);
  });

  it('/targets/metadata with metric, match_target and limit, and its errors', async () => {
    const cases: Record<string, string>[] = [
      {},
      { metric: 'demo_temp_celsius' },
      { match_target: '{job="demo"}' },
      { match_target: '{job="other"}' },
      { limit: '1' },
      { limit: '0' },
      { limit: 'x' },
      { match_target: '{job=~"("}' },
    ];
    for (const params of cases) {
      const q = new URLSearchParams(params).toString();
      const path = `/api/v1/targets/metadata?${q}`;
      const [ref, got] = await Promise.all([get(replicas[0].url, path), get(ha.url, path)]);
      expect(got.status, q).toBe(ref.status);
      if (ref.status !== 200) {
        expect(got.text, q).toBe(ref.text);
        continue;
      }
      const sorted = (l: any[]) => [...l].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
      expect(sorted(got.body.data), q).toEqual(sorted(ref.body.data));
    }
  });

  it('/alertmanagers and /status/tsdb: the pair as one replica; two groups summed', async () => {
    const [ref, got] = await Promise.all([get(replicas[0].url, '/api/v1/alertmanagers'), get(ha.url, '/api/v1/alertmanagers')]);
    expect(got.body.data).toEqual(ref.body.data);
    expect(ref.body.data.activeAlertmanagers).toHaveLength(1);

    const [a, b, pair, two] = await Promise.all([replicas[0].url, replicas[1].url, ha.url, split.url].map((u) => get(u, '/api/v1/status/tsdb')));
    const lists = ['seriesCountByMetricName', 'labelValueCountByLabelName', 'memoryInBytesByLabelName', 'seriesCountByLabelValuePair'];
    const byName = (l: any[]) => Object.fromEntries(l.map((s: any) => [s.name, s.value]));
    for (const l of lists) {
      expect(Object.keys(pair.body.data[l]).length, l).toBe(Object.keys(a.body.data[l]).length);
      // Both replicas hold the same series: the pair counts each once. Prometheus cuts its top 10
      // among equal counts in no set order, so names are compared above the lowest count listed.
      const values = (x: any) => x.map((e: any) => e.value as number);
      expect(values(pair.body.data[l]), l).toEqual(values(a.body.data[l]));
      const floor = Math.min(...values(a.body.data[l]));
      const above = (x: any) => byName(x.filter((e: any) => e.value > floor));
      expect(above(pair.body.data[l]), l).toEqual(above(a.body.data[l]));
      // Each replica lists its top 10 only: a name both list is summed exactly.
      const [na, nb, nt] = [byName(a.body.data[l]), byName(b.body.data[l]), byName(two.body.data[l])];
      const both = Object.keys(na).filter((k) => k in nb);
      expect(both.length, l).toBeGreaterThan(3);
      for (const k of both) if (k in nt) expect(nt[k], `${l} ${k}`).toBe(na[k] + nb[k]);
      expect(two.body.data[l].length, l).toBeLessThanOrEqual(10);
    }
    expect(Object.keys(pair.body.data.headStats)).toEqual(Object.keys(a.body.data.headStats));
    expect(pair.body.data.headStats.numSeries).toBe(a.body.data.headStats.numSeries);
    expect(two.body.data.headStats.numSeries).toBe(a.body.data.headStats.numSeries + b.body.data.headStats.numSeries);
    expect(two.body.data.headStats.minTime).toBe(Math.min(a.body.data.headStats.minTime, b.body.data.headStats.minTime));
  });

  it('/query_exemplars: the same exemplars as Prometheus, GET and POST, and its errors byte for byte', async () => {
    const cases: Record<string, string>[] = [
      { query: 'demo_requests_total', start: String(EXEMPLAR_TS - 1) },
      { query: 'demo_requests_total{path="/a"}', start: String(EXEMPLAR_TS - 1), end: String(EXEMPLAR_TS + 10) },
      { query: 'sum(rate(demo_requests_total[5m]))' },
      { query: 'demo_requests_total', start: String(EXEMPLAR_TS + 1) },
      { query: '1+1' },
      { query: 'demo_requests_total', start: '5', end: '4' },
      { query: 'sum(' },
      { query: 'up', start: 'yesterday' },
    ];
    for (const params of cases) {
      const q = new URLSearchParams(params).toString();
      const path = `/api/v1/query_exemplars?${q}`;
      const [ref, got] = await Promise.all([getRaw(replicas[0].url, path), getRaw(ha.url, path)]);
      expect(got.status, q).toBe(ref.status);
      if (ref.status === 204) expect(got.text, q).toBe('');
      else if (ref.status === 200) {
        expect(got.body.data, q).toEqual(ref.body.data);
        expect(got.body.status).toBe('success');
      } else expect(got.text, q).toBe(ref.text);
    }
    const post = await fetch(`${ha.url}/api/v1/query_exemplars`, {
      method: 'POST',
      body: new URLSearchParams({ query: 'demo_requests_total', start: String(EXEMPLAR_TS - 1) }),
    });
    const ref = await get(replicas[0].url, `/api/v1/query_exemplars?query=demo_requests_total&start=${EXEMPLAR_TS - 1}`);
    expect(((await post.json()) as any).data).toEqual(ref.body.data);
    expect(ref.body.data).toHaveLength(2);
  });

  it('stats=all and stats=1 on query and query_range: Prometheus\u2019s stats object (values are our own measures)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const shape = (x: any): any =>
      x !== null && typeof x === 'object' && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, shape(v)]))
        : Array.isArray(x)
          ? 'list'
          : typeof x;
    for (const q of [
      `/api/v1/query?query=demo_temp_celsius&time=${now}&stats=all`,
      `/api/v1/query?query=demo_temp_celsius&stats=1`,
      `/api/v1/query_range?query=demo_temp_celsius&start=${now - 10}&end=${now}&step=5&stats=1`,
    ]) {
      const [ref, got] = await Promise.all([get(replicas[0].url, q), get(ha.url, q)]);
      expect(Object.keys(got.body.data), q).toEqual(Object.keys(ref.body.data));
      expect(shape(got.body.data.stats), q).toEqual(shape(ref.body.data.stats));
      expect(got.body.data.stats.samples.totalQueryableSamples, q).toBeGreaterThan(0);
      expect(got.body.data.stats.timings.execTotalTime, q).toBeGreaterThan(0);
    }
    const plain = await get(ha.url, '/api/v1/query?query=demo_temp_celsius');
    expect(plain.body.data.stats).toBeUndefined();
  });

  it('/status/runtimeinfo, /status/flags and /status/buildinfo: promfront\u2019s own, in Prometheus\u2019s shapes', async () => {
    for (const p of ['runtimeinfo', 'buildinfo']) {
      const [ref, got] = await Promise.all([get(replicas[0].url, `/api/v1/status/${p}`), get(ha.url, `/api/v1/status/${p}`)]);
      expect(Object.keys(got.body.data), p).toEqual(Object.keys(ref.body.data));
      for (const k of Object.keys(ref.body.data)) expect(typeof got.body.data[k], `${p} ${k}`).toBe(typeof ref.body.data[k]);
    }
    const flags = await get(ha.url, '/api/v1/status/flags');
    expect(flags.body.data.config).toBe(ha.configFile);
    expect(flags.body.data['web.enable-lifecycle']).toBe('false');
    const rt = await get(ha.url, '/api/v1/status/runtimeinfo');
    expect(Date.parse(rt.body.data.startTime)).toBeLessThanOrEqual(Date.now());
    expect(rt.body.data.reloadConfigSuccess).toBe(true);
  });
});
