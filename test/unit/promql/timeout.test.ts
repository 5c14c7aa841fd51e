// The query timeout holds: heavy query shapes evaluated synchronously by the in-process engine stop
// close to their deadline, not after the whole evaluation (the engine looks at the clock in every
// loop that can run long, since a timer cannot fire while evaluation holds the event loop).

import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/promql/engine.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { PromQLError, QUERY_TIMEOUT_MESSAGE } from '../../../src/errors.js';
import { createQueryApi } from '../../../src/server/api/query-api.js';

const S = 1000;
const H = 3600 * S;

/** 400 series of one metric, one sample every 15 s over 3 h (288,000 samples). */
function storage(): MemoryStorage {
  const st = new MemoryStorage();
  for (let i = 0; i < 400; i++) {
    const labels = { __name__: 'm', i: String(i), g: String(i % 20) };
    for (let t = 0; t <= 3 * H; t += 15 * S) st.add(labels, t, (t / 1000) * (1 + (i % 7)));
  }
  return st;
}

const st = storage();
const TIMEOUT_MS = 1000;
const engine = new Engine({ timeoutMs: TIMEOUT_MS });

// Each would run for many seconds without a deadline on this data.
const shapes: { name: string; run: () => Promise<unknown> }[] = [
  // Three subqueries one after the other: one alone ends in under a second on an idle core.
  {
    name: 'subqueries of a constant at 1ms steps',
    run: () =>
      engine.instantQuery(
        st,
        'count_over_time((vector(1) + 1)[2h:1ms]) + count_over_time((vector(2) + 1)[2h:1ms]) + count_over_time((vector(3) + 1)[2h:1ms])',
        3 * H,
      ),
  },
  { name: 'nested subquery over selectors', run: () => engine.instantQuery(st, 'max_over_time(rate(m[5m])[3h:100ms])', 3 * H) },
  { name: 'range query of windows', run: () => engine.rangeQuery(st, 'quantile_over_time(0.9, m[1h])', 0, 3 * H, 1 * S) },
  { name: 'binary op many-to-one', run: () => engine.rangeQuery(st, 'm * on(g) group_left max by (g) (m)', 0, 3 * H, 1 * S) },
  { name: 'aggregation', run: () => engine.rangeQuery(st, 'quantile by (g) (0.5, m) + count_values by (g) ("v", m)', 0, 3 * H, 1 * S) },
];

describe('query timeout', () => {
  for (const shape of shapes) {
    it(`${shape.name}: a 1 s timeout answers before 2 s`, async () => {
      const t0 = performance.now();
      const err = await shape.run().then(
        () => undefined,
        (e: unknown) => e,
      );
      const took = performance.now() - t0;
      console.log(`${shape.name}: ${Math.round(took)} ms`);
      expect(err).toBeInstanceOf(PromQLError);
      expect((err as PromQLError).errorType).toBe('timeout');
      expect((err as PromQLError).message).toBe(QUERY_TIMEOUT_MESSAGE);
      expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      expect(took).toBeLessThan(2 * TIMEOUT_MS);
    }, 120_000);
  }
});

describe('query timeout through the HTTP API', () => {
  // The engine's own timeout is long: the request's `timeout` parameter is what must hold.
  const api = createQueryApi({ storage: st, engine: new Engine({ timeoutMs: 120_000 }), now: () => 3 * H });
  for (const timeoutS of [1, 2]) {
    it(`timeout=${timeoutS} answers 503 timeout within 1.5 x ${timeoutS} s`, async () => {
      const t0 = performance.now();
      const res = await api.request(`/query_range?query=${encodeURIComponent('quantile_over_time(0.9, m[1h])')}&start=0&end=10800&step=1&timeout=${timeoutS}`);
      const took = performance.now() - t0;
      console.log(`HTTP timeout=${timeoutS}: ${Math.round(took)} ms`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'error', errorType: 'timeout', error: QUERY_TIMEOUT_MESSAGE });
      expect(took).toBeGreaterThanOrEqual(timeoutS * 1000 - 5);
      expect(took).toBeLessThan(timeoutS * 1500);
    }, 120_000);
  }
});

describe('encoding a large answer', () => {
  it('stops at the deadline when a query answered just before it', async () => {
    const engine = new Engine();
    const samples = Array.from({ length: 400_000 }, (_, i) => ({ labels: [{ name: 'i', value: String(i) }], t: 0, v: i }));
    // Answers 30 ms before a 300 ms deadline: encoding 400,000 samples takes longer than that.
    engine.execInstant = async () => {
      await new Promise((r) => setTimeout(r, 270));
      return { result: { resultType: 'vector', result: samples }, warnings: [], infos: [] };
    };
    const api = createQueryApi({ storage: st, engine, now: () => 0 });
    const t0 = performance.now();
    const res = await api.request('/query?query=m&time=0&timeout=0.3');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'error', errorType: 'timeout', error: QUERY_TIMEOUT_MESSAGE });
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
