// PromQL functions' math against Go's corner cases.

import { describe, expect, test } from 'vitest';
import {
  RANGE_FUNCTIONS,
  durationSeconds,
  goFormatF,
  goFormatG,
  possibleNonCounterInfo,
  type RangeFnContextWithOffset,
} from '../../../src/promql/functions/range.js';
import { ELEMENT_FUNCTIONS, clampDropsAll, frexp, goLog10, goLog2, goMod, goPow, ldexp } from '../../../src/promql/functions/element.js';
import { bucketFraction, bucketQuantile, quantile } from '../../../src/promql/functions/quantile.js';
import { AvgAccumulator, SumAccumulator, VarianceAccumulator, kahanSum, kahanSumInc } from '../../../src/promql/functions/kahan.js';
import type { Semantics, Window } from '../../../src/promql/functions/types.js';

const V3: Semantics = 'prometheus-3';
const V2: Semantics = 'prometheus-2';
const BOTH: Semantics[] = [V3, V2];

/** A window over samples given as [seconds, value] pairs (padded with a sample on each side that must be ignored). */
function win(samples: Array<[number, number]>): Window {
  const ts = new Float64Array(samples.length + 2);
  const vs = new Float64Array(samples.length + 2);
  ts[0] = -1e12;
  vs[0] = 12345;
  samples.forEach(([t, v], i) => {
    ts[i + 1] = t * 1000;
    vs[i + 1] = v;
  });
  ts[samples.length + 1] = 1e12;
  vs[samples.length + 1] = -12345;
  return { ts, vs, from: 1, to: samples.length + 1 };
}

interface Call {
  semantics?: Semantics;
  evalS?: number;
  rangeS?: number;
  offsetS?: number;
  args?: number[];
  metricName?: string;
}

function call(name: string, samples: Array<[number, number]>, c: Call = {}): { value: number | undefined; notes: string[] } {
  const notes: string[] = [];
  const ctx: RangeFnContextWithOffset = {
    evalTs: (c.evalS ?? 60) * 1000,
    rangeMs: (c.rangeS ?? 60) * 1000,
    semantics: c.semantics ?? V3,
    scalarArgs: c.args ?? [],
    metricName: c.metricName,
    annotate: (kind, text) => notes.push(`${kind}: ${text}`),
    ...(c.offsetS !== undefined ? { offsetMs: c.offsetS * 1000 } : {}),
  };
  const fn = RANGE_FUNCTIONS[name];
  if (!fn) throw new Error(`no range function ${name}`);
  return { value: fn(win(samples), ctx), notes };
}

function rv(name: string, samples: Array<[number, number]>, c: Call = {}): number | undefined {
  return call(name, samples, c).value;
}

function close(actual: number | undefined, expected: number, rel = 1e-12): void {
  expect(actual).toBeTypeOf('number');
  if (Number.isNaN(expected) || !Number.isFinite(expected) || expected === 0) {
    expect(actual).toBe(expected);
    return;
  }
  expect(Math.abs((actual as number) - expected) / Math.abs(expected)).toBeLessThanOrEqual(rel);
}

const series = (start: number, step: number, values: number[]): Array<[number, number]> => values.map((v, i) => [start + i * step, v]);

