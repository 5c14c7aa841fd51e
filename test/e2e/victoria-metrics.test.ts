// VictoriaMetrics 1.79 (Debian's package) as a downstream of the JSON-API target: what comes back
// exactly, and the three ways it differs from Prometheus that docs/victoriametrics.md describes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKFILL_START_MS, generateBackfillData, loadIntoMemory, type BackfillDataSet } from '../../dev/backfill.js';
import { startBackfilledVictoriaMetrics, storedByVictoriaMetrics, type VictoriaMetricsProcess } from '../../dev/victoria-metrics.js';
import { JsonApiTarget } from '../../src/query/downstream/json-api-client.js';
import type { LabelMatcher } from '../../src/model/labels.js';
import { type Series } from '../../src/storage/interface.js';
import { labelsToString } from '../../src/model/labels.js';
import type { MemoryStorage } from '../../src/storage/memory.js';

const MIN = 60_000;
const T0 = BACKFILL_START_MS; // 2024-01-01T00:00:00Z: a midnight
const END = T0 + 40 * MIN;
const all: LabelMatcher[] = [{ type: '=~', name: '__name__', value: '.+' }];

/** Series as comparable text, NaN samples left out (VictoriaMetrics does not keep them). */
function plain(series: Series[]): string[] {
  const out: string[] = [];
  for (const s of series) {
    const points: string[] = [];
    for (let i = 0; i < s.timestamps.length; i++) if (!Number.isNaN(s.values[i])) points.push(`${s.timestamps[i]}=${s.values[i]}`);
    if (points.length > 0) out.push(`${labelsToString(s.labels)} ${points.join(' ')}`);
  }
  return out;
}

async function rawQuery(vm: VictoriaMetricsProcess, query: string, timeSec: string): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
  const res = await fetch(`${vm.url}/api/v1/query?${new URLSearchParams({ query, time: timeSec }).toString()}`);
  const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

describe('VictoriaMetrics 1.79 through the JSON-API target', () => {
  let data: BackfillDataSet;
  let memory: MemoryStorage;
  let vm: VictoriaMetricsProcess;
  let target: JsonApiTarget;

  beforeAll(async () => {
    data = generateBackfillData({ endMs: END, extended: true });
    memory = loadIntoMemory(data);
    // Fails (never skips) with an install hint when victoria-metrics is missing.
    vm = await startBackfilledVictoriaMetrics(data);
    target = new JsonApiTarget({ url: vm.url, timeoutMs: 30_000 });
  }, 60_000);

  afterAll(async () => {
    await target?.close();
    await vm?.stop();
  });

  it('returns every imported sample unchanged, except NaN values, which it drops at ingestion', async () => {
    for (const [start, end] of [
      [T0, END],
      [T0 + 7 * MIN + 1, T0 + 21 * MIN],
      [T0 - 60 * MIN, END + 60 * MIN],
    ] as const) {
      const got = await target.select(all, start, end);
      expect(plain(got), `[${start}, ${end}]`).toEqual(plain(await memory.select(all, start, end)));
      for (const s of got) expect(s.values.some((v) => Number.isNaN(v))).toBe(false);
    }
    const want = storedByVictoriaMetrics(data);
    expect(want.samples).toBeLessThan(data.sampleCount); // the data set has NaN samples to drop
    const got = await target.select(all, T0, END);
    expect(got.reduce((n, s) => n + s.timestamps.length, 0)).toBe(want.samples);
  });

  it('finds series that begin at midnight in a window ending exactly at midnight (VictoriaMetrics issue #9804)', async () => {
    const atMidnight = (await memory.select(all, T0, T0)).length;
    expect(atMidnight, 'the data set has series with a sample at 00:00:00').toBeGreaterThan(0);
    // VictoriaMetrics 1.79 itself: a window ending exactly at midnight searches only the previous
    // day's series index and misses them; one millisecond later it finds them.
    expect(await rawQuery(vm, '{__name__=~".+"}[5m]', String(T0 / 1000))).toHaveLength(0);
    expect(await rawQuery(vm, '{__name__=~".+"}[5m]', String((T0 + 1) / 1000))).toHaveLength(atMidnight);
    // The target asks one millisecond past the end, so a select ending at midnight is complete.
    const got = await target.select(all, T0 - 5 * MIN, T0);
    expect(plain(got)).toEqual(plain(await memory.select(all, T0 - 5 * MIN, T0)));
    expect(got).toHaveLength(atMidnight);
  });

  it('keeps about 12 significant decimal digits of non-integer values (lib/decimal)', async () => {
    const t = T0 + 30 * MIN;
    const values: Record<string, number> = {
      third: 1 / 3, // 0.333333333333 back
      sum: 0.1 + 0.2, // 0.3 back
      pi_big: 31415926535.89793, // 31415926535.8979 back (15 digits above 1e6)
      tiny: 5e-324, // 0 back
      int: 123456789012345, // integers below 2^55 come back exactly
      short: 1234.5678, // values with few digits come back exactly
    };
    await vm.importPrometheusText(
      Object.entries(values)
        .map(([k, v]) => `precision_test{k="${k}"} ${v} ${t}`)
        .join('\n') + '\n',
    );
    await vm.flush();
    const got = new Map<string, number>();
    for (const s of await target.select([{ type: '=', name: '__name__', value: 'precision_test' }], t, t)) {
      got.set(s.labels.find((l) => l.name === 'k')!.value, s.values[0]);
    }
    expect(Object.fromEntries(got)).toEqual({ third: 0.333333333333, sum: 0.3, pi_big: 31415926535.8979, tiny: 0, int: 123456789012345, short: 1234.5678 });
  });
});
