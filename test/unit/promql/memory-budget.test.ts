// max_samples charged before allocation: subqueries with more steps than max_samples, and
// count_values with more points (or a dense form of more cells) than max_samples, are refused
// before they allocate; count_values as a range query's answer allocates only its points.

import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/promql/engine.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { PromQLError } from '../../../src/errors.js';

const TOO_MANY = 'query processing would load too many samples into memory in query execution';
const st = new MemoryStorage();

async function refusal(p: Promise<unknown>): Promise<PromQLError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PromQLError);
  return e as PromQLError;
}

/** Typed-array memory held outside the JS heap, in MB (where the engine's per-step arrays live). */
function arrayBuffersMB(): number {
  return process.memoryUsage().arrayBuffers / 2 ** 20;
}

describe('max_samples at allocation', () => {
  it('refuses a subquery of more steps than max_samples before allocating its steps', async () => {
    const before = arrayBuffersMB();
    const t0 = performance.now();
    const e = await refusal(new Engine().instantQuery(st, 'count_over_time(vector(1)[1d:1ms])', 86_400_000));
    expect(e.errorType).toBe('execution');
    expect(e.message).toBe(TOO_MANY);
    // 86.4 M steps would be 691 MB of timestamps alone.
    expect(arrayBuffersMB() - before).toBeLessThan(50);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('answers a subquery within max_samples exactly, and refuses one step more', async () => {
    const engine = new Engine({ maxSamples: 100 });
    const ok = await engine.instantQuery(st, 'count_over_time(vector(1)[99s:1s])', 1_000_000);
    expect(ok.result).toEqual({ resultType: 'vector', result: [{ labels: [], t: 1_000_000, v: 99 }] });
    const e = await refusal(engine.instantQuery(st, 'count_over_time(vector(1)[101s:1s])', 1_000_000));
    expect(e.message).toBe(TOO_MANY);
  });

  it('answers count_values over 11,000 steps with its 11,000 points', async () => {
    const out = await new Engine().rangeQuery(st, 'count_values("v", vector(time()))', 0, 10_999_000, 1000);
    expect(out.result.resultType).toBe('matrix');
    const r = out.result as Extract<typeof out.result, { resultType: 'matrix' }>;
    expect(r.result).toHaveLength(11_000);
    const byV = new Map(r.result.map((s) => [s.labels[0].value, s]));
    for (const t of [0, 1, 5_000, 10_999]) {
      const s = byV.get(String(t))!;
      expect(s.labels).toEqual([{ name: 'v', value: String(t) }]);
      expect(s.timestamps).toEqual([t * 1000]);
      expect(s.values).toEqual([1]);
    }
    // The same query evaluated as a dense intermediate (one cell per step and distinct value).
    const same = await new Engine().rangeQuery(st, 'count_values("v", vector(time()))', 0, 99_000, 1000);
    const dense = await new Engine().rangeQuery(st, 'count_values("v", vector(time())) * 1', 0, 99_000, 1000);
    expect(dense.result).toEqual(same.result);
  });

  it('refuses count_values whose points, or whose dense form inside an expression, pass max_samples', async () => {
    const engine = new Engine({ maxSamples: 1000 });
    // 1,001 points over 1,001 steps.
    const e1 = await refusal(engine.rangeQuery(st, 'count_values("v", vector(time()))', 0, 1_000_000, 1000));
    expect(e1.message).toBe(TOO_MANY);
    // 40 points, but 40 distinct values x 40 steps = 1,600 dense cells.
    const e2 = await refusal(engine.rangeQuery(st, 'count(count_values("v", vector(time())))', 0, 39_000, 1000));
    expect(e2.message).toBe(TOO_MANY);
    const ok = await engine.rangeQuery(st, 'count(count_values("v", vector(time())))', 0, 30_000, 1000);
    const r = ok.result as Extract<typeof ok.result, { resultType: 'matrix' }>;
    expect(r.result[0].values).toEqual(new Array(31).fill(1));
  });
});
