// Duplicate series within one upstream's exposition, through the built ./proxy: every shard body
// (text and OpenMetrics) serves each series once with its first sample, as Prometheus's scrape loop
// keeps the first; the drops are counted per source in /metrics and /status and logged once per
// scrape, not once per series.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../dev/prometheus-process.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const SHARDS = 3;

// 38 distinct series; 3 of them repeated (one with its labels in another order, one a histogram
// bucket), and one series at two timestamps, which is two samples and no duplicate.
function body(): string {
  const lines = ['# HELP g A gauge.', '# TYPE g gauge'];
  for (let i = 0; i < 30; i++) lines.push(`g{i="${i}",zone="a"} ${i}`);
  lines.push('g{i="3",zone="a"} 1003', 'g{zone="a",i="7"} 1007');
  lines.push('# TYPE h histogram', 'h_bucket{le="1"} 1', 'h_bucket{le="+Inf"} 2', 'h_bucket{le="1"} 5', 'h_sum 3', 'h_count 2');
  lines.push('# TYPE t gauge', 't 1 1700000000000', 't 2 1700000001000');
  for (let i = 0; i < 3; i++) lines.push(`other_${i} ${i}`);
  return `${lines.join('\n')}\n`;
}

async function get(url: string, accept?: string): Promise<string> {
  const res = await fetch(url, { headers: accept ? { accept } : {} });
  expect(res.status, url).toBe(200);
  return res.text();
}

describe('duplicate series within one source', () => {
  let upstream: Upstream;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    upstream = await startUpstream(body());
    // One scrape only (interval 1h): the counter then shows exactly one scrape's drops.
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
shard:
  num_shards: ${SHARDS}
  scrape_interval: 1h
  # The lines are checked as the upstream wrote them (identity labels: shard-identity.test.ts).
  source_identity: false
  sources:
    - url: ${upstream.url}
`,
    );
    await waitFor(async () => ((await (await fetch(`${proxy.url}/status`)).json()) as { cycles: number }).cycles >= 1, 20_000, 'first cycle');
  });

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it('serves each series once, with its first sample, in both formats', async () => {
    for (const accept of ['text/plain;version=0.0.4', 'application/openmetrics-text;version=1.0.0']) {
      const samples: string[] = [];
      for (let k = 0; k < SHARDS; k++) {
        const text = await get(`${proxy.url}/metrics/shard/${k}`, accept);
        samples.push(...text.split('\n').filter((l) => l !== '' && !l.startsWith('#')));
      }
      const series = samples.map((l) => l.slice(0, l.indexOf(' ')));
      // t is one series with two samples (two timestamps); everything else appears once.
      expect(series.filter((s) => s === 't')).toHaveLength(2);
      expect(new Set(series.filter((s) => s !== 't')).size, accept).toBe(series.length - 2);
      expect(samples.length, accept).toBe(30 + 4 + 2 + 3);
      expect(samples, accept).toContain('g{i="3",zone="a"} 3');
      expect(samples, accept).toContain('g{i="7",zone="a"} 7');
      expect(samples, accept).toContain('h_bucket{le="1"} 1');
      expect(samples.some((l) => l.startsWith('g{zone="a",i="7"}'))).toBe(false);
    }
  });

  it('counts the dropped samples per source in /metrics and /status and logs them once per scrape', async () => {
    const metrics = await get(`${proxy.url}/metrics`);
    expect(metrics).toMatch(/^# TYPE promfront_source_duplicate_samples_dropped_total counter$/m);
    const m = /^promfront_source_duplicate_samples_dropped_total\{source="0",url="[^"]+"\} (\S+)$/m.exec(metrics);
    expect(m?.[1]).toBe('3');
    // Dropped within the source, not between sources: that other counter stays 0.
    expect(metrics).toMatch(/^promfront_duplicate_series_dropped_total\{source="0",url="[^"]+"\} 0$/m);
    const status = (await (await fetch(`${proxy.url}/status`)).json()) as { sources: { duplicates_in_source: number; series: number }[] };
    expect(status.sources[0].duplicates_in_source).toBe(3);
    expect(status.sources[0].series).toBe(39);
    const warnings = proxy
      .logs()
      .split('\n')
      .filter((l) => l.includes('duplicate series in the scrape'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"num_dropped":3');
  });
});