describe('rate / increase / delta', () => {
  test('regular counter reaching both window edges', () => {
    for (const semantics of BOTH) {
      const s = series(10, 10, [10, 20, 30, 40, 50, 60]);
      close(rv('increase', s, { semantics }), 60);
      close(rv('rate', s, { semantics }), 1);
      close(rv('delta', s, { semantics }), 60);
    }
  });
  test('extrapolation to the start limited by the zero point of the counter', () => {
    for (const semantics of BOTH) {
      close(rv('increase', series(10, 10, [5, 15, 25, 35, 45, 55]), { semantics }), 55);
      // delta is not a counter: no zero-point limit.
      close(rv('delta', series(10, 10, [5, 15, 25, 35, 45, 55]), { semantics }), 60);
    }
  });
  test('series starting inside the window: 2.x and 3.x differ in the order of the zero-point and threshold checks', () => {
    const s = series(30, 10, [10, 20, 30, 40]);
    // 3.x: start is far (30s >= 11s) -> avg/2 = 5s, zero point at 10s is later -> 5s: 30 * 35/30.
    close(rv('increase', s, { semantics: V3 }), 35);
    // 2.x: zero point (10s) first, which is under the threshold (11s) -> extrapolate 10s: 30 * 40/30.
    close(rv('increase', s, { semantics: V2 }), 40);
    close(rv('rate', s, { semantics: V2 }), 40 / 60);
    // Both agree when the zero point is closer than avg/2.
    for (const semantics of BOTH) close(rv('increase', series(30, 10, [1, 11, 21, 31]), { semantics }), 31);
  });
  test('series ending early: extrapolate only half an interval to the end', () => {
    for (const semantics of BOTH) {
      const s = series(0, 10, [10, 20, 30]);
      close(rv('increase', s, { semantics }), 25);
      // Same window shifted by an offset.
      close(rv('increase', series(0, 10, [10, 20, 30]), { semantics, evalS: 120, offsetS: 60 }), 25);
    }
  });
  test('counter reset', () => {
    for (const semantics of BOTH) {
      const s = series(15, 15, [10, 20, 5, 15]);
      close(rv('increase', s, { semantics }), (25 * 60) / 45);
      close(rv('rate', s, { semantics }), (25 * 60) / 45 / 60);
      close(rv('delta', s, { semantics }), (5 * 60) / 45);
    }
  });
  test('gauge going down is extrapolated without limit', () => {
    close(rv('delta', series(30, 30, [10, 5])), -10);
    close(rv('increase', series(30, 30, [10, 5])), 10); // reset: 5 counted, extrapolated x2
  });
  test('fewer than two samples: no point', () => {
    for (const name of ['rate', 'increase', 'delta']) {
      expect(rv(name, [[30, 1]])).toBeUndefined();
      expect(rv(name, [])).toBeUndefined();
    }
  });
  test('rate divides by the range in seconds (sub-second ranges too)', () => {
    close(rv('rate', series(0.5, 0.5, [1, 2, 3]), { rangeS: 1.5, evalS: 1.5 }), 2);
    expect(durationSeconds(1500)).toBe(1.5);
    expect(durationSeconds(100)).toBe(0.1);
  });
  test('NaN and Inf samples propagate', () => {
    expect(rv('rate', series(10, 10, [1, NaN, 3, 4, 5, 6]))).toBeTypeOf('number');
    expect(rv('delta', series(10, 10, [1, 2, 3, 4, 5, Infinity]))).toBe(Infinity);
    expect(rv('delta', series(10, 10, [NaN, 2, 3, 4, 5, 6]))).toBeNaN();
  });
  test('possible non-counter info text', () => {
    expect(possibleNonCounterInfo('http_requests_total')).toBeUndefined();
    expect(possibleNonCounterInfo('x_bucket')).toBeUndefined();
    expect(possibleNonCounterInfo(undefined)).toBeUndefined();
    expect(possibleNonCounterInfo('temperature')).toBe(
      'PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "temperature"',
    );
  });
});

describe('irate / idelta', () => {
  test('last two samples', () => {
    close(rv('irate', series(0, 2, [5, 1, 3])), 1);
    close(rv('idelta', series(0, 2, [5, 1, 3])), 2);
  });
  test('counter reset in irate; idelta goes negative', () => {
    for (const semantics of BOTH) {
      close(rv('irate', series(0, 10, [10, 20, 5]), { semantics }), 0.5);
      close(rv('idelta', series(0, 10, [10, 20, 5]), { semantics }), -15);
    }
  });
  test('one sample: no point', () => {
    expect(rv('irate', [[1, 1]])).toBeUndefined();
    expect(rv('idelta', [[1, 1]])).toBeUndefined();
  });
});

