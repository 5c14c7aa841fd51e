// promtool, Prometheus's own API client, against the proxy: `promtool query instant|range` print
// the same output from the proxy (one server group of two replicas with gaps) as from a reference
// Prometheus 2.42 holding all the data, in both of promtool's output formats.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKFILL_END_MS, BACKFILL_START_MS, findPromtool, generateBackfillData, startBackfilledPrometheus } from '../../dev/backfill.js';
import { withoutStretches } from '../../dev/split.js';
import type { PrometheusProcess } from '../../dev/prometheus-process.js';
import { startProxy, type ProxyProcess } from '../support/proxy.js';

const run = promisify(execFile);
const MIN = 60_000;

async function promtool(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(findPromtool(), args, { timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** promtool prints series in the server's order, which for instant vectors is not defined: compare sorted lines. */
function lines(s: string): string[] {
  return s
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}

/** promtool's JSON output of an instant vector, in a fixed order (Prometheus's own order can vary between runs). */
function sortedVector(json: string): unknown {
  const v = JSON.parse(json) as unknown;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'object' && x !== null && 'metric' in x)) return v; // a scalar
  return [...v].sort((a, b) => JSON.stringify(a.metric).localeCompare(JSON.stringify(b.metric)));
}

const QUERIES = [
  'sum by (job) (rate(http_requests_total[5m]))',
  'histogram_quantile(0.9, sum by (le, job) (rate(request_duration_seconds_bucket[10m])))',
  'up',
  'scalar(sum(up))',
  'max_over_time(temperature_celsius[15m]) > scalar(avg(temperature_celsius))',
];

describe('promtool query against the proxy', () => {
  let reference: PrometheusProcess;
  let replicas: PrometheusProcess[] = [];
  let proxy: ProxyProcess;
  const start = BACKFILL_START_MS / 1000;
  const end = BACKFILL_END_MS / 1000;

  beforeAll(async () => {
    const data = generateBackfillData();
    const a = withoutStretches(data, [{ fromMs: BACKFILL_START_MS + 10 * MIN, toMs: BACKFILL_START_MS + 30 * MIN }]);
    const b = withoutStretches(data, [{ fromMs: BACKFILL_START_MS + 60 * MIN, toMs: BACKFILL_START_MS + 75 * MIN }]);
    [reference, ...replicas] = await Promise.all([data, a, b].map(startBackfilledPrometheus));
    proxy = await startProxy(
      (listen) => `
listen: ${listen}
log_level: warn
query:
  semantics: prometheus-2
  server_groups:
    - static_configs: [{targets: ["127.0.0.1:${replicas[0].port}", "127.0.0.1:${replicas[1].port}"]}]
`,
    );
  }, 180_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([reference, ...replicas].filter(Boolean).map((p) => p.stop()));
  });

  for (const query of QUERIES) {
    it(`promtool query instant ${query}`, async () => {
      for (const t of [start + 20 * 60, start + 70 * 60]) {
        for (const format of ['promql', 'json']) {
          const args = ['query', 'instant', `--time=${t}`, `--format=${format}`];
          const ref = await promtool([...args, reference.url, query]);
          const got = await promtool([...args, proxy.url, query]);
          expect(ref.code, ref.stderr).toBe(0);
          expect(got.code, got.stderr).toBe(0);
          expect(ref.stdout.trim(), 'reference answered something').not.toBe('');
          if (format === 'json') expect(sortedVector(got.stdout)).toEqual(sortedVector(ref.stdout));
          else expect(lines(got.stdout)).toEqual(lines(ref.stdout));
        }
      }
    });
    it(`promtool query range ${query}`, async () => {
      const args = ['query', 'range', `--start=${start + 5 * 60}`, `--end=${end}`, '--step=1m'];
      const ref = await promtool([...args, reference.url, query]);
      const got = await promtool([...args, proxy.url, query]);
      expect(ref.code, ref.stderr).toBe(0);
      expect(got.code, got.stderr).toBe(0);
      expect(ref.stdout.trim()).not.toBe('');
      expect(got.stdout).toBe(ref.stdout);
    });
  }

  it("a bad query gives promtool the server's error, as from Prometheus", async () => {
    const ref = await promtool(['query', 'instant', reference.url, 'sum(']);
    const got = await promtool(['query', 'instant', proxy.url, 'sum(']);
    expect(got.code).toBe(ref.code);
    expect(got.code).not.toBe(0);
    expect(got.stderr).toBe(ref.stderr);
  });
});
