// Counter adjustment at replica switches end to end (docs/merge-rules.md): two Prometheus 2.42
// replicas of one HA group, the second scraping 1 s later and reading a counter that lags two
// scrapes behind (a cached exporter), each missing a different stretch. Every switch between them
// lands on a value below the last one taken; without the adjustment rate() and increase() would see
// a counter reset and add the whole counter value. Through ./proxy with the default config they
// answer as a reference Prometheus holding the first replica's complete data: exactly away from the
// switches, within the increments the lag hides across them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKFILL_START_MS, type BackfillDataSet, type BackfillSeries } from '../../dev/backfill.js';
import type { PrometheusProcess } from '../../dev/prometheus-process.js';
import { sameData } from '../support/api-answer.js';
import { askBody as ask, startHaFixture, type HaFixture } from '../support/ha-fixture.js';
import type { ProxyProcess } from '../support/proxy.js';

const STEP_MS = 5_000;
const SPAN_MS = 30 * 60_000;
const START_MS = BACKFILL_START_MS;
const END_MS = START_MS + SPAN_MS;
const SLOPES = [0.5, 3, 40];
const LAG = 2;
const SKEW_MS = 1_000;

/**
 * The counters as one replica holds them: a steady rate per series (so a replica reading the same
 * counter a little later or a little behind sees the same increments), with `skip` stretches
 * missing. `lag` scrapes behind and `skewMs` later than the first replica.
 */
function dataSet(skip: [number, number], lag: number, skewMs: number): BackfillDataSet {
  const n = Math.floor(SPAN_MS / STEP_MS);
  const series: BackfillSeries[] = SLOPES.map((slope, k) => {
    const timestamps: number[] = [];
    const values: number[] = [];
    for (let i = 0; i < n; i++) {
      const f = i / n;
      if (f >= skip[0] && f < skip[1]) continue;
      timestamps.push(START_MS + i * STEP_MS + skewMs);
      values.push(1_000 * (k + 1) + slope * Math.max(0, i - lag) * (STEP_MS / 1000));
    }
    return { labels: { __name__: 'work_total', job: 'worker', instance: `w${k}` }, timestamps, values };
  });
  const sampleCount = series.reduce((a, s) => a + s.values.length, 0);
  return {
    startMs: START_MS,
    endMs: END_MS,
    stepMs: STEP_MS,
    families: [{ name: 'work', type: 'counter', help: 'Work done.', series }],
    seriesCount: series.length,
    sampleCount,
  };
}

describe('rate and increase across switches between skewed, lagging replicas', () => {
  let fixture: HaFixture | undefined;
  let reference: PrometheusProcess;
  let replicas: PrometheusProcess[] = [];
  let proxy: ProxyProcess;

  beforeAll(async () => {
    fixture = await startHaFixture(dataSet([2, 2], 0, 0), dataSet([0.3, 0.45], 0, 0), dataSet([0.65, 0.8], LAG, SKEW_MS));
    ({ reference, replicas, proxy } = fixture);
  }, 180_000);

  afterAll(() => fixture?.stop());

  const params = (query: string) => ({ query, start: String(START_MS / 1000 + 300), end: String(END_MS / 1000), step: '30' });

  it('the second replica alone reads below the first at the switch (the case is real)', async () => {
    // At the first switch (the first replica's gap begins) the second replica's next sample is below
    // the first replica's last: a merge without adjustment sees a reset there.
    const t = (START_MS + 0.3 * SPAN_MS) / 1000;
    const q = { query: 'work_total', time: String(t) };
    const first = await ask(replicas[0].url, '/api/v1/query', { ...q, time: String(t - STEP_MS / 1000) });
    const second = await ask(replicas[1].url, '/api/v1/query', { ...q, time: String(t + 2) });
    for (const s of first.data!.result) {
      const other = second.data!.result.find((x) => x.metric.instance === s.metric.instance)!;
      expect(Number(other.value![1]), s.metric.instance).toBeLessThan(Number(s.value![1]));
    }
  });

  it('resets() finds no reset where the reference has none', async () => {
    const ref = await ask(reference.url, '/api/v1/query_range', params('resets(work_total[10m])'));
    expect(ref.data!.result.length, 'reference has data').toBe(SLOPES.length);
    expect(sameData(ref, await ask(proxy.url, '/api/v1/query_range', params('resets(work_total[10m])')))).toBeUndefined();
  });

  // A switch to a lagging replica loses (or, switching back, gains) at most the increments the lag
  // hides: the shortfall is added, the true increase across the switch is not known (Thanos's dedup
  // has the same limit, docs/merge-rules.md). A false reset would add the whole counter (>= 1000),
  // hundreds of times the tolerance.
  for (const [query, windowS] of [
    ['rate(work_total[5m])', 300],
    ['increase(work_total[5m])', 300],
    ['rate(work_total[1m])', 60],
  ] as const) {
    it(`${query} stays within the lag's increments of the reference over the whole range, exact away from the switches`, async () => {
      const ref = await ask(reference.url, '/api/v1/query_range', params(query));
      const got = await ask(proxy.url, '/api/v1/query_range', params(query));
      expect(ref.data!.result.length, 'reference has data').toBe(SLOPES.length);
      expect(got.data!.result.length).toBe(SLOPES.length);
      const tolerance = (LAG * STEP_MS) / 1000 / windowS;
      let exact = 0;
      let points = 0;
      for (const r of ref.data!.result) {
        const g = got.data!.result.find((x) => x.metric.instance === r.metric.instance)!;
        expect(g.values!.map(([t]) => t)).toEqual(r.values!.map(([t]) => t));
        r.values!.forEach(([t, v], i) => {
          const want = Number(v);
          const have = Number(g.values![i][1]);
          expect(Math.abs(have - want), `${r.metric.instance} at ${t}: ${have}, reference ${want}`).toBeLessThanOrEqual(tolerance * want + 1e-9);
          points++;
          if (Math.abs(have - want) <= 1e-9 * want) exact++;
        });
      }
      // Windows that hold no switch are the reference's exactly.
      expect(exact).toBeGreaterThan(points / 2);
    });
  }
});
