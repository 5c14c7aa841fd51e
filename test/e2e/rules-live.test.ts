// Recording and alerting rules, live: the same rule file evaluated by a reference Prometheus 2.42
// that scrapes every series, and by ./proxy over two server groups (one Prometheus each, each
// scraping half of the series), for 20+ evaluation cycles of 1 s. promfront writes its results to
// a receiving Prometheus (--web.enable-remote-write-receiver) and its alerts to a real
// Alertmanager 0.25.
//
// Proves: every recorded sample (value and timestamp) in the receiver equals the reference's
// (same schedule offset, same values, including a rule that reads a series recorded earlier in
// the same group); ALERTS and ALERTS_FOR_STATE go pending and firing at the same evaluations;
// external labels are added; Alertmanager shows the firing alert with expanded labels and
// annotations, and then gets its resolution.
//
// The exporter's values are constant so that scrape timing does not matter; the alert's condition
// changes with time() (`vector(time() % 30) >= 15`) so that both evaluators see it start at the same
// evaluation.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answers200, freePort, startPrometheus, terminate, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';
const ALERTMANAGER_MISSING = 'prometheus-alertmanager not found: install it with `apt-get install -y prometheus-alertmanager` (Debian)';

const EXPOSITION: Record<string, string> = {
  '/a': ['demo_inflight{path="/x",code="200"} 3', 'demo_inflight{path="/y",code="500"} 4.5', 'demo_inflight{path="/z",code="200"} 7'].join('\n') + '\n',
  '/b': ['demo_inflight{path="/x",code="200"} 11', 'demo_inflight{path="/w",code="404"} 0.25'].join('\n') + '\n',
};
const SERIES = 5;

const RULES = `groups:
  - name: live
    rules:
      - record: job:demo_inflight:sum
        expr: sum by (job) (demo_inflight)
      - record: code:demo_inflight:max
        expr: max by (code) (demo_inflight)
        labels: {tier: fleet}
      - record: demo:total
        expr: sum(demo_inflight) + count(demo_inflight)
      - record: demo:job_share
        expr: job:demo_inflight:sum / scalar(sum(job:demo_inflight:sum))
      - record: demo:clock
        expr: time() % 20
      - alert: DemoWindow
        expr: sum by (job) (demo_inflight) > 0 and on() (vector(time() % 30) >= 15)
        for: 3s
        labels: {severity: "{{ if gt $value 12.0 }}high{{ else }}low{{ end }}"}
        annotations: {summary: "job {{ $labels.job }} at {{ $value | humanize }}"}
`;

type RawSeries = { metric: Record<string, string>; values: [number, string][] };

/** name{labels} -> "t=v" list, with the label `drop` removed. */
function byKey(series: RawSeries[], drop?: string, from = -Infinity, to = Infinity): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of series) {
    const m = { ...s.metric };
    if (drop) delete m[drop];
    const key = JSON.stringify(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1)));
    const vals = s.values.filter(([t]) => t >= from && t <= to).map(([t, v]) => `${t.toFixed(3)}=${v}`);
    if (vals.length > 0) out.set(key, vals);
  }
  return out;
}

