// The binary searches of src/util/sorted.ts, both array kinds, against a linear scan.
import { describe, expect, it } from 'vitest';
import { lowerBound, lowerBoundOf, upperBound } from '../../../src/util/sorted.js';

describe('sorted searches', () => {
  const a = [1, 3, 3, 3, 7, 10];
  const f = Float64Array.from(a);
  const firstAt = (pred: (v: number) => boolean, n = a.length) => {
    const i = a.slice(0, n).findIndex(pred);
    return i < 0 ? n : i;
  };

  it('agree with a linear scan for every probe, on the whole array and a prefix', () => {
    for (const x of [0, 1, 2, 3, 4, 7, 9, 10, 11]) {
      expect(lowerBound(f, x), `lowerBound ${x}`).toBe(firstAt((v) => v >= x));
      expect(upperBound(f, x), `upperBound ${x}`).toBe(firstAt((v) => v > x));
      expect(lowerBound(f, x, 4), `lowerBound ${x} n=4`).toBe(firstAt((v) => v >= x, 4));
      expect(lowerBoundOf(a, x), `lowerBoundOf ${x}`).toBe(firstAt((v) => v >= x));
    }
    expect(lowerBoundOf([], 5)).toBe(0);
  });
});
