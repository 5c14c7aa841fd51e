// The dev/ helpers that start real Prometheus servers for the demo and the tests: ports, readiness, clean stop.

import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { findPrometheus, startPrometheus, waitFor, type PrometheusProcess } from '../../dev/prometheus-process.js';
import { startSyntheticExporter, type SyntheticExporter } from '../../dev/synthetic.js';

// These tests need a real Prometheus. They deliberately fail (with the install hint) rather than skip
// when it is missing: findPrometheus() throws "prometheus not found: install it with ...".

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('startPrometheus', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  it('finds the prometheus binary', () => {
    expect(findPrometheus()).toMatch(/prometheus$/);
  });

  it('says how to install prometheus when it is missing', () => {
    expect(() => findPrometheus(['/nonexistent-dir'])).toThrow('prometheus not found: install it with `apt-get install -y prometheus` (Debian)');
  });

  it('scrapes the synthetic exporter in both formats, answers queries, and stops cleanly', async () => {
    const SERIES = 3000;
    const om: SyntheticExporter = await startSyntheticExporter({ series: SERIES, stepMs: 1000 });
    cleanup.push(() => om.close());
    const text: SyntheticExporter = await startSyntheticExporter({ series: SERIES, stepMs: 1000, formats: ['text'] });
    cleanup.push(() => text.close());

    const configYaml = [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: synthetic-om',
      '    scrape_interval: 1s',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${om.port}']`,
      '  - job_name: synthetic-text',
      '    scrape_interval: 1s',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${text.port}']`,
      '',
    ].join('\n');

    const prom: PrometheusProcess = await startPrometheus({ configYaml });
    cleanup.push(() => prom.stop());
    expect(prom.url).toBe(`http://127.0.0.1:${prom.port}`);
    expect(pidAlive(prom.pid)).toBe(true);
    expect(fs.existsSync(`${prom.dataDir}/prometheus.yml`)).toBe(true);

    await waitFor(async () => (await prom.query('count(ceph_osd_op_w_total) by (job)')).length === 2, 30_000, 'synthetic series in prometheus');

    // Both strict parsers of Prometheus accepted every sample.
    const up = await prom.query('up');
    expect(up.map((r: any) => [r.metric.job, r.value[1]]).sort()).toEqual([
      ['synthetic-om', '1'],
      ['synthetic-text', '1'],
    ]);
    const scraped = await prom.query('scrape_samples_scraped');
    for (const r of scraped) expect(Number(r.value[1]), r.metric.job).toBe(SERIES);
    expect(om.scrapes).toBeGreaterThan(0);
    expect(text.scrapes).toBeGreaterThan(0);

    // The same series arrive through both formats.
    const perJob = await prom.query('count by (job) ({job=~"synthetic-.*", __name__=~"ceph_.+"})');
    expect(perJob.map((r: any) => Number(r.value[1]))).toEqual([SERIES, SERIES]);

    const now = Date.now() / 1000;
    const range = await prom.queryRange('sum(ceph_osd_op_w_total)', now - 60, now, 1);
    expect(range.length).toBe(1);
    expect(range[0].values.length).toBeGreaterThan(0);

    await expect(prom.query('sum(')).rejects.toThrow(/bad_data/);

    const { pid, dataDir } = prom;
    await prom.stop();
    expect(pidAlive(pid)).toBe(false);
    expect(fs.existsSync(dataDir)).toBe(false);
    await prom.stop(); // idempotent
  });

  it('rejects with the tail of the output when prometheus exits early', async () => {
    await expect(startPrometheus({ configYaml: 'scrape_configs: [[[\n' })).rejects.toThrow(/exited early[\s\S]*(yaml|config)/i);
  });
});
