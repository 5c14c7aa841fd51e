import { describe, expect, it } from 'vitest';
import { Engine, type QueryOutput } from '../../../../src/promql/engine.js';
import { MemoryStorage } from '../../../../src/storage/memory.js';
import { MemoryBackend, type CacheBackend } from '../../../../src/query/results-cache/backend.js';
import { ResultsCache } from '../../../../src/query/results-cache/results-cache.js';
import {
  decodeExtents,
  encodeExtents,
  extentBytes,
  gridOf,
  joinExtents,
  missingRanges,
  sliceBytes,
  sliceExtent,
  storeExtent,
  type Extent,
} from '../../../../src/query/results-cache/extents.js';

const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 1);

/** Counters, gauges and a histogram at 15 s with gaps and a reset, 3 h long. */
function storage(): MemoryStorage {
  const s = new MemoryStorage();
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 6; i++) {
    let c = 0;
    for (let t = T0; t <= T0 + 180 * MIN; t += 15_000) {
      if (i === 2 && t > T0 + 40 * MIN && t < T0 + 55 * MIN) continue; // a gap
      c = i === 3 && t === T0 + 90 * MIN ? 0 : c + rnd() * 10; // a reset
      s.add({ __name__: 'req_total', job: `j${i % 2}`, instance: `i${i}` }, t, c);
      s.add({ __name__: 'temp', job: `j${i % 2}`, instance: `i${i}` }, t, 20 + rnd() * 5);
      for (const le of ['0.1', '1', '+Inf']) s.add({ __name__: 'lat_bucket', le, instance: `i${i}` }, t, c * (le === '0.1' ? 0.2 : le === '1' ? 0.7 : 1));
    }
  }
  return s;
}

const QUERIES = [
  'sum by (job) (rate(req_total[5m]))',
  'histogram_quantile(0.9, sum by (le) (rate(lat_bucket[5m])))',
  'max_over_time(temp[10m])',
  'temp offset 5m',
  'count_values("v", round(temp))',
  'topk(2, temp)',
  'time() - timestamp(temp)',
  'absent(nope)',
  'sum_over_time(temp[10m:1m] @ 1704077400)',
  'sum_over_time(temp[10m:1m] @ 1704070800)',
];

function sameOutput(a: QueryOutput, b: QueryOutput): void {
  expect(b.result).toEqual(a.result);
  expect(b.warnings).toEqual(a.warnings);
}

describe('missingRanges and storeExtent', () => {
  const g = gridOf(0, 10);
  it('finds the holes between cached extents on the grid', () => {
    expect(missingRanges(g, 0, 100, [])).toEqual([[0, 100]]);
    expect(missingRanges(g, 0, 100, [{ start: 0, end: 40 }])).toEqual([[50, 100]]);
    expect(
      missingRanges(g, 0, 100, [
        { start: 20, end: 40 },
        { start: 70, end: 100 },
      ]),
    ).toEqual([
      [0, 10],
      [50, 60],
    ]);
    expect(missingRanges(g, 0, 100, [{ start: 0, end: 100 }])).toEqual([]);
  });
  it('joins touching and overlapping extents into one', () => {
    const e = (start: number, end: number): Extent => ({
      start,
      end,
      infos: [],
      series: [
        {
          labels: [{ name: 'a', value: '1' }],
          timestamps: Array.from({ length: (end - start) / 10 + 1 }, (_, i) => start + i * 10),
          values: Array.from({ length: (end - start) / 10 + 1 }, (_, i) => start + i * 10),
        },
      ],
    });
    const out = storeExtent(g, [e(0, 30), e(60, 80)], e(40, 50));
    expect(out).toHaveLength(1);
    expect(out[0].series[0].timestamps).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80]);
    expect(storeExtent(g, [e(0, 30)], e(20, 50))[0].series[0].timestamps).toEqual([0, 10, 20, 30, 40, 50]);
  });
  it('sizes a slice exactly as extentBytes sizes the slice made', () => {
    const e: Extent = {
      start: 0,
      end: 100,
      infos: ['an info'],
      series: [
        { labels: [{ name: 'a', value: '1' }], timestamps: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], values: Array(11).fill(1) },
        { labels: [{ name: 'a', value: '22' }], timestamps: [30, 40, 90], values: [1, 2, 3] },
      ],
    };
    for (const [from, to] of [
      [0, 100],
      [0, 0],
      [30, 40],
      [50, 80],
      [95, 100],
      [110, 200],
    ]) {
      expect(sliceBytes(e, from, to), `${from}..${to}`).toBe(extentBytes([sliceExtent(e, from, to)]));
    }
  });
  it('joins a series found in several pieces into new arrays, leaving the pieces as they were', () => {
    const shared = [0, 10];
    const a: Extent = { start: 0, end: 10, infos: [], series: [{ labels: [{ name: 'a', value: '1' }], timestamps: shared, values: [1, 2] }] };
    const b: Extent = {
      start: 20,
      end: 30,
      infos: [],
      series: [
        { labels: [{ name: 'a', value: '1' }], timestamps: [20, 30], values: [3, 4] },
        { labels: [{ name: 'a', value: '0' }], timestamps: [30], values: [5] },
      ],
    };
    const out = joinExtents([a, b]);
    expect(out).toEqual([
      { labels: [{ name: 'a', value: '0' }], timestamps: [30], values: [5] },
      { labels: [{ name: 'a', value: '1' }], timestamps: [0, 10, 20, 30], values: [1, 2, 3, 4] },
    ]);
    expect(shared).toEqual([0, 10]);
    expect(a.series[0].values).toEqual([1, 2]);
  });
  it('round-trips NaN and infinities through the Redis encoding', () => {
    const x: Extent[] = [
      { start: 0, end: 20, infos: ['i'], series: [{ labels: [{ name: 'a', value: 'b' }], timestamps: [0, 10, 20], values: [NaN, Infinity, -Infinity] }] },
    ];
    expect(decodeExtents(encodeExtents(x))).toEqual(x);
    expect(() => decodeExtents('{"x":1}')).toThrow();
  });
});

