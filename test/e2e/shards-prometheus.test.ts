// The sharding core end to end: real Prometheus servers scraping /metrics/shard/K hold together exactly what one scraping the upstream would.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { startSyntheticExporter, SYNTHETIC_HISTOGRAM, type SyntheticExporter } from '../../dev/synthetic.js';
import { runCli, startProxy, type ProxyProcess } from '../support/proxy.js';

// One upstream serving OpenMetrics and one serving only text 0.0.4, both with explicit timestamps so
// that every Prometheus stores identical samples however its scrapes are phased. The upstream data
// changes every 2 s and everything scrapes every 1 s, so every step is seen on both paths. A direct
// Prometheus scrapes both upstreams; three shard Prometheus servers scrape the proxy with the
// scrape_configs that `./proxy scrape-config` prints.

const SHARDS = 3;
const SERIES = 3000;
const JOB = 'e2e';

type Result = { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] };

function keyOf(metric: Record<string, string>): string {
  const { instance: _ignored, ...rest } = metric;
  return JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe('sharded Prometheus servers hold exactly what one direct Prometheus holds', () => {
  let om: SyntheticExporter;
  let text: SyntheticExporter;
  let proxy: ProxyProcess;
  const shards: PrometheusProcess[] = [];
  let direct: PrometheusProcess;
  let evalSec: number;

  beforeAll(async () => {
    om = await startSyntheticExporter({ series: SERIES, stepMs: 2000, withTimestamps: true, formats: ['openmetrics'] });
    text = await startSyntheticExporter({ series: SERIES, stepMs: 2000, withTimestamps: true, formats: ['text'], seed: 7 });
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: warn
shard:
  num_shards: ${SHARDS}
  job_name: ${JOB}
  scrape_interval: 1s
  sources:
    - url: ${om.url}
      labels: {variant: om}
    - url: ${text.url}
      labels: {variant: text}
`,
    );
    const directConfig = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [
        {
          job_name: JOB,
          honor_labels: true,
          scrape_interval: '1s',
          static_configs: [
            { targets: [new URL(om.url).host], labels: { variant: 'om' } },
            { targets: [new URL(text.url).host], labels: { variant: 'text' } },
          ],
        },
      ],
    };
    const starts: Promise<PrometheusProcess>[] = [startPrometheus({ configYaml: stringify(directConfig) })];
    for (let k = 0; k < SHARDS; k++) {
      const cli = runCli(['scrape-config', `--config=${proxy.configFile}`, `--shard=${k}`]);
      expect(cli.code, cli.stderr).toBe(0);
      const doc = parse(cli.stdout) as Record<string, unknown>;
      starts.push(startPrometheus({ configYaml: stringify({ global: { scrape_interval: '1s', evaluation_interval: '1s' }, ...doc }) }));
    }
    const all = await Promise.all(starts);
    direct = all[0]!;
    shards.push(...all.slice(1));

    // Prometheus starts scraping up to 5 s after it is ready (service discovery updates are batched),
    // and rate() depends on the first sample in its window: wait until every server has scraped for
    // longer than the 1m range, so the windows compared hold the same samples everywhere.
    for (const p of all) {
      await waitFor(
        async () => {
          const r = (await p.query('min(count_over_time(up[5m]))')) as Result[];
          return r.length > 0 && Number(r[0].value![1]) >= 66;
        },
        120_000,
        `${p.url} to have scraped 66 times`,
      );
    }
    evalSec = Math.floor(Date.now() / 1000) - 3;
    for (const p of all) {
      await waitFor(
        async () => {
          const r = (await p.query(`min(timestamp(${SYNTHETIC_HISTOGRAM}_count))`)) as Result[];
          return r.length > 0 && Number(r[0].value![1]) >= evalSec;
        },
        30_000,
        `${p.url} to have data at ${evalSec}`,
      );
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...shards, direct].filter(Boolean).map((p) => p.stop()));
    await proxy?.stop();
    await om?.close();
    await text?.close();
  });

  async function directAndUnion(expr: string): Promise<{ direct: Map<string, Result>; union: Map<string, Result>; perShard: number[] }> {
    const d = new Map<string, Result>();
    for (const r of (await direct.query(expr, evalSec)) as Result[]) d.set(keyOf(r.metric), r);
    const u = new Map<string, Result>();
    const perShard: number[] = [];
    for (const s of shards) {
      const rs = (await s.query(expr, evalSec)) as Result[];
      perShard.push(rs.length);
      for (const r of rs) {
        const k = keyOf(r.metric);
        expect(u.has(k), `series ${k} is on two shards`).toBe(false);
        u.set(k, r);
      }
    }
    return { direct: d, union: u, perShard };
  }

  it('stores the same raw samples for every series, each series on exactly one shard', async () => {
    const { direct: d, union: u, perShard } = await directAndUnion('{__name__=~"ceph_.+"}[8s]');
    expect(d.size).toBe(2 * SERIES);
    for (const n of perShard) expect(n).toBeGreaterThan((0.2 * d.size) / SHARDS);
    expect([...u.keys()].sort()).toEqual([...d.keys()].sort());
    let samples = 0;
    for (const [k, r] of d) {
      expect(u.get(k)!.values, k).toEqual(r.values);
      samples += r.values!.length;
    }
    expect(samples).toBeGreaterThanOrEqual(2 * SERIES * 3);
  });

  it('gives the same histogram_quantile over rate per shard as directly', async () => {
    const expr = `histogram_quantile(0.9, rate(${SYNTHETIC_HISTOGRAM}_bucket[1m]))`;
    const { direct: d, union: u } = await directAndUnion(expr);
    expect(d.size).toBeGreaterThan(10);
    expect([...u.keys()].sort()).toEqual([...d.keys()].sort());
    let finite = 0;
    for (const [k, r] of d) {
      expect(u.get(k)!.value![1], k).toBe(r.value![1]);
      if (Number.isFinite(Number(r.value![1]))) finite++;
    }
    expect(finite).toBeGreaterThan(0);
  });

  it('keeps _sum/_count of a histogram child on the shard of its buckets', async () => {
    const expr = `${SYNTHETIC_HISTOGRAM}_sum / ${SYNTHETIC_HISTOGRAM}_count`;
    const { direct: d, union: u } = await directAndUnion(expr);
    expect(d.size).toBeGreaterThan(10);
    expect(u.size).toBe(d.size);
    for (const [k, r] of d) expect(u.get(k)!.value![1], k).toBe(r.value![1]);
  });
});