describe('deriv / predict_linear', () => {
  test('linear data', () => {
    for (const semantics of BOTH) {
      close(rv('deriv', series(0, 10, [0, 10, 20]), { semantics }), 1);
      close(rv('deriv', series(1000, 15, [100, 70, 40, 10]), { semantics }), -2);
      close(rv('predict_linear', series(0, 10, [0, 10, 20]), { semantics, evalS: 20, args: [10] }), 30);
      close(rv('predict_linear', series(0, 10, [0, 10, 20]), { semantics, evalS: 30, args: [0] }), 30);
    }
  });
  test('least squares on noisy data', () => {
    // x = 0,1,2,3 ; y = 1,3,2,4 -> slope 0.8, intercept at x=0: 1.3
    close(rv('deriv', series(0, 1, [1, 3, 2, 4])), 0.8);
    close(rv('predict_linear', series(0, 1, [1, 3, 2, 4]), { evalS: 0, args: [3] }), 1.3 + 2.4);
  });
  test('constant series: slope 0, constant ±Inf: NaN', () => {
    expect(rv('deriv', series(0, 10, [5, 5, 5]))).toBe(0);
    close(rv('predict_linear', series(0, 10, [5, 5, 5]), { args: [100] }), 5);
    expect(rv('deriv', series(0, 10, [Infinity, Infinity]))).toBeNaN();
    expect(rv('predict_linear', series(0, 10, [-Infinity, -Infinity]), { args: [1] })).toBeNaN();
  });
  test('one sample: no point', () => {
    expect(rv('deriv', [[0, 1]])).toBeUndefined();
    expect(rv('predict_linear', [[0, 1]], { args: [1] })).toBeUndefined();
  });
});

describe('changes / resets', () => {
  test('changes with NaN', () => {
    expect(rv('changes', series(0, 1, [1, 1, 2, NaN, NaN, 3]))).toBe(3);
    expect(rv('changes', [[0, 7]])).toBe(0);
  });
  test('resets', () => {
    expect(rv('resets', series(0, 1, [5, 3, 4, 1, 1]))).toBe(2);
    expect(rv('resets', series(0, 1, [1, NaN, 0]))).toBe(0);
    expect(rv('resets', [])).toBeUndefined();
  });
});