describe('rules evaluated by promfront equal a reference Prometheus', () => {
  const dir = mkdtempSync(join(tmpdir(), 'promfront-rules-live-'));
  const rulesFile = join(dir, 'rules.yml');
  let exporter: Server;
  let downstreams: PrometheusProcess[] = [];
  let reference: PrometheusProcess | undefined;
  let receiver: PrometheusProcess | undefined;
  let am: ChildProcess | undefined;
  let amUrl = '';
  let proxy: ProxyProcess | undefined;

  beforeAll(async () => {
    writeFileSync(rulesFile, RULES);
    exporter = createServer((req, res) => {
      const body = EXPOSITION[req.url ?? ''];
      res.writeHead(body ? 200 : 404, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(body ?? '');
    });
    await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
    const exporterAddr = `127.0.0.1:${(exporter.address() as { port: number }).port}`;
    const job = (name: string) => `  - job_name: ${name}\n    metrics_path: /${name}\n    static_configs: [{targets: ["${exporterAddr}"]}]\n`;
    const global = 'global: {scrape_interval: 1s, evaluation_interval: 1s}\n';

    const amPort = await freePort();
    const amDir = join(dir, 'am');
    writeFileSync(join(dir, 'am.yml'), 'route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n');
    try {
      const started = spawn(
        ALERTMANAGER,
        [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${amDir}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address='],
        {
          stdio: 'ignore',
        },
      );
      await new Promise<void>((resolve, reject) => {
        started.once('spawn', resolve);
        started.once('error', reject);
      });
      am = started;
    } catch {
      throw new Error(ALERTMANAGER_MISSING);
    }
    amUrl = `http://127.0.0.1:${amPort}`;

    [downstreams, reference, receiver] = await Promise.all([
      Promise.all(['a', 'b'].map((n) => startPrometheus({ configYaml: `${global}scrape_configs:\n${job(n)}` }))),
      startPrometheus({ configYaml: `${global}rule_files: [${JSON.stringify(rulesFile)}]\nscrape_configs:\n${job('a')}${job('b')}` }),
      startPrometheus({ configYaml: 'global: {}\n', extraArgs: ['--web.enable-remote-write-receiver'] }),
    ]);
    await waitFor(() => answers200(`${amUrl}/-/ready`), 30_000, 'alertmanager ready');
    await waitFor(
      async () => {
        const counts = await Promise.all([...downstreams, reference!].map(async (p) => Number((await p.query('count(demo_inflight)'))[0]?.value[1] ?? 0)));
        return counts[0] === 3 && counts[1] === 2 && counts[2] === SERIES;
      },
      30_000,
      'every Prometheus to have scraped',
    );
    // Start in the quiet part of the alert's 30 s window, so that no alert is active in the
    // reference yet when promfront's first evaluation comes (checked below).
    await waitFor(async () => Math.floor(Date.now() / 1000) % 30 < 2, 35_000, 'the start of a 30 s window', 50);
    proxy = await startProxy(
      (listen) => `listen: ${listen}
query:
  server_groups:
    - name: a
      static_configs: [{targets: ["127.0.0.1:${downstreams[0].port}"]}]
    - name: b
      static_configs: [{targets: ["127.0.0.1:${downstreams[1].port}"]}]
rule_files: [${JSON.stringify(rulesFile)}]
evaluation_interval: 1s
external_labels: {source: promfront}
remote_write:
  - url: ${receiver!.url}/api/v1/write
    queue_config: {batch_send_deadline: 100ms}
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:${amPort}"]}]
`,
    );
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([...downstreams, reference, receiver].map((p) => (p ? p.stop() : Promise.resolve())));
    if (am) await terminate(am, 5000);
    exporter?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records, alerts and notifies like Prometheus for 20+ evaluations', async () => {
    // Firing shows in Alertmanager with the expanded labels and annotations.
    let firing: { labels: Record<string, string>; annotations: Record<string, string>; endsAt: string }[] = [];
    await waitFor(
      async () => {
        const res = await fetch(`${amUrl}/api/v2/alerts`);
        firing = ((await res.json()) as typeof firing).filter((a) => a.labels.alertname === 'DemoWindow');
        return firing.length === 2;
      },
      35_000,
      'DemoWindow firing in Alertmanager',
      250,
    );
    const byJob = Object.fromEntries(firing.map((a) => [a.labels.job, a]));
    expect(byJob.a.labels).toEqual({ alertname: 'DemoWindow', job: 'a', severity: 'high', source: 'promfront' });
    expect(byJob.a.annotations).toEqual({ summary: 'job a at 14.5' });
    expect(byJob.b.labels.severity).toBe('low');
    expect(byJob.b.annotations).toEqual({ summary: 'job b at 11.25' });
    // /api/v1/alerts and /api/v1/rules show them in Prometheus's shape.
    const alertsApi = (await (await fetch(`${proxy!.url}/api/v1/alerts`)).json()) as {
      data: { alerts: { state: string; labels: Record<string, string>; value: string }[] };
    };
    expect(alertsApi.data.alerts.map((a) => `${a.labels.job}:${a.state}:${a.value}`).sort()).toEqual(['a:firing:1.45e+01', 'b:firing:1.125e+01']);
    const rulesApi = (await (await fetch(`${proxy!.url}/api/v1/rules?type=alert`)).json()) as {
      data: { groups: { name: string; rules: { name: string; state: string; health: string; type: string }[] }[] };
    };
    expect(rulesApi.data.groups[0].rules.map((r) => [r.name, r.state, r.health, r.type])).toEqual([['DemoWindow', 'firing', 'ok', 'alerting']]);

    // The window closes at the next multiple of 30 s: the resolution reaches Alertmanager (its
    // endsAt moves from the resend validity into the past).
    await waitFor(
      async () => {
        const res = await fetch(`${amUrl}/api/v2/alerts`);
        const all = ((await res.json()) as typeof firing).filter((a) => a.labels.alertname === 'DemoWindow');
        return all.length === 0 || all.every((a) => Date.parse(a.endsAt) <= Date.now());
      },
      25_000,
      'DemoWindow resolved in Alertmanager',
      250,
    );

    // At least 20 evaluations written, then compare everything the receiver holds with the reference.
    await waitFor(
      async () => {
        const r = (await receiver!.query('count_over_time(demo:clock[2m])')) as { value: [number, string] }[];
        return Number(r[0]?.value[1] ?? 0) >= 22;
      },
      30_000,
      '22 evaluations in the receiver',
    );
    await new Promise((r) => setTimeout(r, 1500)); // the last batch in flight
    const names = 'job:demo_inflight:sum|code:demo_inflight:max|demo:total|demo:job_share|demo:clock|ALERTS|ALERTS_FOR_STATE';
    const at = Date.now() / 1000;
    const ours = (await receiver!.query(`{__name__=~"${names}"}[2m]`, at)) as RawSeries[];
    for (const s of ours) expect(s.metric.source, JSON.stringify(s.metric)).toBe('promfront');
    const times = [...new Set(ours.flatMap((s) => s.values.map(([t]) => t)))].sort((a, b) => a - b);
    const from = times[0];
    expect(from % 30, 'promfront started too late: its first evaluation came after the alert window opened').toBeLessThan(15);
    const to = times[times.length - 1] - 1; // the reference may not have evaluated the very last slot yet
    const theirs = (await reference!.query(`{__name__=~"${names}"}[2m]`, at)) as RawSeries[];
    const want = byKey(theirs, undefined, from, to);
    const got = byKey(ours, 'source', from, to);
    expect(got.size).toBeGreaterThanOrEqual(9);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, v] of want) expect(got.get(k), k).toEqual(v);
    // The alert went through pending and firing in that stretch.
    const states = new Set(ours.filter((s) => s.metric.__name__ === 'ALERTS').map((s) => s.metric.alertstate));
    expect([...states].sort()).toEqual(['firing', 'pending']);
    // The series of the clock is complete: one sample per second, 20 and more.
    const clock = got.get(JSON.stringify([['__name__', 'demo:clock']]))!;
    expect(clock.length).toBeGreaterThanOrEqual(20);
  }, 120_000);
});
