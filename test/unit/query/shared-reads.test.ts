// Queries running at the same time share a target's read when one's range contains the other's
// (src/query/shared-reads.ts): one downstream request, every answer equal to what its own request
// would have given (HA merge included), warnings carried to each, a query going away never failing
// another, the request stopped only when nobody waits, and a finished read never reused.

import { describe, expect, it } from 'vitest';
import { FanoutStorage, type GroupSpec } from '../../../src/query/fanout.js';
import { reportDownstreamWarnings } from '../../../src/query/downstream/warnings.js';
import { mergeReuseCount } from '../../../src/query/merge.js';
import { MemoryStorage } from '../../../src/storage/memory.js';
import { type SelectHints, type Series, type Storage } from '../../../src/storage/interface.js';
import { eq } from '../../support/matchers.js';

const UP = [eq('__name__', 'up')];

/** Samples every 15 s in [0, 150 s) of up{instance="a"} and up{instance="b"}, except the skipped indexes. */
function data(skip: number[] = []): MemoryStorage {
  const m = new MemoryStorage();
  for (let i = 0; i < 10; i++) {
    if (skip.includes(i)) continue;
    m.add({ __name__: 'up', instance: 'a' }, i * 15_000, i);
    m.add({ __name__: 'up', instance: 'b' }, i * 15_000, 100 + i);
  }
  return m;
}

/** A downstream whose selects wait until release(); it records its reads and their signals. */
function gated(inner: Storage, warning?: string): Storage & { reads: [number, number][]; signals: AbortSignal[]; release: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const s = {
    reads: [] as [number, number][],
    signals: [] as AbortSignal[],
    release: () => open(),
    select: async (m: Parameters<Storage['select']>[0], start: number, end: number, h?: SelectHints, sig?: AbortSignal): Promise<Series[]> => {
      s.reads.push([start, end]);
      if (sig) s.signals.push(sig);
      await gate;
      if (warning !== undefined) reportDownstreamWarnings([warning]);
      return inner.select(m, start, end, h, sig);
    },
    labelNames: inner.labelNames.bind(inner),
    labelValues: inner.labelValues.bind(inner),
  };
  return s;
}

