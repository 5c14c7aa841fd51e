// Per-group partial aggregation (src/query/partials): which aggregations are planned, and the
// combine step against the engine's own aggregation over all series. The engine evaluates each
// group's partials over that group's series alone, as a worker does; the combined answer must equal
// the engine's answer over all series within the promqltest tolerance. The workers themselves run
// in test/e2e/query-partials.test.ts (they need the built program).

import { describe, expect, it } from 'vitest';
import { prng } from '../../../dev/backfill.js';
import { Engine } from '../../../src/promql/engine.js';
import { parseExpr } from '../../../src/promql/parser.js';
import type { AggregateExpr } from '../../../src/promql/ast.js';
import { compareSeriesValue } from '../../../src/promql/promqltest/testfile.js';
import { combinePartials, type PartialSeries } from '../../../src/query/partials/combine.js';
import { planPartials, type PartialPlan } from '../../../src/query/partials/plan.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { labelsFromRecord, labelsKey } from '../../../src/model/labels.js';

const agg = (q: string): AggregateExpr => parseExpr(q) as AggregateExpr;

describe('planPartials', () => {
  it('plans the operators that decompose, with the same grouping', () => {
    expect(planPartials(agg('sum by (job) (rate(x[5m]))'))).toMatchObject({ partials: ['sum by (job) (rate(x[5m]))'], combine: 'sum' });
    expect(planPartials(agg('count without (instance) (x)'))).toMatchObject({ partials: ['count without (instance) (x)'], combine: 'sum' });
    expect(planPartials(agg('avg(x offset 5m)'))).toMatchObject({ partials: ['sum(x offset 5m)', 'count(x offset 5m)'], combine: 'avg' });
    for (const op of ['min', 'max', 'group']) expect(planPartials(agg(`${op} by (a) (abs(x) * 2)`))).toMatchObject({ combine: op });
    const p = planPartials(agg('sum(rate(x{job="a"}[5m]))')) as PartialPlan;
    expect(p.matchers.map((m) => `${m.name}${m.type}${m.value}`).sort()).toEqual(['__name__=x', 'job=a']);
  });

  it('refuses operators that do not decompose, and operands that could pair series of two groups', () => {
    for (const q of ['topk(3, x)', 'quantile(0.5, x)', 'stddev(x)', 'count_values("v", x)']) expect(planPartials(agg(q)), q).toBe('operator');
    for (const q of [
      'sum(x / y)',
      'sum(x * on (a) group_left y)',
      'sum(x or y)',
      'sum(max by (a) (x))',
      'sum(rate(x[5m:1m]))',
      'sum(x @ 100)',
      'sum(x @ start())',
      'sum(label_replace(x, "a", "b", "c", "d"))',
      'sum(histogram_quantile(0.9, x))',
      'sum(absent(x))',
      'sum(vector(1))',
    ]) {
      expect(planPartials(agg(q)), q).toBe('operand');
    }
  });
});

/** Random series of `n` label sets over a few jobs, some with gaps, NaN and Inf, split over groups. */
function dataSet(seed: number, n: number, groups: number): { all: MemoryStorage; parts: MemoryStorage[] } {
  const rnd = prng(seed);
  const all = new MemoryStorage();
  const parts = Array.from({ length: groups }, () => new MemoryStorage());
  for (let i = 0; i < n; i++) {
    const labels = labelsFromRecord({ __name__: 'x', job: `j${i % 3}`, instance: `i${i}`, zone: i % 2 === 0 ? 'a' : 'b' });
    const g = Math.floor(rnd() * groups);
    let v = rnd() * 100;
    for (let t = 0; t <= 3600_000; t += 15_000) {
      if (rnd() < 0.1) continue;
      v += rnd() < 0.01 ? -v : rnd() * 10;
      const value = rnd() < 0.005 ? NaN : rnd() < 0.002 ? Infinity : v;
      all.add(labels, t, value);
      parts[g].add(labels, t, value);
    }
  }
  return { all, parts };
}

