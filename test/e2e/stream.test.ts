// NATS JetStream federation end to end (issue 12): a real nats-server -js between an edge promfront
// (publish:) and a central one (a nats source of shard.sources), with real exporters, a real
// Prometheus on each path, outages of the centre and of NATS, dead targets, silent publishers and
// garbage on the subject.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { headers as natsHeaders, connect as natsConnect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { freePort, startPrometheus, terminate, trackChild, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { startNats, type NatsServer } from '../support/nats.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const FIXED = `# HELP app_requests_total Requests.
# TYPE app_requests_total counter
app_requests_total{code="200",path="/a"} 1027
app_requests_total{code="500",path="/a"} 3
# HELP app_latency_seconds Latency.
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{le="0.1"} 5
app_latency_seconds_bucket{le="1"} 9
app_latency_seconds_bucket{le="+Inf"} 10
app_latency_seconds_sum 3.5
app_latency_seconds_count 10
# TYPE app_temperature gauge
app_temperature{room="x"} 21.5
`;

interface Served {
  value: number;
  ts: number | undefined;
}

/** Every series the central shards serve (text format), by its printed name and labels. */
async function servedSeries(centre: ProxyProcess, shards: number): Promise<Map<string, Served>> {
  const out = new Map<string, Served>();
  for (let k = 0; k < shards; k++) {
    const res = await fetch(`${centre.url}/metrics/shard/${k}`, { headers: { accept: 'text/plain' } });
    if (res.status !== 200) continue;
    for (const line of (await res.text()).split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const m = /^(\S+?(?:\{.*\})?) (\S+)(?: (\d+))?$/.exec(line);
      if (!m) throw new Error(`unreadable line ${line}`);
      out.set(m[1], { value: Number(m[2]), ts: m[3] === undefined ? undefined : Number(m[3]) });
    }
  }
  return out;
}

async function metricValue(proxy: ProxyProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  return valueIn(await (await fetch(`${proxy.url}/metrics`)).text(), name, labels, proxy.url);
}

/** The sum of a family's samples (with these labels) in one /metrics text. */
function valueIn(text: string, name: string, labels: Record<string, string> = {}, from = '/metrics'): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (!Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) continue;
    sum += Number(m[3]);
    found = true;
  }
  if (!found) throw new Error(`${name}${JSON.stringify(labels)} not in /metrics of ${from}`);
  return sum;
}

function edgeConfig(nats: NatsServer, opts: { stream: string; prefix: string; interval: string; targets: string[]; extra?: string }) {
  return (listen: string) => `
listen: ${listen}
log_level: debug
publish:
  nats: {servers: ["${nats.url}"], stream: ${opts.stream}, subject_prefix: ${opts.prefix}}
  publisher: edge-1
  scrape_interval: ${opts.interval}
${opts.extra ?? ''}
  jobs:
    - job_name: node
      static_configs: [{targets: ${JSON.stringify(opts.targets)}, labels: {dc: edge-1}}]
`;
}

function centreConfig(nats: NatsServer, opts: { stream: string; prefix: string; durable: string; maxAge: string; extra?: string }) {
  return (listen: string) => `
listen: ${listen}
log_level: debug
shard:
  num_shards: 2
  scrape_interval: 1s
  sources:
    - nats: {servers: ["${nats.url}"], stream: ${opts.stream}, subjects: ["${opts.prefix}.>"], durable: ${opts.durable}}
      max_age: ${opts.maxAge}