describe('ResultsCache', () => {
  const engine = new Engine();
  const data = storage();
  const evalFn = (q: string, step: number) => (from: number, to: number) => engine.execRange(engine.prepare(q), data, from, to, step);

  it('answers every query exactly as the engine does, cold, warm, and with the window moving (a dashboard refreshing)', async () => {
    for (const q of QUERIES) {
      let now = T0 + 100 * MIN;
      const cache = new ResultsCache({
        backend: new MemoryBackend(64 << 20, 3600_000),
        freshnessMs: 10 * MIN,
        splitMs: 30 * MIN,
        generation: 'g',
        now: () => now,
      });
      const step = 30_000;
      const signal = new AbortController().signal;
      const outcomes: string[] = [];
      for (let refresh = 0; refresh < 6; refresh++) {
        const end = now;
        const start = end - 60 * MIN;
        const direct = await evalFn(q, step)(start, end);
        const got = await cache.range(engine.prepare(q), start, end, step, signal, evalFn(q, step));
        sameOutput(direct, got.out);
        outcomes.push(got.outcome);
        now += 30_000 * (refresh + 1);
      }
      if (q.includes('@ 1704077400')) expect(outcomes, q).toEqual(Array(6).fill('uncacheable'));
      else {
        expect(outcomes[0], q).toBe('miss');
        expect(outcomes.slice(1), q).toEqual(Array(5).fill('partial'));
      }
    }
  });

  it('serves a repeated old range from the cache alone and evaluates only the missing steps', async () => {
    const q = 'sum by (job) (rate(req_total[5m]))';
    const step = 15_000;
    const cache = new ResultsCache({
      backend: new MemoryBackend(64 << 20, 3600_000),
      freshnessMs: 10 * MIN,
      splitMs: 20 * MIN,
      generation: 'g',
      now: () => T0 + 1000 * MIN,
    });
    const signal = new AbortController().signal;
    const calls: [number, number][] = [];
    const counted = (from: number, to: number) => {
      calls.push([from, to]);
      return evalFn(q, step)(from, to);
    };
    // Two disjoint ranges first, then one spanning both: only the hole between them is evaluated.
    await cache.range(engine.prepare(q), T0 + 10 * MIN, T0 + 40 * MIN, step, signal, counted);
    await cache.range(engine.prepare(q), T0 + 70 * MIN, T0 + 100 * MIN, step, signal, counted);
    calls.length = 0;
    const got = await cache.range(engine.prepare(q), T0 + 10 * MIN, T0 + 100 * MIN, step, signal, counted);
    expect(calls).toEqual([[T0 + 40 * MIN + step, T0 + 70 * MIN - step]]);
    sameOutput(await evalFn(q, step)(T0 + 10 * MIN, T0 + 100 * MIN), got.out);
    calls.length = 0;
    expect((await cache.range(engine.prepare(q), T0 + 20 * MIN, T0 + 90 * MIN, step, signal, counted)).outcome).toBe('hit');
    expect(calls).toEqual([]);
    // Another grid (start not on the first one's step) is another entry.
    expect((await cache.range(engine.prepare(q), T0 + 20 * MIN + 1000, T0 + 90 * MIN, step, signal, counted)).outcome).toBe('miss');
  });

  it('never stores a piece with warnings, nor evaluation times inside the freshness window', async () => {
    const step = 60_000;
    const now = T0 + 100 * MIN;
    const backend = new MemoryBackend(64 << 20, 3600_000);
    const cache = new ResultsCache({ backend, freshnessMs: 10 * MIN, splitMs: 1000 * MIN, generation: 'g', now: () => now });
    const signal = new AbortController().signal;
    const warned = async (from: number, to: number): Promise<QueryOutput> => ({ ...(await evalFn('temp', step)(from, to)), warnings: ['group b left out'] });
    const first = await cache.range(engine.prepare('temp'), T0, now, step, signal, warned);
    expect(first.out.warnings).toEqual(['group b left out']);
    expect(backend.usage().entries).toBe(0);
    await cache.range(engine.prepare('temp'), T0, now, step, signal, evalFn('temp', step));
    const calls: [number, number][] = [];
    await cache.range(engine.prepare('temp'), T0, now, step, signal, (from, to) => {
      calls.push([from, to]);
      return evalFn('temp', step)(from, to);
    });
    expect(calls).toEqual([[now - 10 * MIN + step, now]]);
  });

  it('does not store an entry larger than maxItemBytes, counts it, and still answers exactly', async () => {
    const step = 60_000;
    const now = T0 + 100 * MIN;
    const q = 'temp';
    const run = async (maxItemBytes: number) => {
      const backend = new MemoryBackend(64 << 20, 3600_000);
      const cache = new ResultsCache({ backend, freshnessMs: 10 * MIN, splitMs: 1000 * MIN, maxItemBytes, generation: 'g', now: () => now });
      const got = await cache.range(engine.prepare(q), T0, now, step, new AbortController().signal, evalFn(q, step));
      sameOutput(await evalFn(q, step)(T0, now), got.out);
      return { entries: backend.usage().entries, tooLarge: cache.counts.tooLarge };
    };
    // The same answer stored under a generous bound, refused under one below its size.
    expect(await run(64 << 20)).toEqual({ entries: 1, tooLarge: 0 });
    expect(await run(100)).toEqual({ entries: 0, tooLarge: 1 });
  });

  it('answers a miss too large to store as the engine made it: no copy, counted, a miss', async () => {
    const step = 60_000;
    const now = T0 + 1000 * MIN;
    const backend = new MemoryBackend(64 << 20, 3600_000);
    const cache = new ResultsCache({ backend, freshnessMs: 10 * MIN, splitMs: 60 * MIN, maxItemBytes: 2000, generation: 'g', now: () => now });
    let evaluated: QueryOutput | undefined;
    const got = await cache.range(engine.prepare('temp'), T0, T0 + 150 * MIN, step, new AbortController().signal, async (from, to) => {
      evaluated = await evalFn('temp', step)(from, to);
      return evaluated;
    });
    sameOutput(await evalFn('temp', step)(T0, T0 + 150 * MIN), got.out);
    expect(got.outcome).toBe('miss');
    // The very series objects and points arrays the engine returned: nothing sliced or joined.
    const mine = evaluated!.result.resultType === 'matrix' ? evaluated!.result.result : [];
    const theirs = got.out.result.resultType === 'matrix' ? got.out.result.result : [];
    expect(theirs.length).toBe(6);
    theirs.forEach((s, i) => expect(s).toBe(mine[i]));
    // Three one-hour buckets, each too large; none stored.
    expect(cache.counts.tooLarge).toBe(3);
    expect(backend.usage().entries).toBe(0);
    expect(cache.counts.miss).toBe(1);
  });

  it('a partial hit whose new piece would make the entry too large joins the answer and keeps the old entry', async () => {
    const step = 60_000;
    const now = T0 + 1000 * MIN;
    const q = 'sum by (job) (rate(req_total[5m]))';
    const backend = new MemoryBackend(64 << 20, 3600_000);
    // Room for one job-pair of 41 points (~1.8 KB), not for 81.
    const cache = new ResultsCache({ backend, freshnessMs: 10 * MIN, splitMs: 1000 * MIN, maxItemBytes: 2000, generation: 'g', now: () => now });
    const signal = new AbortController().signal;
    expect((await cache.range(engine.prepare(q), T0, T0 + 40 * MIN, step, signal, evalFn(q, step))).outcome).toBe('miss');
    expect(cache.counts.tooLarge).toBe(0);
    const calls: [number, number][] = [];
    const got = await cache.range(engine.prepare(q), T0, T0 + 80 * MIN, step, signal, (from, to) => {
      calls.push([from, to]);
      return evalFn(q, step)(from, to);
    });
    expect(got.outcome).toBe('partial');
    expect(calls).toEqual([[T0 + 41 * MIN, T0 + 80 * MIN]]);
    sameOutput(await evalFn(q, step)(T0, T0 + 80 * MIN), got.out);
    expect(cache.counts.tooLarge).toBe(1);
    // The entry stored first is still there, unchanged.
    const again = await cache.range(engine.prepare(q), T0, T0 + 40 * MIN, step, signal, evalFn(q, step));
    expect(again.outcome).toBe('hit');
    sameOutput(await evalFn(q, step)(T0, T0 + 40 * MIN), again.out);
  });

  it('runs identical concurrent queries once, and a follower whose leader gave up evaluates for itself', async () => {
    const cache = new ResultsCache({
      backend: new MemoryBackend(64 << 20, 3600_000),
      freshnessMs: 10 * MIN,
      splitMs: 1000 * MIN,
      generation: 'g',
      now: () => T0,
    });
    let runs = 0;
    const slow = async (from: number, to: number) => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
      return evalFn('temp', 60_000)(from, to);
    };
    const ok = new AbortController().signal;
    const [a, b] = await Promise.all([
      cache.range(engine.prepare('temp'), T0 - 60 * MIN, T0, 60_000, ok, slow),
      cache.range(engine.prepare('temp'), T0 - 60 * MIN, T0, 60_000, ok, slow),
    ]);
    expect(runs).toBe(1);
    expect(cache.counts.coalesced).toBe(1);
    expect(b.out).toEqual(a.out);
    const leader = new AbortController();
    const failing = async () => {
      await new Promise((r) => setTimeout(r, 10));
      leader.abort();
      throw new Error('query was canceled');
    };
    runs = 0;
    const [x, y] = await Promise.allSettled([
      cache.range(engine.prepare('temp'), T0 - 30 * MIN, T0, 60_000, leader.signal, failing),
      cache.range(engine.prepare('temp'), T0 - 30 * MIN, T0, 60_000, ok, slow),
    ]);
    expect(x.status).toBe('rejected');
    expect(y.status).toBe('fulfilled');
    expect(runs).toBe(1);
  });

  it('a backend that fails makes answers evaluated, not errors', async () => {
    const broken: CacheBackend = {
      kind: 'broken',
      errors: { get: 0, set: 0 },
      get() {
        this.errors.get++;
        return Promise.resolve(undefined);
      },
      set() {
        this.errors.set++;
        return Promise.resolve();
      },
      usage: () => undefined,
      close: () => Promise.resolve(),
    };
    const cache = new ResultsCache({ backend: broken, freshnessMs: 0, splitMs: 60 * MIN, generation: 'g', now: () => T0 + 1000 * MIN });
    const got = await cache.range(engine.prepare('temp'), T0, T0 + 100 * MIN, 60_000, new AbortController().signal, evalFn('temp', 60_000));
    sameOutput(await evalFn('temp', 60_000)(T0, T0 + 100 * MIN), got.out);
    expect(broken.errors.get).toBeGreaterThan(0);
  });
});