function group(name: string, targets: Storage[], extra: Partial<GroupSpec> = {}): GroupSpec {
  return { name, targets, targetNames: targets.map((_, i) => `${name}-r${i}`), antiAffinityMs: 5_000, ignoreError: false, ...extra };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

/** What a fan-out over the same data gives with nothing shared. */
async function alone(targets: Storage[], start: number, end: number): Promise<Series[]> {
  return new FanoutStorage([group('g', targets)], { maxConcurrency: 4 }).forQuery().storage.select(UP, start, end);
}

describe('reads shared between queries running at the same time', () => {
  it('a read whose range lies inside a running one joins it; each answer equals its own read, HA merge included', async () => {
    const r0 = gated(data([2, 3]));
    const r1 = gated(data([6]));
    const f = new FanoutStorage([group('g', [r0, r1])], { maxConcurrency: 4 });
    const pa = f.forQuery().storage.select(UP, 0, 140_000);
    await tick();
    const pb = f.forQuery().storage.select(UP, 31_000, 100_000);
    await tick();
    r0.release();
    r1.release();
    const [a, b] = await Promise.all([pa, pb]);
    expect(r0.reads).toEqual([[0, 140_000]]);
    expect(r1.reads).toEqual([[0, 140_000]]);
    expect(f.sharedReads.joined).toBe(2);
    expect(a).toEqual(await alone([data([2, 3]), data([6])], 0, 140_000));
    expect(b).toEqual(await alone([data([2, 3]), data([6])], 31_000, 100_000));
    expect(b[0].timestamps[0]).toBe(45_000);
  });

  it('a wider range, other matchers, or a labels-only read is a read of its own; matchers in another order are not', async () => {
    const r = gated(data());
    const f = new FanoutStorage([group('g', [r])], { maxConcurrency: 16 });
    const calls = [
      f.forQuery().storage.select(UP, 0, 100_000),
      f.forQuery().storage.select(UP, 0, 140_000),
      f.forQuery().storage.select([eq('__name__', 'up'), eq('instance', 'a')], 0, 100_000),
      f.forQuery().storage.select([eq('instance', 'a'), eq('__name__', 'up')], 0, 90_000),
      f.forQuery().storage.select(UP, 0, 100_000, { startMs: 0, endMs: 100_000, func: 'series' }),
      f.forQuery().storage.select(UP, 10_000, 90_000, { startMs: 10_000, endMs: 90_000, func: 'rate', rangeMs: 60_000 }),
    ];
    await tick();
    r.release();
    await Promise.all(calls);
    expect(r.reads).toEqual([
      [0, 100_000],
      [0, 140_000],
      [0, 100_000],
      [0, 100_000],
    ]);
    expect(f.sharedReads.joined).toBe(2);
  });

  it('a finished read is not reused', async () => {
    const r = gated(data());
    r.release();
    const f = new FanoutStorage([group('g', [r])], { maxConcurrency: 4 });
    await f.forQuery().storage.select(UP, 0, 140_000);
    await f.forQuery().storage.select(UP, 0, 100_000);
    expect(r.reads).toHaveLength(2);
    expect(f.sharedReads.joined).toBe(0);
  });

  it('warnings the downstream carried reach every query that used the read', async () => {
    const r = gated(data(), 'server group "lower" left out');
    const f = new FanoutStorage([group('g', [r])], { maxConcurrency: 4 });
    const a = f.forQuery();
    const b = f.forQuery();
    const pa = a.storage.select(UP, 0, 140_000);
    await tick();
    const pb = b.storage.select(UP, 0, 100_000);
    await tick();
    r.release();
    await Promise.all([pa, pb]);
    expect(r.reads).toHaveLength(1);
    expect(a.warnings).toEqual(['server group "g": target "g-r0": server group "lower" left out']);
    expect(b.warnings).toEqual(a.warnings);
  });

  it('a query that goes away does not fail the other; the request stops when nobody waits any more', async () => {
    const r = gated(data());
    const f = new FanoutStorage([group('g', [r])], { maxConcurrency: 4 });
    const first = new AbortController();
    const second = new AbortController();
    const pa = f.forQuery().storage.select(UP, 0, 140_000, undefined, first.signal);
    await tick();
    const pb = f.forQuery().storage.select(UP, 0, 100_000, undefined, second.signal);
    await tick();
    first.abort(new Error('client went away'));
    await expect(pa).rejects.toThrow('client went away');
    expect(r.signals[0].aborted).toBe(false);
    second.abort(new Error('deadline'));
    await expect(pb).rejects.toThrow('deadline');
    expect(r.signals[0].aborted).toBe(true);
    // The stopped read is forgotten: the next query reads afresh.
    r.release();
    expect(await f.forQuery().storage.select(UP, 0, 100_000)).toHaveLength(2);
    expect(r.reads).toHaveLength(2);
  });

  it('one query leaving while another still waits: the other gets the answer', async () => {
    const r = gated(data());
    const f = new FanoutStorage([group('g', [r])], { maxConcurrency: 4 });
    const leaving = new AbortController();
    const pa = f.forQuery().storage.select(UP, 0, 140_000, undefined, leaving.signal);
    await tick();
    const pb = f.forQuery().storage.select(UP, 0, 140_000);
    await tick();
    leaving.abort(new Error('client went away'));
    await expect(pa).rejects.toThrow('client went away');
    r.release();
    expect(await pb).toEqual(await alone([data()], 0, 140_000));
  });

  it('queries joined to the same reads over the same range merge the replicas once; each gets its own list, equal to its own read', async () => {
    const r0 = gated(data([2, 3]));
    const r1 = gated(data([6]));
    const f = new FanoutStorage([group('g', [r0, r1])], { maxConcurrency: 16 });
    const before = mergeReuseCount();
    const pa = f.forQuery().storage.select(UP, 0, 140_000);
    await tick();
    const pb = f.forQuery().storage.select(UP, 0, 140_000);
    const pc = f.forQuery().storage.select(UP, 15_000, 140_000);
    await tick();
    r0.release();
    r1.release();
    const [a, b, c] = await Promise.all([pa, pb, pc]);
    expect(r0.reads).toHaveLength(1);
    // b merged nothing (a's merge of the same reads); c's range is cut from the reads, merged for itself.
    expect(mergeReuseCount() - before).toBe(1);
    const want = await alone([data([2, 3]), data([6])], 0, 140_000);
    expect(a).toEqual(want);
    expect(b).toEqual(want);
    expect(b).not.toBe(a);
    b.pop();
    expect(a).toEqual(want);
    expect(c).toEqual(await alone([data([2, 3]), data([6])], 15_000, 140_000));
    // A read after these finished is a read of its own, merged afresh.
    expect(await f.forQuery().storage.select(UP, 0, 140_000)).toEqual(want);
    expect(r0.reads).toHaveLength(2);
    expect(mergeReuseCount() - before).toBe(1);
  });
});