${opts.extra ?? ''}
`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The proxy's debug lines with this msg, as objects. */
function logLines(proxy: ProxyProcess, msg: string): Record<string, unknown>[] {
  return proxy
    .logs()
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function hostOf(u: Upstream): string {
  return new URL(u.url).host;
}

/** Starts Debian's prometheus-node-exporter on a free port with a few stable collectors. */
async function startNodeExporter(): Promise<{ host: string; child: ChildProcess }> {
  if (spawnSync('prometheus-node-exporter', ['--version']).error) {
    throw new Error('prometheus-node-exporter not found: install it with `apt-get install -y prometheus-node-exporter` (Debian)');
  }
  const port = await freePort();
  const child = spawn(
    'prometheus-node-exporter',
    [`--web.listen-address=127.0.0.1:${port}`, '--collector.disable-defaults', '--collector.uname', '--collector.meminfo', '--collector.cpu'],
    { stdio: 'ignore' },
  );
  trackChild(child);
  await waitFor(
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/metrics`)).status === 200;
      } catch {
        return false;
      }
    },
    20_000,
    'node exporter',
  );
  return { host: `127.0.0.1:${port}`, child };
}

describe('NATS federation: the same series as a direct scrape', () => {
  let nats: NatsServer;
  const stops: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    nats = await startNats();
  }, 30_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await nats?.close();
  }, 60_000);

  it('a Prometheus scraping the central shards holds what one scraping the two targets directly holds', async ({ expect }) => {
    const fixed = await startUpstream(FIXED);
    stops.push(() => fixed.close());
    const node = await startNodeExporter();
    stops.push(() => terminate(node.child));
    const targets = [hostOf(fixed), node.host];
    const edge = await startProxy(edgeConfig(nats, { stream: 'EQ', prefix: 'eq', interval: '1s', targets }));
    stops.push(() => edge.stop());
    const centre = await startProxy(centreConfig(nats, { stream: 'EQ', prefix: 'eq', durable: 'central', maxAge: '1m' }));
    stops.push(() => centre.stop());
    const scrape = (jobs: object[]) => JSON.stringify({ global: { scrape_interval: '1s' }, scrape_configs: jobs });
    const direct: PrometheusProcess = await startPrometheus({
      configYaml: scrape([{ job_name: 'node', static_configs: [{ targets, labels: { dc: 'edge-1' } }] }]),
    });
    stops.push(() => direct.stop());
    const central: PrometheusProcess = await startPrometheus({
      configYaml: scrape(
        [0, 1].map((k) => ({
          job_name: `shard-${k}`,
          honor_labels: true,
          metrics_path: `/metrics/shard/${k}`,
          static_configs: [{ targets: [new URL(centre.url).host] }],
        })),
      ),
    });
    stops.push(() => central.stop());

    const series = async (p: PrometheusProcess, expr: string) => {
      const rows = (await p.query(expr)) as { metric: Record<string, string>; value: [number, string] }[];
      return new Map(rows.map((r) => [JSON.stringify(Object.entries(r.metric).sort()), r.value[1]]));
    };
    // Each shard is its own scrape: wait until both have been scraped since the targets arrived.
    const fixedSel = `{job="node",instance="${hostOf(fixed)}",__name__!~"scrape_series_added|scrape_timeout_seconds|scrape_samples_post_metric_relabeling|scrape_duration_seconds"}`;
    await waitFor(
      async () =>
        (await series(central, fixedSel)).size === 10 &&
        (await series(direct, fixedSel)).size === 10 &&
        (await series(central, 'node_uname_info')).size === 1 &&
        (await series(direct, 'node_uname_info')).size === 1,
      60_000,
      'both paths scraping both targets',
    );
    // ...and every shard scraped again since (series of one target are spread over both shards).
    await sleep(2500);
    // Everything of the fixed target: names, labels and values, scrape_samples_scraped and up included.
    const want = await series(direct, fixedSel);
    expect(want.size).toBe(8 + 2);
    expect(await series(central, fixedSel)).toEqual(want);
    // The real exporter: the same series, and the same values where they do not move between scrapes.
    for (const expr of ['node_uname_info', 'node_memory_MemTotal_bytes', 'count by (cpu, mode, job, instance, dc) (node_cpu_seconds_total)']) {
      const sel = expr.includes('(') ? expr : `${expr}{job="node"}`;
      const d = await series(direct, sel);
      expect(d.size).toBeGreaterThan(0);
      expect(await series(central, sel)).toEqual(d);
    }
    // scrape_duration_seconds is the edge's measurement, present for both targets.
    expect((await series(central, 'scrape_duration_seconds{job="node"}')).size).toBe(2);
  }, 150_000);
});