describe('*_over_time aggregations', () => {
  test('avg_over_time', () => {
    for (const semantics of BOTH) {
      close(rv('avg_over_time', series(0, 1, [1, 2, 3, 4]), { semantics }), 2.5);
      close(rv('avg_over_time', [[0, 7]], { semantics }), 7);
      // Overflowing sum: 3.x switches to incremental mean, 2.x is always incremental.
      close(rv('avg_over_time', series(0, 1, [Number.MAX_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE]), { semantics }), Number.MAX_VALUE / 3, 1e-15);
      expect(rv('avg_over_time', series(0, 1, [Infinity, 1]), { semantics })).toBe(Infinity);
      expect(rv('avg_over_time', series(0, 1, [1, -Infinity, 2]), { semantics })).toBe(-Infinity);
      expect(rv('avg_over_time', series(0, 1, [Infinity, -Infinity]), { semantics })).toBeNaN();
      expect(rv('avg_over_time', series(0, 1, [1, NaN]), { semantics })).toBeNaN();
    }
    // Compensated summation: 3.x's direct mean keeps the 1.
    close(rv('avg_over_time', series(0, 1, [1e100, 1, -1e100]), { semantics: V3 }), 1 / 3);
  });
  test('sum_over_time: compensated in both', () => {
    for (const semantics of BOTH) {
      expect(rv('sum_over_time', series(0, 1, [1e100, 1, -1e100]), { semantics })).toBe(1);
      expect(rv('sum_over_time', series(0, 1, [0.1, 0.2, 0.3]), { semantics })).toBe(0.6);
      expect(rv('sum_over_time', series(0, 1, [Infinity, 1]), { semantics })).toBe(Infinity);
      expect(rv('sum_over_time', series(0, 1, [Infinity, -Infinity]), { semantics })).toBeNaN();
    }
  });
  test('count / last / present / absent', () => {
    expect(rv('count_over_time', series(0, 1, [1, NaN, 3]))).toBe(3);
    expect(rv('last_over_time', series(0, 1, [1, 2, NaN]))).toBeNaN();
    expect(rv('last_over_time', series(0, 1, [1, 2, 3]))).toBe(3);
    expect(rv('present_over_time', [[0, NaN]])).toBe(1);
    expect(rv('absent_over_time', [[0, 1]])).toBe(1);
    for (const name of [
      'count_over_time',
      'last_over_time',
      'present_over_time',
      'absent_over_time',
      'sum_over_time',
      'avg_over_time',
      'min_over_time',
      'max_over_time',
      'quantile_over_time',
      'stddev_over_time',
      'stdvar_over_time',
      'mad_over_time',
      'changes',
      'resets',
      'ts_of_last_over_time',
    ]) {
      expect(rv(name, [], { args: [0.5] })).toBeUndefined();
    }
  });
  test('min / max with NaN', () => {
    expect(rv('max_over_time', series(0, 1, [NaN, 1, 2]))).toBe(2);
    expect(rv('max_over_time', series(0, 1, [1, NaN, 0]))).toBe(1);
    expect(rv('max_over_time', [[0, NaN]])).toBeNaN();
    expect(rv('min_over_time', series(0, 1, [3, NaN, 1]))).toBe(1);
    expect(rv('min_over_time', series(0, 1, [NaN, -Infinity, 5]))).toBe(-Infinity);
  });
  test('ts_of_* (3.5 experimental)', () => {
    expect(rv('ts_of_max_over_time', series(1, 1, [1, 3, 3]))).toBe(3);
    expect(rv('ts_of_min_over_time', series(1, 1, [1, 1, 3]))).toBe(2);
    expect(rv('ts_of_last_over_time', series(1.5, 1, [1, 1, 3]))).toBe(3.5);
  });
  test('quantile_over_time', () => {
    close(rv('quantile_over_time', series(0, 1, [4, 1, 3, 2]), { args: [0.5] }), 2.5);
    close(rv('quantile_over_time', series(0, 1, [4, 1, 3, 2]), { args: [0.9] }), 3.7);
    expect(rv('quantile_over_time', [[0, 5]], { args: [0.3] })).toBe(5);
    const r = call('quantile_over_time', series(0, 1, [1, 2]), { args: [-1] });
    expect(r.value).toBe(-Infinity);
    expect(r.notes).toEqual(['warning: PromQL warning: quantile value should be between 0 and 1, got -1']);
    const r2 = call('quantile_over_time', series(0, 1, [1, 2]), { args: [1.5], semantics: V2 });
    expect(r2.value).toBe(Infinity);
    expect(r2.notes).toEqual([]);
    const r3 = call('quantile_over_time', series(0, 1, [1, 2]), { args: [NaN] });
    expect(r3.value).toBeNaN();
    expect(r3.notes).toEqual(['warning: PromQL warning: quantile value should be between 0 and 1, got NaN']);
  });
  test('stddev / stdvar', () => {
    for (const semantics of BOTH) {
      close(rv('stddev_over_time', series(0, 1, [2, 4, 4, 4, 5, 5, 7, 9]), { semantics }), 2);
      close(rv('stdvar_over_time', series(0, 1, [2, 4, 4, 4, 5, 5, 7, 9]), { semantics }), 4);
      expect(rv('stddev_over_time', [[0, 42]], { semantics })).toBe(0);
      expect(rv('stdvar_over_time', series(0, 1, [1, Infinity]), { semantics })).toBeNaN();
    }
    close(rv('stdvar_over_time', series(0, 1, [1e9 + 1, 1e9 + 2, 1e9 + 3])), 2 / 3, 1e-9);
  });
  test('mad_over_time', () => {
    expect(rv('mad_over_time', series(0, 1, [1, 1, 2, 2, 4, 6, 9]))).toBe(1);
    expect(rv('mad_over_time', [[0, 3]])).toBe(0);
  });
});

describe('holt_winters / double_exponential_smoothing', () => {
  test('values', () => {
    for (const name of ['holt_winters', 'double_exponential_smoothing']) {
      close(rv(name, series(0, 1, [1, 2, 3]), { args: [0.5, 0.5] }), 3);
      close(rv(name, series(0, 1, [1, 3, 2]), { args: [0.5, 0.5] }), 3.5);
      expect(rv(name, [[0, 1]], { args: [0.5, 0.5] })).toBeUndefined();
    }
  });
  test('argument checks with Go %f formatting', () => {
    expect(() => rv('double_exponential_smoothing', series(0, 1, [1, 2]), { args: [1.5, 0.5] })).toThrow(
      'invalid smoothing factor. Expected: 0 < sf < 1, got: 1.500000',
    );
    expect(() => rv('holt_winters', series(0, 1, [1, 2]), { args: [0.5, 0] })).toThrow('invalid trend factor. Expected: 0 < tf < 1, got: 0.000000');
    // Checked even with a single sample, as Prometheus does.
    expect(() => rv('holt_winters', [[0, 1]], { args: [2, 0.5] })).toThrow('got: 2.000000');
    // NaN passes Go's `sf <= 0 || sf >= 1` check: no error, NaN result.
    expect(rv('holt_winters', series(0, 1, [1, 2]), { args: [NaN, 0.5] })).toBeNaN();
    expect(goFormatF(-0.25)).toBe('-0.250000');
    expect(goFormatF(Infinity)).toBe('+Inf');
    expect(goFormatF(1e22)).toBe('10000000000000000000000.000000');
  });
});

