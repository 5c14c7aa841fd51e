// Series that several server groups return with different samples over the same time (two shards'
// own `up` collapsed into one label set) are counted per group and shown on /status; a series that
// moved shard (old group before the move, new group after) or identical copies are not.

import { describe, expect, it } from 'vitest';
import { FanoutStorage, type GroupSpec } from '../../../src/query/fanout.js';
import { conflicting, mergeSeriesSets } from '../../../src/query/merge.js';
import { QueryMetrics } from '../../../src/query/downstream/metrics.js';
import { labelsFromRecord, labelsToString } from '../../../src/model/labels.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import type { Series } from '../../../src/storage/interface.js';
import { eq } from '../../support/matchers.js';

function series(labels: Record<string, string>, ts: number[], vs: number[] = ts.map(() => 1)): Series {
  return { labels: labelsFromRecord(labels), timestamps: Float64Array.from(ts), values: Float64Array.from(vs) };
}

function storage(labels: Record<string, string>, ts: number[], value: number): MemoryStorage {
  const m = new MemoryStorage();
  for (const t of ts) m.add(labels, t, value);
  return m;
}

function group(name: string, target: MemoryStorage): GroupSpec {
  return { name, targets: [target], targetNames: [`${name}-r0`], antiAffinityMs: 5_000, ignoreError: false };
}

const UP = { __name__: 'up', job: 'promfront-shards', instance: 'proxy:9099' };

describe('conflicting', () => {
  it('is true for copies overlapping in time with different samples', () => {
    expect(conflicting([series(UP, [0, 15_000, 30_000], [1, 1, 1]), series(UP, [5_000, 20_000, 35_000], [1, 1, 1])])).toBe(true);
    expect(conflicting([series(UP, [0, 15_000], [1, 1]), series(UP, [0, 15_000], [1, 0])])).toBe(true);
  });
  it('is false for identical copies, copies apart in time (a series that moved shard) and empty ones', () => {
    expect(conflicting([series(UP, [0, 15_000], [1, NaN]), series(UP, [0, 15_000], [1, NaN])])).toBe(false);
    expect(conflicting([series(UP, [0, 15_000]), series(UP, [30_000, 45_000])])).toBe(false);
    expect(conflicting([series(UP, []), series(UP, [0])])).toBe(false);
    // The old shard's staleness marker, written after the new shard's first sample, is not an overlap.
    const old = { ...series(UP, [0, 15_000, 31_000], [1, 1, NaN]), stale: Uint8Array.from([0, 0, 1]) };
    expect(conflicting([old, series(UP, [30_000, 45_000])])).toBe(false);
    expect(conflicting([old, series(UP, [14_000, 29_000])])).toBe(true);
  });
  it('is reported by mergeSeriesSets with the indexes of the sets involved, empty sets counted', () => {
    const seen: number[][] = [];
    const other = series({ __name__: 'x' }, [0]);
    mergeSeriesSets([[series(UP, [0, 10_000])], [], [series(UP, [5_000, 15_000]), other]], 5_000, (copies, sets) => {
      expect(copies).toHaveLength(2);
      seen.push(sets);
    });
    expect(seen).toEqual([[0, 2]]);
  });
});

describe('fan-out over groups', () => {
  it('counts a series two groups both return over the same time with different samples, per group, and names it on /status', async () => {
    const ts = [0, 15_000, 30_000, 45_000];
    const metrics = new QueryMetrics();
    const f = new FanoutStorage(
      [
        group('shard-0', storage(UP, ts, 1)),
        group(
          'shard-1',
          storage(
            UP,
            ts.map((t) => t + 3_000),
            0,
          ),
        ),
        group('shard-2', storage({ ...UP, instance: 'proxy:9099/shard/2' }, ts, 1)),
      ],
      { maxConcurrency: 4, onConflict: (groups, labels) => metrics.observeConflict(groups, labelsToString(labels)) },
    );
    const out = await f.forQuery().storage.select([eq('__name__', 'up')], 0, 60_000);
    // The collapsed series is still answered (merged), the distinct one kept apart.
    expect(out).toHaveLength(2);
    expect(metrics.conflictsOf('shard-0')).toEqual({
      count: 1,
      last: { series: labelsToString(labelsFromRecord(UP)), with: ['shard-1'], at: expect.any(Number) },
    });
    expect(metrics.conflictsOf('shard-1').count).toBe(1);
    expect(metrics.conflictsOf('shard-2')).toEqual({ count: 0, last: undefined });
    expect(metrics.render()).toMatch(/^promfront_query_series_conflicts_total\{group="shard-0"\} 1$/m);
    expect(metrics.render()).toMatch(/^promfront_query_series_conflicts_total\{group="shard-1"\} 1$/m);
  });

  it('does not count a series that moved from one group to another', async () => {
    const metrics = new QueryMetrics();
    const f = new FanoutStorage([group('a', storage(UP, [0, 15_000], 1)), group('b', storage(UP, [30_000, 45_000], 1))], {
      maxConcurrency: 4,
      onConflict: (groups, labels) => metrics.observeConflict(groups, labelsToString(labels)),
    });
    const out = await f.forQuery().storage.select([eq('__name__', 'up')], 0, 60_000);
    expect(out).toHaveLength(1);
    expect(Array.from(out[0].timestamps)).toEqual([0, 15_000, 30_000, 45_000]);
    expect(metrics.conflictsOf('a').count).toBe(0);
    expect(metrics.render()).not.toMatch(/^promfront_query_series_conflicts_total\{/m);
  });
});