// Concurrent: the outage test waits 30 s, the others run meanwhile (each has its own stream, or its own NATS).
describe.concurrent('NATS federation', () => {
  let nats: NatsServer;
  const stops: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    nats = await startNats();
  }, 30_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await nats?.close();
  }, 60_000);

  it('a central promfront stopped for 30 s loses no scrape younger than max_age, skips (and counts) the older ones, applies none twice and none out of order', async ({
    expect,
  }) => {
    const a = await startUpstream(FIXED);
    const b = await startUpstream(FIXED);
    stops.push(
      () => a.close(),
      () => b.close(),
    );
    const edge = await startProxy(edgeConfig(nats, { stream: 'RS', prefix: 'rs', interval: '500ms', targets: [hostOf(a), hostOf(b)] }));
    stops.push(() => edge.stop());
    // max_age shorter than the outage: the first scrapes of the outage are too old when the centre is
    // back, the later ones are not. The other tests of this file run meanwhile (describe.concurrent).
    const maxAgeMs = 20_000;
    const centreCfg = centreConfig(nats, { stream: 'RS', prefix: 'rs', durable: 'central', maxAge: '20s' });
    const first = await startProxy(centreCfg);
    stops.push(() => first.stop());
    await waitFor(async () => logLines(first, 'scrape applied').length >= 4, 30_000, 'the first centre applying');
    await first.stop();
    const appliedBefore = logLines(first, 'scrape applied');
    await sleep(30_000);
    const restartedAt = Date.now();
    const second = await startProxy(centreCfg);
    stops.push(() => second.stop());
    const upAgain = Date.now();
    const handled = async () =>
      logLines(second, 'scrape applied').length + (await metricValue(second, 'promfront_stream_messages_too_old_total')) + appliedBefore.length;
    const publishedNow = logLines(edge, 'scrape published').filter((l) => l.duplicate === false).length;
    await waitFor(async () => (await handled()) >= publishedNow, 30_000, 'the second centre catching up');
    const caughtUp = Date.now();
    const cutoff = caughtUp;
    await edge.stop();

    const key = (job: unknown, instance: unknown, time: unknown) => `${String(job)}/${String(instance)}/${String(time)}`;
    const applied = [...appliedBefore, ...logLines(second, 'scrape applied')].map((l) => key(l.job, l.instance, l.scrape_time));
    const published = logLines(edge, 'scrape published')
      .filter((l) => l.duplicate === false)
      .map((l) => String(l.msg_id).split('/').slice(1).join('/'));
    const timeOf = (k: string) => Number(k.split('/').pop());
    expect(published.length).toBeGreaterThan(100);
    // Nothing applied twice, across the two runs.
    expect(new Set(applied).size).toBe(applied.length);
    // Every scrape published before the catch-up and still younger than max_age when the catch-up
    // ended (so whenever the centre handled it) was applied.
    const young = published.filter((p) => timeOf(p) > caughtUp - maxAgeMs + 1000 && timeOf(p) < cutoff - 2000);
    expect(young.length, `catch-up took ${caughtUp - upAgain} ms`).toBeGreaterThan(20);
    expect(young.filter((p) => !applied.includes(p))).toEqual([]);
    // Those older than max_age by then were not applied, and were counted as too old.
    const old = published.filter((p) => timeOf(p) < restartedAt - maxAgeMs - 1000 && !appliedBefore.some((l) => key(l.job, l.instance, l.scrape_time) === p));
    expect(old.length).toBeGreaterThan(20);
    expect(old.filter((p) => applied.includes(p))).toEqual([]);
    expect(await metricValue(second, 'promfront_stream_messages_too_old_total')).toBeGreaterThanOrEqual(old.length);
    // Per target, scrape times only go up in the order they were applied.
    for (const target of [hostOf(a), hostOf(b)]) {
      const times = applied.filter((k) => k.startsWith(`node/${target}/`)).map(timeOf);
      expect(times.length).toBeGreaterThan(10);
      expect(times).toEqual([...times].sort((x, y) => x - y));
    }
    // The second centre resumed where the first stopped: it saw none of the first one's messages.
    expect(await metricValue(second, 'promfront_stream_messages_skipped_total')).toBe(0);
  }, 150_000);

  it('a dead target shows up == 0 within one interval; a silent publisher makes its series disappear after max_age', async ({ expect }) => {
    const a = await startUpstream(FIXED);
    stops.push(() => a.close());
    const edge = await startProxy(edgeConfig(nats, { stream: 'DT', prefix: 'dt', interval: '2s', targets: [hostOf(a)] }));
    stops.push(() => edge.stop());
    const centre = await startProxy(centreConfig(nats, { stream: 'DT', prefix: 'dt', durable: 'central', maxAge: '6s' }));
    stops.push(() => centre.stop());
    const upName = `up{dc="edge-1",instance="${hostOf(a)}",job="node"}`;
    await waitFor(async () => (await servedSeries(centre, 2)).get(upName)?.value === 1, 30_000, 'the target served up');
    const served = await servedSeries(centre, 2);
    const tempName = `app_temperature{dc="edge-1",instance="${hostOf(a)}",job="node",room="x"}`;
    expect(served.get(tempName)?.value).toBe(21.5);
    // Served at the edge's scrape time, which is in the past but not by more than an interval and a cycle.
    expect(Date.now() - served.get(tempName)!.ts!).toBeLessThan(2000 + 1000 + 1500);

    a.mode = '500';
    const died = Date.now();
    await waitFor(async () => (await servedSeries(centre, 2)).get(upName)?.value === 0, 10_000, 'the target served down');
    const downAfter = Date.now() - died;
    // One edge interval (2 s), plus the centre's shard cycle (1 s) and this machine's load.
    expect(downAfter).toBeLessThan(2000 + 1000 + 1000);
    expect((await servedSeries(centre, 2)).has(tempName)).toBe(false);

    await edge.stop();
    const silent = Date.now();
    await sleep(3000);
    expect((await servedSeries(centre, 2)).get(upName)?.value).toBe(0);
    await waitFor(async () => !(await servedSeries(centre, 2)).has(upName), 15_000, 'the silent target gone');
    const goneAfter = Date.now() - silent;
    expect(goneAfter).toBeGreaterThan(6000 - 2000);
    expect(goneAfter).toBeLessThan(6000 + 2000 + 1500);
    expect(await metricValue(centre, 'promfront_stream_targets_expired_total')).toBe(1);
  }, 120_000);

  it('garbage and oversized messages are rejected with a counted reason and do not block the consumer', async ({ expect }) => {
    const nc = await natsConnect({ servers: nats.url });
    stops.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'GB', subjects: ['gb.>'] });
    const js = jetstream(nc);
    const centre = await startProxy(
      centreConfig(nats, { stream: 'GB', prefix: 'gb', durable: 'central', maxAge: '1m', extra: '      max_message_size: 64KiB' }),
    );
    stops.push(() => centre.stop());
    const good = (extra: Record<string, string> = {}) => {
      const h = natsHeaders();
      const all: Record<string, string> = {
        'Promfront-Publisher': 'test',
        'Promfront-Job': 'j',
        'Promfront-Instance': 'i:1',
        'Promfront-Scrape-Time': String(Date.now()),
        'Promfront-Scrape-Duration': '0.01',
        'Promfront-Scrape-Result': 'success',
        'Content-Encoding': 'gzip',
        ...extra,
      };
      for (const [k, v] of Object.entries(all)) h.set(k, v);
      return h;
    };
    await js.publish('gb.x', 'hello');
    await js.publish('gb.x', gzipSync('a 1\n'), { headers: good({ 'Promfront-Scrape-Time': 'noon' }) });
    await js.publish('gb.x', Buffer.from('not gzip at all'), { headers: good() });
    await js.publish('gb.x', Buffer.alloc(100_000, 7), { headers: good() });
    await js.publish('gb.x', gzipSync(Buffer.alloc(10_000_000, 'a')), { headers: good() });
    await js.publish('gb.x', gzipSync('# TYPE ok gauge\nok 42\n'), { headers: good() });

    await waitFor(async () => (await servedSeries(centre, 2)).get('ok{instance="i:1",job="j"}')?.value === 42, 30_000, 'the good message served');
    const rejected = (reason: string) => metricValue(centre, 'promfront_stream_messages_rejected_total', { reason });
    expect(await rejected('bad_headers')).toBe(2);
    expect(await rejected('bad_body')).toBe(1);
    expect(await rejected('oversized')).toBe(2);
    // Terminated, not redelivered: the consumer has nothing pending.
    await sleep(1500);
    const info = await jsm.consumers.info('GB', 'central');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
    expect(await metricValue(centre, 'promfront_stream_messages_redelivered_total')).toBe(0);
    const status = (await (await fetch(`${centre.url}/status`)).json()) as { sources: { stream: { rejected: Record<string, number> } }[] };
    expect(status.sources[0].stream.rejected).toEqual({ bad_headers: 2, bad_body: 1, oversized: 2 });
  }, 90_000);

  it('the backlog drains when NATS is back; beyond its limit the oldest scrapes are dropped and counted', async ({ expect }) => {
    // Its own NATS, stopped and started again while the other tests use theirs.
    const nats = await startNats();
    stops.push(() => nats.close());
    const upstream = await startUpstream(FIXED);
    stops.push(() => upstream.close());
    const edge = await startProxy(
      edgeConfig(nats, { stream: 'OUT', prefix: 'out', interval: '250ms', targets: [hostOf(upstream)], extra: '  backlog_max_messages: 8' }),
    );
    stops.push(() => edge.stop());
    const e = edge;
    await waitFor(async () => (await metricValue(e, 'promfront_publish_messages_published_total')) >= 3, 30_000, 'publishing');
    await nats.stop();
    await waitFor(async () => (await metricValue(e, 'promfront_publish_backlog_dropped_total')) >= 3, 30_000, 'the backlog overflowing');
    expect(await metricValue(e, 'promfront_publish_backlog_messages')).toBe(8);
    // A publish waits up to 3 s for JetStream's answer before it counts as failed.
    await waitFor(async () => (await metricValue(e, 'promfront_publish_errors_total')) > 0, 10_000, 'publish errors counted');
    const publishedDuring = await metricValue(e, 'promfront_publish_messages_published_total');
    await nats.start();
    await waitFor(async () => (await metricValue(e, 'promfront_publish_backlog_messages')) <= 1, 30_000, 'the backlog drained');
    expect(await metricValue(e, 'promfront_publish_messages_published_total')).toBeGreaterThanOrEqual(publishedDuring + 8);
    // Every scrape is accounted for once: published, dropped, or still waiting (at most one being
    // made, and at most one dropped from the backlog while its publish is in flight, counted when
    // that publish ends).
    // All read from one /metrics: the edge goes on scraping every 250 ms between two reads.
    const snapshot = await (await fetch(`${e.url}/metrics`)).text();
    const scrapes = valueIn(snapshot, 'promfront_publish_scrapes_total');
    const accounted =
      valueIn(snapshot, 'promfront_publish_messages_published_total') +
      valueIn(snapshot, 'promfront_publish_backlog_dropped_total') +
      valueIn(snapshot, 'promfront_publish_backlog_messages');
    expect(scrapes - accounted).toBeGreaterThanOrEqual(0);
    expect(scrapes - accounted).toBeLessThanOrEqual(2);
    // The stream holds each published scrape once.
    const nc = await natsConnect({ servers: nats.url });
    try {
      const info = await (await jetstreamManager(nc)).streams.info('OUT');
      const published = await metricValue(e, 'promfront_publish_messages_published_total');
      const duplicates = await metricValue(e, 'promfront_publish_duplicates_total');
      expect(info.state.messages).toBe(published - duplicates);
    } finally {
      await nc.close();
    }
  }, 150_000);
});