describe('quantile', () => {
  test('interpolation and corner cases', () => {
    expect(quantile(0.5, [3, 1, 2])).toBe(2);
    expect(quantile(0.25, [1, 2, 3, 4, 5])).toBe(2);
    close(quantile(0.1, [10, 20]), 11);
    expect(quantile(0, [5, -1, 3])).toBe(-1);
    expect(quantile(1, [5, -1, 3])).toBe(5);
    expect(quantile(0.5, [])).toBeNaN();
    expect(quantile(NaN, [1])).toBeNaN();
    expect(quantile(-0.1, [1])).toBe(-Infinity);
    expect(quantile(1.1, [1])).toBe(Infinity);
    // NaN sorts first.
    expect(quantile(0, [2, NaN, 1])).toBeNaN();
    expect(quantile(1, [2, NaN, 1])).toBe(2);
    expect(quantile(1, [Infinity, -Infinity])).toBeNaN(); // Inf*1 + Inf*0, as in Go
  });
});

describe('bucketQuantile (classic histogram_quantile)', () => {
  const b = (pairs: Array<[number, number]>) => pairs.map(([upperBound, count]) => ({ upperBound, count }));
  const H = b([
    [1, 10],
    [2, 20],
    [4, 40],
    [Infinity, 40],
  ]);
  test('interpolation', () => {
    for (const s of BOTH) {
      expect(bucketQuantile(0.5, H, s).value).toBe(2);
      expect(bucketQuantile(0.25, H, s).value).toBe(1);
      expect(bucketQuantile(0.125, H, s).value).toBe(0.5);
      expect(bucketQuantile(0.75, H, s).value).toBe(3);
      expect(bucketQuantile(1, H, s).value).toBe(4);
      expect(bucketQuantile(0, H, s).value).toBe(0);
      expect(
        bucketQuantile(
          0.9,
          b([
            [1, 10],
            [Infinity, 20],
          ]),
          s,
        ).value,
      ).toBe(1);
    }
    expect(bucketQuantile(0.5, H, V3)).toEqual({ value: 2, forcedMonotonic: false, fixedPrecision: false });
  });
  test('q out of range, missing +Inf, too few buckets, no observations', () => {
    for (const s of BOTH) {
      expect(bucketQuantile(-0.1, H, s).value).toBe(-Infinity);
      expect(bucketQuantile(1.1, H, s).value).toBe(Infinity);
      expect(bucketQuantile(NaN, H, s).value).toBeNaN();
      expect(
        bucketQuantile(
          0.5,
          b([
            [1, 10],
            [2, 20],
          ]),
          s,
        ).value,
      ).toBeNaN();
      expect(bucketQuantile(0.5, b([[Infinity, 10]]), s).value).toBeNaN();
      expect(
        bucketQuantile(
          0.5,
          b([
            [1, 0],
            [Infinity, 0],
          ]),
          s,
        ).value,
      ).toBeNaN();
      expect(bucketQuantile(0.5, [], s).value).toBeNaN();
    }
  });
  test('unsorted input and duplicate upper bounds', () => {
    const shuffled = b([
      [Infinity, 40],
      [2, 20],
      [4, 40],
      [1, 10],
    ]);
    expect(bucketQuantile(0.75, shuffled, V3).value).toBe(3);
    expect(shuffled[0].upperBound).toBe(Infinity); // input untouched
    const dup = b([
      [1, 5],
      [1, 5],
      [2, 20],
      [Infinity, 20],
    ]);
    expect(bucketQuantile(0.25, dup, V3).value).toBe(0.5);
    expect(bucketQuantile(0.75, dup, V2).value).toBe(1.5);
  });
  test('non-monotonic counts', () => {
    const nm = b([
      [1, 10],
      [2, 8],
      [4, 40],
      [Infinity, 40],
    ]);
    const r3 = bucketQuantile(0.5, nm, V3);
    close(r3.value, 2 + 2 * (10 / 30));
    expect(r3.forcedMonotonic).toBe(true);
    expect(r3.fixedPrecision).toBe(false);
    const r2 = bucketQuantile(0.5, nm, V2);
    close(r2.value, 2 + 2 * (10 / 30));
    expect(r2.forcedMonotonic).toBe(false);
  });
  test('3.5 ignores insignificant differences between buckets', () => {
    const tiny = b([
      [1, 10],
      [2, 10 + 1e-14],
      [Infinity, 10],
    ]);
    const r3 = bucketQuantile(1, tiny, V3);
    expect(r3.value).toBe(1);
    expect(r3.fixedPrecision).toBe(true);
    expect(r3.forcedMonotonic).toBe(false);
    expect(bucketQuantile(1, tiny, V2).value).toBe(2);
  });
  test('negative and zero upper bounds', () => {
    const neg = b([
      [-1, 5],
      [0, 10],
      [Infinity, 10],
    ]);
    for (const s of BOTH) {
      expect(bucketQuantile(0.25, neg, s).value).toBe(-1);
      expect(bucketQuantile(0.75, neg, s).value).toBe(-0.5);
    }
  });
  test('bucketFraction', () => {
    expect(bucketFraction(1, 2, H)).toBe(0.25);
    expect(bucketFraction(1, 3, H)).toBe(0.5);
    expect(bucketFraction(2, 1, H)).toBe(0);
    expect(bucketFraction(NaN, 1, H)).toBeNaN();
    expect(bucketFraction(1, Infinity, H)).toBe(0.75);
  });
});

