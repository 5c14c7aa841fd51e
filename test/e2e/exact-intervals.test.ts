// Adaptive anti-affinity end to end: for data scraped every 1 s, 5 s and 60 s, two Prometheus 2.42
// replicas each missing a different stretch, behind ./proxy with the default config (anti_affinity
// 10 s), answer range queries over windows that span the switches exactly as a reference
// Prometheus holding all the data. A fixed 10 s window dropped the first filling sample at 1 s and
// 5 s (count_over_time off by one per switch).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKFILL_START_MS, generateBackfillData } from '../../dev/backfill.js';
import { withoutStretches } from '../../dev/split.js';
import { sameData } from '../support/api-answer.js';
import { askBody as ask, startHaFixture, type HaFixture } from '../support/ha-fixture.js';

// Per interval: how long the data lasts (kept small at 1 s: every sample is backfilled).
const CASES = [
  { stepMs: 1_000, spanMs: 8 * 60_000 },
  { stepMs: 5_000, spanMs: 30 * 60_000 },
  { stepMs: 60_000, spanMs: 3 * 60 * 60_000 },
];

for (const { stepMs, spanMs } of CASES) {
  describe(`replicas scraped every ${stepMs / 1000} s with gaps, default anti-affinity`, () => {
    let fixture: HaFixture | undefined;
    const startMs = BACKFILL_START_MS;
    const endMs = startMs + spanMs;
    const win = `${Math.round(spanMs / 4 / 1000)}s`;
    const queries = [
      `count_over_time(up[${win}])`,
      `rate(http_requests_total[${win}])`,
      `increase(cpu_seconds_total[${win}])`,
      `avg_over_time(temperature_celsius[${win}])`,
      `quantile_over_time(0.9, memory_usage_bytes[${win}])`,
      `changes(queue_length[${win}])`,
      `last_over_time(temperature_celsius[${win}])`,
    ];

    beforeAll(async () => {
      const data = generateBackfillData({ stepMs, startMs, endMs });
      const at = (f: number) => startMs + Math.round(f * spanMs);
      const a = withoutStretches(data, [{ fromMs: at(0.2), toMs: at(0.35) }]);
      const b = withoutStretches(data, [{ fromMs: at(0.6), toMs: at(0.7) }]);
      fixture = await startHaFixture(data, a, b);
    }, 180_000);

    afterAll(() => fixture?.stop());

    for (const query of queries) {
      it(`${query} equals the reference over the whole range`, async () => {
        const params = { query, start: String(startMs / 1000 + spanMs / 4000), end: String(endMs / 1000), step: String(Math.max(1, spanMs / 1000 / 120)) };
        const ref = await ask(fixture!.reference.url, '/api/v1/query_range', params);
        expect(ref.data!.result.length, 'reference has data').toBeGreaterThan(0);
        expect(sameData(ref, await ask(fixture!.proxy.url, '/api/v1/query_range', params))).toBeUndefined();
      });
    }
  });
}