async function viaPartials(engine: Engine, q: string, parts: MemoryStorage[], start: number, end: number, step: number): Promise<PartialSeries[]> {
  const plan = planPartials(agg(q)) as PartialPlan;
  const groups = await Promise.all(
    parts.map((storage) =>
      Promise.all(
        plan.partials.map(async (text) => {
          const r = (await engine.rangeQuery(storage, text, start, end, step)).result;
          if (r.resultType !== 'matrix') throw new Error(r.resultType);
          return r.result.map((s) => ({ labels: s.labels, timestamps: Float64Array.from(s.timestamps), values: Float64Array.from(s.values) }));
        }),
      ),
    ),
  );
  return combinePartials(plan.combine, groups, { startMs: start, endMs: end, stepMs: step });
}

describe('combinePartials', () => {
  const queries = [
    'sum by (job) (rate(x[5m]))',
    'sum(x)',
    'count without (instance) (x > 50)',
    'avg by (zone) (x)',
    'avg(rate(x[2m]))',
    'min by (job) (x)',
    'max(x)',
    'max by (zone) (irate(x[1m]))',
    'group by (job) (x)',
  ];
  for (const semantics of ['prometheus-3', 'prometheus-2'] as const) {
    for (const q of queries) {
      it(`${semantics}: ${q} over 4 groups equals the engine over all series`, async () => {
        const engine = new Engine({ semantics });
        const { all, parts } = dataSet(q.length * 7 + 1, 40, 4);
        const [start, end, step] = [300_000, 3600_000, 30_000];
        const want = (await engine.rangeQuery(all, q, start, end, step)).result;
        if (want.resultType !== 'matrix') throw new Error(want.resultType);
        const got = await viaPartials(engine, q, parts, start, end, step);
        expect(got.map((s) => labelsKey(s.labels))).toEqual(want.result.map((s) => labelsKey(s.labels)));
        let points = 0;
        for (const [k, w] of want.result.entries()) {
          const g = got[k];
          expect(Array.from(g.timestamps)).toEqual(w.timestamps);
          for (let i = 0; i < w.values.length; i++)
            expect(compareSeriesValue(w.values[i], g.values[i]), `${labelsKey(w.labels)} @${w.timestamps[i]}: ${g.values[i]} vs ${w.values[i]}`).toBe(true);
          points += w.values.length;
        }
        expect(points).toBeGreaterThan(50);
      });
    }
  }

  it('min and max skip a NaN partial unless every partial is NaN; avg divides the summed sums by the summed counts', () => {
    const L = labelsFromRecord({});
    const one = (v: number): PartialSeries[] => [{ labels: L, timestamps: Float64Array.of(0), values: Float64Array.of(v) }];
    const steps = { startMs: 0, endMs: 0, stepMs: 0 };
    expect(combinePartials('max', [[one(NaN)], [one(3)], [one(2)]], steps)[0].values[0]).toBe(3);
    expect(combinePartials('min', [[one(4)], [one(NaN)], [one(2)]], steps)[0].values[0]).toBe(2);
    expect(combinePartials('min', [[one(NaN)], [one(NaN)]], steps)[0].values[0]).toBeNaN();
    expect(combinePartials('sum', [[one(Infinity)], [one(1)]], steps)[0].values[0]).toBe(Infinity);
    expect(combinePartials('sum', [[one(Infinity)], [one(-Infinity)]], steps)[0].values[0]).toBeNaN();
    expect(combinePartials('group', [[one(1)], [one(1)]], steps)[0].values[0]).toBe(1);
    expect(
      combinePartials(
        'avg',
        [
          [one(10), one(4)],
          [one(2), one(1)],
        ],
        steps,
      )[0].values[0],
    ).toBe(12 / 5);
  });

  it('a partial point that is not a step of the evaluation is an error, not a guess', () => {
    const s: PartialSeries = { labels: labelsFromRecord({}), timestamps: Float64Array.of(15_000), values: Float64Array.of(1) };
    expect(() => combinePartials('sum', [[[s]]], { startMs: 0, endMs: 60_000, stepMs: 30_000 })).toThrow(/not a step/);
  });
});