describe('kahan helpers and aggregation accumulators', () => {
  test('kahanSumInc', () => {
    let [s, c] = kahanSumInc(1e100, 0, 0);
    [s, c] = kahanSumInc(1, s, c);
    [s, c] = kahanSumInc(-1e100, s, c);
    expect(s + c).toBe(1);
    expect(kahanSumInc(Infinity, 1, 0)).toEqual([Infinity, 0]);
    expect(kahanSum([0.1, 0.2, 0.3])).toBe(0.6);
  });
  test('sum: compensated in 3.x, plain in 2.x', () => {
    const sum = (s: Semantics, xs: number[]) => {
      const a = new SumAccumulator(s);
      xs.forEach((x) => a.add(x));
      return a.result();
    };
    expect(sum(V3, [1e100, 1, -1e100])).toBe(1);
    expect(sum(V2, [1e100, 1, -1e100])).toBe(0);
    expect(sum(V3, [Infinity, 1])).toBe(Infinity);
    expect(sum(V3, [7])).toBe(7);
  });
  test('avg', () => {
    const avg = (s: Semantics, xs: number[]) => {
      const a = new AvgAccumulator(s);
      xs.forEach((x) => a.add(x));
      return a.result();
    };
    for (const s of BOTH) {
      close(avg(s, [1, 2, 3, 4]), 2.5);
      close(avg(s, [Number.MAX_VALUE, Number.MAX_VALUE]), Number.MAX_VALUE);
      expect(avg(s, [Infinity, 3])).toBe(Infinity);
      expect(avg(s, [Infinity, -Infinity])).toBeNaN();
    }
  });
  test('stddev / stdvar', () => {
    const v = (s: Semantics, xs: number[]) => {
      const a = new VarianceAccumulator(s);
      xs.forEach((x) => a.add(x));
      return [a.variance(), a.stddev()];
    };
    expect(v(V3, [2, 4, 4, 4, 5, 5, 7, 9])).toEqual([4, 2]);
    expect(v(V3, [Infinity])[0]).toBeNaN();
    expect(v(V2, [Infinity])[0]).toBe(0);
  });
});

