// The engine's sample counts for `stats` (ExecOptions.countSamples) on in-memory data: Prometheus
// 2.42's rules, worked out by hand here and checked against a live 2.42 in
// test/e2e/exact-stats.test.ts.

import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/promql/engine.js';
import { MemoryStorage } from '../../../src/storage/memory.js';

const S = 1000;

/** Two series sampled every 10 s from 0 to 300 s; the second stops at 100 s. */
function storage(): MemoryStorage {
  const st = new MemoryStorage();
  for (let t = 0; t <= 300; t += 10) {
    st.add({ __name__: 'x', k: 'a' }, t * S, t);
    if (t <= 100) st.add({ __name__: 'x', k: 'b' }, t * S, 2 * t);
  }
  return st;
}

const engine = new Engine({ semantics: 'prometheus-2' });
const instant = (q: string, t: number, countSamples = true) => engine.execInstant(engine.prepare(q), storage(), t * S, undefined, { countSamples });
const range = (q: string) => engine.execRange(engine.prepare(q), storage(), 200 * S, 300 * S, 50 * S, undefined, { countSamples: true });

describe('sample counts', () => {
  it('nothing is counted unless asked', async () => {
    expect((await instant('x', 300, false)).samples).toBeUndefined();
  });

  it('a vector selector counts 1 per point and step', async () => {
    expect((await instant('x', 300)).samples).toMatchObject({ total: 2, perStep: [2] });
    // At 450 b's last sample (100) is older than the 5m lookback.
    expect((await instant('x', 450)).samples).toMatchObject({ total: 1, perStep: [1] });
    expect((await instant('x', 150)).samples).toMatchObject({ total: 2, perStep: [2] });
    // Steps 200, 250, 300: a at each, b (last sample at 100) within 5m of 200, 250, 300.
    expect((await range('x')).samples).toMatchObject({ total: 6, perStep: [2, 2, 2] });
  });

  it('a range function counts the samples of each step’s window [t - 1m, t]', async () => {
    // At 300: a has 7 samples in [240, 300], b none.
    expect((await instant('rate(x[1m])', 300)).samples).toMatchObject({ total: 7, perStep: [7] });
    expect((await range('sum(rate(x[1m]))')).samples).toMatchObject({ total: 21, perStep: [7, 7, 7] });
  });

  it('a range selector as the whole query counts its samples; a subquery its inner reads', async () => {
    expect((await instant('x[1m]', 100)).samples).toMatchObject({ total: 14, perStep: [14] });
    // Inner steps 60..120 by 20 (aligned, after 120 - 1m): 4 steps x (a + b, b present up to 100 + 5m).
    expect((await instant('x[1m:20s]', 120)).samples).toMatchObject({ total: 8 });
  });

  it('a function over a subquery counts the subquery’s points in its windows, not the inner reads', async () => {
    // rate(x[1m])[1m:20s] at 300 has points at 240, 260, 280, 300 (a only): 4.
    expect((await instant('max_over_time(rate(x[1m])[1m:20s])', 300)).samples).toMatchObject({ total: 4 });
  });

  it('peakSamples: a node’s value plus its arguments’ at most', async () => {
    const s = (await instant('x + x', 150)).samples!;
    expect(s.peak).toBe(6);
  });
});
