// Per-shard identity end to end (docs/shard-identity.md): a sharded fleet scraped live by one real
// Prometheus per shard, configured from `./proxy scrape-config`, answered through the proxy's own
// query layer. Each shard's `up` is its own series; every source series has the job and instance a
// direct Prometheus scrape of the source gives it, and keeps them when num_shards goes 3 -> 4.

import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { runCli, startProxy, type ProxyProcess } from '../support/proxy.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const SERIES = 120;
const JOB = 'ceph';
// Gauges and one histogram (its children must stay together), no job or instance of their own.
const BODY = [
  '# TYPE idt_gauge gauge',
  ...Array.from({ length: SERIES }, (_, i) => `idt_gauge{osd="${i}"} ${i}`),
  '# TYPE idt_seconds histogram',
  ...['0.1', '1', '+Inf'].map((le, j) => `idt_seconds_bucket{le="${le}"} ${j + 1}`),
  'idt_seconds_sum 2.5',
  'idt_seconds_count 3',
  '',
].join('\n');
const SOURCE_SERIES = SERIES + 5;

type Vector = { metric: Record<string, string>; value: [number, string] }[];

function key(metric: Record<string, string>): string {
  return JSON.stringify(Object.entries(metric).sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe('per-shard identity in a live sharded fleet', () => {
  let upstream: Upstream;
  let proxy: ProxyProcess;
  let direct: PrometheusProcess;
  const shards: PrometheusProcess[] = [];

  const render = (listen: string, numShards: number) => {
    const lines = [
      `listen: ${listen}`,
      'log_level: warn',
      'shard:',
      `  num_shards: ${numShards}`,
      '  scrape_interval: 1s',
      '  sources:',
      `    - url: ${upstream.url}`,
      `      job_name: ${JOB}`,
    ];
    if (shards.length > 0) {
      lines.push('query:', '  server_groups:');
      shards.forEach((p, k) => lines.push(`    - name: shard-${k}`, `      static_configs: [{targets: ["127.0.0.1:${p.port}"]}]`));
    }
    return `${lines.join('\n')}\n`;
  };

  const startShardPrometheus = (k: number): Promise<PrometheusProcess> => {
    const cli = runCli(['scrape-config', `--config=${proxy.configFile}`, `--shard=${k}`]);
    expect(cli.code, cli.stderr).toBe(0);
    const doc = parse(cli.stdout) as Record<string, unknown>;
    return startPrometheus({ configYaml: stringify({ global: { scrape_interval: '1s' }, ...doc }) });
  };

  const write = (numShards: number) => writeFileSync(proxy.configFile, render(`127.0.0.1:${proxy.port}`, numShards));
  const reconfigure = async (numShards: number) => {
    write(numShards);
    const res = await fetch(`${proxy.url}/-/reload`, { method: 'POST' });
    expect(res.status, await res.text()).toBe(200);
  };

  const viaProxy = async (expr: string): Promise<Vector> => {
    const res = await fetch(`${proxy.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; data: { result: Vector }; error?: string };
    expect(body.status, body.error).toBe('success');
    return body.data.result;
  };

  /** Waits until the proxy sees every shard up, each source series once, and returns the source series. */
  const settled = async (numShards: number): Promise<Vector> => {
    let last: Vector = [];
    await waitFor(
      async () => {
        const up = await viaProxy('up');
        last = await viaProxy('{__name__=~"idt_.+"}');
        return up.length === numShards && up.every((s) => s.value[1] === '1') && last.length === SOURCE_SERIES;
      },
      60_000,
      `${numShards} shards up and ${SOURCE_SERIES} source series through the proxy`,
      250,
    );
    return last;
  };

  beforeAll(async () => {
    upstream = await startUpstream(BODY);
    proxy = await startProxy((listen) => render(listen, 3), { args: ['--web.enable-lifecycle'] });
    // The direct scrape: Prometheus's defaults (honor_labels false), the source's own job name.
    const directConfig = {
      global: { scrape_interval: '1s' },
      scrape_configs: [{ job_name: JOB, static_configs: [{ targets: [new URL(upstream.url).host] }] }],
    };
    const started = await Promise.all([startPrometheus({ configYaml: stringify(directConfig) }), ...[0, 1, 2].map(startShardPrometheus)]);
    direct = started[0];
    shards.push(...started.slice(1));
    await reconfigure(3);
    await waitFor(async () => ((await direct.query('{__name__=~"idt_.+"}')) as Vector).length === SOURCE_SERIES, 30_000, 'the direct scrape', 250);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([direct, ...shards].filter(Boolean).map((p) => p.stop()));
    await proxy?.stop();
    await upstream?.close();
  });

  let before: Vector = [];

  it("counts one up per shard, each with the shard's own instance", async () => {
    await settled(3);
    expect(await viaProxy('count(up)')).toEqual([{ metric: {}, value: [expect.any(Number), '3'] }]);
    const up = (await viaProxy('up')).map((s) => s.metric).sort((a, b) => (a.instance < b.instance ? -1 : 1));
    expect(up).toEqual([0, 1, 2].map((k) => ({ __name__: 'up', job: 'promfront-shards', instance: `127.0.0.1:${proxy.port}/shard/${k}` })));
    // Each shard's Prometheus holds its own up only: nothing collapsed.
    for (const [k, p] of shards.entries()) {
      expect(((await p.query('up')) as Vector).map((s) => s.metric.instance)).toEqual([`127.0.0.1:${proxy.port}/shard/${k}`]);
    }
  });

  it('gives every source series the identity a direct scrape gives it, with the same values', async () => {
    before = await settled(3);
    const directSeries = (await direct.query('{__name__=~"idt_.+"}')) as Vector;
    expect(directSeries).toHaveLength(SOURCE_SERIES);
    expect(new Set(directSeries.map((s) => s.metric.instance))).toEqual(new Set([new URL(upstream.url).host]));
    const want = new Map(directSeries.map((s) => [key(s.metric), s.value[1]]));
    const got = new Map(before.map((s) => [key(s.metric), s.value[1]]));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [k, v] of want) expect(got.get(k), k).toBe(v);
    // Split over the shards, not all on one.
    const perShard = await Promise.all(shards.map(async (p) => ((await p.query('{__name__=~"idt_.+"}')) as Vector).length));
    expect(perShard.reduce((a, b) => a + b, 0)).toBe(SOURCE_SERIES);
    for (const n of perShard) expect(n).toBeGreaterThan(0);
  });

  it('keeps every series identity when num_shards goes from 3 to 4, with no conflicting series between groups', async () => {
    // The fourth Prometheus from the new config's scrape-config, then the proxy reloads it.
    write(4);
    shards.push(await startShardPrometheus(3));
    await reconfigure(4);
    const after = await settled(4);
    expect(after.map((s) => key(s.metric)).sort()).toEqual(before.map((s) => key(s.metric)).sort());
    expect(await viaProxy('count(up)')).toEqual([{ metric: {}, value: [expect.any(Number), '4'] }]);
    // The fourth shard took a share of the series.
    expect(((await shards[3].query('{__name__=~"idt_.+"}')) as Vector).length).toBeGreaterThan(0);
    // Series that moved shard are in two groups at different times: not counted as conflicts.
    const status = (await (await fetch(`${proxy.url}/status`)).json()) as { query: { groups: { name: string; conflicting_series: number }[] } };
    expect(status.query.groups.map((g) => [g.name, g.conflicting_series])).toEqual([0, 1, 2, 3].map((k) => [`shard-${k}`, 0]));
  });
});