describe('Go math: pow, mod, log', () => {
  test('goPow special cases where Go differs from JS', () => {
    expect(goPow(-1, Infinity)).toBe(1);
    expect(goPow(-1, -Infinity)).toBe(1);
    expect(goPow(1, NaN)).toBe(1);
    expect(goPow(1, Infinity)).toBe(1);
    expect(goPow(NaN, 0)).toBe(1);
    expect(goPow(NaN, 1)).toBeNaN();
    expect(goPow(2, NaN)).toBeNaN();
  });
  test('goPow IEEE cases and values', () => {
    expect(goPow(2, 10)).toBe(1024);
    expect(goPow(2, -1)).toBe(0.5);
    expect(goPow(10, -2)).toBe(0.01);
    expect(goPow(-2, 3)).toBe(-8);
    expect(goPow(-8, 1 / 3)).toBeNaN();
    expect(goPow(0, -1)).toBe(Infinity);
    expect(goPow(-0, -1)).toBe(-Infinity);
    expect(goPow(-0, -2)).toBe(Infinity);
    expect(Object.is(goPow(-0, 3), -0)).toBe(true);
    expect(goPow(-Infinity, 3)).toBe(-Infinity);
    expect(Object.is(goPow(-Infinity, -3), -0)).toBe(true);
    expect(goPow(Infinity, -1)).toBe(0);
    expect(goPow(0.5, Infinity)).toBe(0);
    expect(goPow(2, -Infinity)).toBe(0);
    expect(goPow(4, 0.5)).toBe(2);
    expect(goPow(1e300, 2)).toBe(Infinity);
    expect(goPow(2, -1074)).toBe(5e-324);
    expect(goPow(0.5, 1e20)).toBe(0);
    expect(goPow(-1, 1e20)).toBe(1);
    close(goPow(1.1, 2.7), 1.2934815843487633, 1e-15);
    expect(goPow(3, 40)).toBe(3 ** 40);
  });
  test('goMod', () => {
    expect(goMod(5.5, 2)).toBe(1.5);
    expect(goMod(-5.5, 2)).toBe(-1.5);
    expect(goMod(5, -3)).toBe(2);
    expect(goMod(Infinity, 1)).toBeNaN();
    expect(goMod(1, 0)).toBeNaN();
    expect(goMod(3, Infinity)).toBe(3);
    expect(goMod(3, NaN)).toBeNaN();
    expect(Object.is(goMod(-0, 1), -0)).toBe(true);
  });
  test('log2 / log10 / ln', () => {
    expect(goLog2(8)).toBe(3);
    expect(goLog2(0.125)).toBe(-3);
    expect(goLog2(5e-324)).toBe(-1074);
    expect(goLog2(2 ** 1023)).toBe(1023);
    expect(goLog2(0)).toBe(-Infinity);
    expect(goLog2(-1)).toBeNaN();
    expect(goLog2(Infinity)).toBe(Infinity);
    expect(goLog2(3)).toBe(1.5849625007211563); // Go's Log(0.75)/Ln2 + 2, one ulp above Math.log2(3)
    expect(goLog10(1000)).toBe(3);
    expect(goLog10(100)).toBe(2);
    expect(goLog10(0.001)).toBe(-3);
    expect(goLog10(0)).toBe(-Infinity);
    expect(goLog10(-5)).toBeNaN();
    expect(ELEMENT_FUNCTIONS.ln(Math.E, [], V3)).toBe(1);
    expect(ELEMENT_FUNCTIONS.log2(1024, [], V3)).toBe(10);
    expect(ELEMENT_FUNCTIONS.log10(1e10, [], V3)).toBe(10);
  });
  test('frexp / ldexp', () => {
    expect(frexp(8)).toEqual([0.5, 4]);
    expect(frexp(-3)).toEqual([-0.75, 2]);
    expect(frexp(5e-324)).toEqual([0.5, -1073]);
    expect(ldexp(0.5, 4)).toBe(8);
    expect(ldexp(1, -1074)).toBe(5e-324);
    expect(ldexp(1, 1024)).toBe(Infinity);
    expect(ldexp(1, -1076)).toBe(0);
  });
});

