// Rendezvous hashing: determinism, evenness and the ~1/N movement that justify it over promster's ring.
import { describe, expect, it } from 'vitest';
import { assign, countMoves, DEFAULT_MAX_LOAD } from '../../../src/fleet/rendezvous.js';

const targets = (n: number, salt = ''): string[] => Array.from({ length: n }, (_, i) => `node/10.0.${Math.floor(i / 250)}.${i % 250}:9100${salt}`);
const counts = (a: Map<string, string>): Map<string, number> => {
  const c = new Map<string, number>();
  for (const g of a.values()) c.set(g, (c.get(g) ?? 0) + 1);
  return c;
};

describe('rendezvous assignment', () => {
  it('gives every target exactly one group, the same whatever the order of groups and targets', () => {
    const ts = targets(500);
    const a = assign(ts, ['shard-0', 'shard-1', 'shard-2', 'shard-3']);
    const b = assign([...ts].reverse(), ['shard-3', 'shard-1', 'shard-0', 'shard-2', 'shard-1']);
    expect(a.size).toBe(500);
    for (const t of ts) expect(b.get(t)).toBe(a.get(t));
  });

  it('spreads 60 targets over 4 groups within ±25% of even with bounded loads', () => {
    // Many target namings, so the bound is not an accident of one set (pure HRW fails most of them).
    let pureOutside = 0;
    for (let s = 0; s < 200; s++) {
      const ts = targets(60, `/s${s}`);
      const pure = [...counts(assign(ts, ['shard-0', 'shard-1', 'shard-2', 'shard-3'])).values()];
      if (pure.some((n) => n < 11.25 || n > 18.75)) pureOutside++;
      const c = counts(assign(ts, ['shard-0', 'shard-1', 'shard-2', 'shard-3'], DEFAULT_MAX_LOAD));
      expect(c.size).toBe(4);
      for (const n of c.values()) {
        expect(n).toBeGreaterThanOrEqual(15 * 0.75);
        expect(n).toBeLessThanOrEqual(15 * 1.25);
      }
    }
    expect(pureOutside).toBeGreaterThan(20);
  });

  it('with bounded loads moves on average within 10% of the ideal 1/N when one of 50 groups leaves, and as many back', () => {
    const ts = targets(10_000);
    const groups = Array.from({ length: 50 }, (_, i) => `shard-${i}`);
    const all = assign(ts, groups, DEFAULT_MAX_LOAD);
    let sum = 0;
    for (const gone of groups) {
      const less = assign(
        ts,
        groups.filter((g) => g !== gone),
        DEFAULT_MAX_LOAD,
      );
      const moved = countMoves(all, less);
      if (gone === 'shard-17') expect(countMoves(less, all)).toBe(moved);
      sum += moved / ts.length;
    }
    expect(Math.abs(sum / groups.length - 1 / 50)).toBeLessThan(0.1 / 50);
  });

  it('pure HRW moves only the leaving group’s targets when a group leaves, and about 1/N back when it returns', () => {
    const ts = targets(10_000);
    const groups = Array.from({ length: 10 }, (_, i) => `g${i}`);
    const all = assign(ts, groups);
    const without = assign(
      ts,
      groups.filter((g) => g !== 'g3'),
    );
    const moved = countMoves(all, without);
    const onG3 = [...all.values()].filter((g) => g === 'g3').length;
    expect(moved).toBe(onG3);
    for (const [t, g] of all) if (g !== 'g3') expect(without.get(t)).toBe(g);
    expect(Math.abs(moved / ts.length - 0.1)).toBeLessThan(0.01);
    // Back: exactly the same targets return.
    expect(countMoves(without, assign(ts, groups))).toBe(moved);
  });

  it('has no owner without groups', () => {
    expect(assign(targets(3), []).size).toBe(0);
  });
});
