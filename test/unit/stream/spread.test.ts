// The edge scrapes each target at its own offset within the interval, so 200 targets reach NATS and
// the centre as a steady stream rather than one burst: the offset must be stable, in range, and
// spread.

import { describe, expect, it } from 'vitest';
import { spreadOffset } from '../../../src/stream/publisher.js';

describe('spreadOffset', () => {
  it('is the same for a target every time, within the interval, and spreads targets over it', () => {
    const interval = 15_000;
    const keys = Array.from({ length: 200 }, (_, i) => `node\u0000127.0.0.1:${9100 + i}`);
    const offsets = keys.map((k) => spreadOffset(k, interval));
    expect(keys.map((k) => spreadOffset(k, interval))).toEqual(offsets);
    for (const o of offsets) {
      expect(Number.isInteger(o)).toBe(true);
      expect(o).toBeGreaterThanOrEqual(0);
      expect(o).toBeLessThan(interval);
    }
    // Every tenth of the interval holds some targets, none holds most of them.
    const tenths = new Array<number>(10).fill(0);
    for (const o of offsets) tenths[Math.floor(o / (interval / 10))]++;
    expect(Math.min(...tenths)).toBeGreaterThan(5);
    expect(Math.max(...tenths)).toBeLessThan(50);
    expect(spreadOffset('x', 0.5)).toBe(0);
  });
});