describe('element functions', () => {
  const f = (name: string, v: number, args: number[] = []) => ELEMENT_FUNCTIONS[name](v, args, V3);
  test('round', () => {
    expect(f('round', 2.5)).toBe(3);
    expect(f('round', -2.5)).toBe(-2);
    expect(f('round', 2.4)).toBe(2);
    expect(f('round', 123.456, [0.1])).toBe(123.5);
    expect(f('round', 7, [5])).toBe(5);
    expect(f('round', 8, [5])).toBe(10);
    expect(f('round', NaN)).toBeNaN();
    expect(f('round', Infinity)).toBe(Infinity);
  });
  test('sgn, abs, ceil, floor, sqrt, exp', () => {
    expect(f('sgn', -3)).toBe(-1);
    expect(f('sgn', 0.1)).toBe(1);
    expect(Object.is(f('sgn', -0), -0)).toBe(true);
    expect(f('sgn', NaN)).toBeNaN();
    expect(f('abs', -Infinity)).toBe(Infinity);
    expect(f('ceil', 1.2)).toBe(2);
    expect(f('floor', -1.2)).toBe(-2);
    expect(f('sqrt', -1)).toBeNaN();
    expect(f('exp', 0)).toBe(1);
    expect(f('exp', -Infinity)).toBe(0);
  });
  test('clamp family', () => {
    expect(f('clamp', 5, [0, 3])).toBe(3);
    expect(f('clamp', -1, [0, 3])).toBe(0);
    expect(f('clamp', NaN, [0, 3])).toBeNaN();
    expect(f('clamp', 1, [3, 0])).toBeNaN();
    expect(clampDropsAll(3, 0)).toBe(true);
    expect(clampDropsAll(NaN, 0)).toBe(false);
    expect(f('clamp', 1, [NaN, 3])).toBeNaN();
    expect(f('clamp_min', 1, [2])).toBe(2);
    expect(f('clamp_max', 5, [2])).toBe(2);
    expect(f('clamp_max', -Infinity, [2])).toBe(-Infinity);
  });
  test('trigonometry', () => {
    expect(f('deg', Math.PI)).toBe(180);
    expect(f('rad', 180)).toBe(Math.PI);
    expect(f('sin', 0)).toBe(0);
    expect(f('cos', 0)).toBe(1);
    expect(f('tan', Infinity)).toBeNaN();
    expect(f('asin', 2)).toBeNaN();
    expect(f('acos', 1)).toBe(0);
    expect(f('atan', Infinity)).toBe(Math.PI / 2);
    expect(f('atanh', 1)).toBe(Infinity);
    expect(f('acosh', 0.5)).toBeNaN();
    expect(f('asinh', -Infinity)).toBe(-Infinity);
    expect(f('sinh', 0)).toBe(0);
    expect(f('cosh', 0)).toBe(1);
    expect(f('tanh', Infinity)).toBe(1);
  });
  test('date functions (UTC)', () => {
    expect([
      f('year', 0),
      f('month', 0),
      f('day_of_month', 0),
      f('day_of_week', 0),
      f('day_of_year', 0),
      f('hour', 0),
      f('minute', 0),
      f('days_in_month', 0),
    ]).toEqual([1970, 1, 1, 4, 1, 0, 0, 31]);
    const t = 1709214300; // 2024-02-29T13:45:00Z, a Thursday
    expect([
      f('year', t),
      f('month', t),
      f('day_of_month', t),
      f('day_of_week', t),
      f('day_of_year', t),
      f('hour', t),
      f('minute', t),
      f('days_in_month', t),
    ]).toEqual([2024, 2, 29, 4, 60, 13, 45, 29]);
    expect([f('year', -1), f('month', -1), f('day_of_month', -1), f('hour', -1), f('minute', -1), f('day_of_week', -1)]).toEqual([1969, 12, 31, 23, 59, 3]);
    expect(f('year', -0.9)).toBe(1970); // truncation toward zero like int64(v)
    expect(f('days_in_month', 1677628800)).toBe(31); // 2023-03-01
    expect(f('days_in_month', 1675209600)).toBe(28); // 2023-02-01
    expect(f('day_of_year', 1703980800)).toBe(365); // 2023-12-31
    expect(f('day_of_year', 1735603200)).toBe(366); // 2024-12-31
    expect(f('year', 253402300800)).toBe(10000);
    expect(f('year', NaN)).toBeNaN();
  });
});

describe('formatting helpers', () => {
  test('goFormatG', () => {
    expect(goFormatG(1.5)).toBe('1.5');
    expect(goFormatG(-1)).toBe('-1');
    expect(goFormatG(100000)).toBe('100000');
    expect(goFormatG(1e6)).toBe('1e+06');
    expect(goFormatG(123456789)).toBe('1.23456789e+08');
    expect(goFormatG(0.0001)).toBe('0.0001');
    expect(goFormatG(0.00001)).toBe('1e-05');
    expect(goFormatG(1e-300)).toBe('1e-300');
    expect(goFormatG(-Infinity)).toBe('-Inf');
  });
});
